"""The wall's one style sheet: font sizes in pixels from the WallScale (so
they follow the screen, not the desktop's DPI settings), colours from the
theme. Object names are the roles the widgets set."""

from __future__ import annotations

from opsconsole.ui.theme import Theme
from opsconsole.ui.wall.scale import WallScale


def style_sheet(theme: Theme, s: WallScale) -> str:
    radius = s.px(0.3)
    return f"""
        WallWindow, QStackedWidget {{ background: {theme.window}; }}
        QLabel {{ color: {theme.text}; font-size: {s.body}px; }}
        QLabel#wallBody {{ font-size: {s.body}px; }}
        QLabel#wallDetail {{ color: {theme.muted}; font-size: {s.body}px; }}
        QLabel#wallCaption {{ color: {theme.muted}; font-size: {s.caption}px;
                              font-weight: 600; letter-spacing: 1px; }}
        QLabel#wallValue {{ font-size: {s.value}px; font-weight: 700; }}
        QLabel#wallHero {{ font-size: {s.hero}px; font-weight: 700; }}
        QLabel#wallTileValue {{ font-size: {s.px(2.4)}px; font-weight: 700; }}
        QLabel#wallTileValueSmall {{ font-size: {s.px(1.6)}px; font-weight: 700; }}
        QLabel#wallTileTitle {{ font-size: {s.px(1.6)}px; font-weight: 700; }}
        QLabel#wallRowStrong {{ font-size: {s.body}px; font-weight: 700; }}
        QLabel#wallPill {{ font-size: {s.px(1.1)}px; font-weight: 800;
                           border-radius: {radius}px; padding: {s.px(0.15)}px {s.px(0.6)}px; }}
        QLabel#wallAlarm {{ font-size: {s.px(1.5)}px; }}
        QLabel#wallAlarmStrong {{ font-size: {s.px(1.5)}px; font-weight: 700; }}
        QLabel#wallAlarmKind {{ font-size: {s.px(1.5)}px; font-weight: 800; }}
        QLabel#wallAlarmMuted {{ color: {theme.muted}; font-size: {s.px(1.5)}px; }}
        QLabel#wallPillText {{ font-size: {s.body}px; font-weight: 800; }}
        QLabel#wallTitle {{ font-size: {s.px(1.5)}px; font-weight: 700; }}
        QLabel#wallClock {{ font-size: {s.clock}px; font-weight: 700; }}
        QLabel#wallPage {{ color: {theme.muted}; font-size: {s.body}px;
                           padding: {s.px(0.1)}px {s.px(0.5)}px; border-radius: {radius}px; }}
        QLabel#wallPageOn {{ color: #ffffff; background: {theme.accent}; font-size: {s.body}px;
                             font-weight: 700; padding: {s.px(0.1)}px {s.px(0.5)}px;
                             border-radius: {radius}px; }}
        QWidget#wallProblemPage {{ background: {theme.window}; }}
        QLabel#wallProblemTitle {{ color: {theme.bad}; font-size: {s.hero}px; font-weight: 800; }}
        QLabel#wallProblemLines {{ color: {theme.text}; font-size: {s.px(1.4)}px; }}
        QLabel#wallFault {{ color: #ffffff; background: {theme.bad}; font-size: {s.px(1.4)}px;
                            font-weight: 700; padding: {s.px(0.4)}px {s.px(1.0)}px; }}
        QLabel#wallWarn {{ color: #111111; background: {theme.warn}; font-size: {s.px(1.1)}px;
                           font-weight: 700; padding: {s.px(0.3)}px {s.px(1.0)}px; }}
        QLabel#wallBanner {{ color: #ffffff; background: {theme.bad}; font-size: {s.px(1.8)}px;
                             font-weight: 800; padding: {s.px(0.5)}px {s.px(1.0)}px; }}
        QFrame#wallHeader {{ background: {theme.base}; border-bottom: {max(1, s.px(0.1))}px
                             solid {theme.border}; }}
        QFrame#wallTile[alert="true"] {{ background: {theme.base}; border: {max(2, s.px(0.2))}px
                                          solid {theme.bad}; border-radius: {radius}px; }}
        QLabel#wallFlag {{ color: {theme.bad}; font-size: {s.px(1.3)}px; font-weight: 800; }}
        QFrame#wallTile {{ background: {theme.base}; border: {max(1, s.px(0.08))}px solid
                           {theme.border}; border-radius: {radius}px; }}
    """
