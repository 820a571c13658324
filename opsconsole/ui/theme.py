"""Dark (default) and light themes: one palette, one small style sheet, and
the semantic colours (status, duty, heat scale) every view shares."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("dark", "light")
# A group's duty before the journal answered, or when it cannot be read: never
# the site file's starting duty, which may be long out of date.
UNKNOWN_DUTY = "unknown"


def duty_label(duty: str) -> str:
    """A duty badge's text (tiles and the wall say the same)."""
    return "DUTY ?" if duty == UNKNOWN_DUTY else duty.upper()


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    window: str
    base: str  # table / panel background
    alt_base: str
    text: str
    muted: str  # secondary text
    border: str
    accent: str
    ok: str
    warn: str
    bad: str
    stale: str  # unreachable / no data
    pending: str
    plot_bg: str
    plot_fg: str
    curves: tuple[str, ...]

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))

    def status_color(self, status: str) -> QColor:
        return QColor({"ok": self.ok, "partial": self.warn, "unreachable": self.stale,
                       "error": self.bad}.get(status, self.pending))

    def duty_color(self, duty: str) -> QColor:
        return QColor({"mining": "#d4a017", "inference": "#3f8cff", "idle": self.muted,
                       "switching": "#b05cff", "degraded": self.warn,
                       "interrupted": self.bad, UNKNOWN_DUTY: self.pending}.get(duty, self.muted))


DARK = Theme(
    name="dark", window="#1b1e23", base="#22262c", alt_base="#262b32", text="#e6e9ee",
    muted="#98a2b0", border="#3a414b", accent="#4aa3ff", ok="#3fbf6f", warn="#e8a33d",
    bad="#ef5350", stale="#7d6bb3", pending="#4b525c", plot_bg="#22262c", plot_fg="#b8c0cc",
    curves=("#4aa3ff", "#f4c542", "#ef5350", "#3fbf6f", "#c77dff"),
)
LIGHT = Theme(
    name="light", window="#f3f4f6", base="#ffffff", alt_base="#f7f8fa", text="#1d232b",
    muted="#5b6573", border="#c9ced6", accent="#1f6fd1", ok="#23924d", warn="#c7780f",
    bad="#d32f2f", stale="#7a5fc0", pending="#b7bdc6", plot_bg="#ffffff", plot_fg="#39424e",
    curves=("#1f6fd1", "#c28f00", "#d32f2f", "#23924d", "#8e44ad"),
)


def get(name: str) -> Theme:
    return LIGHT if name == "light" else DARK


def heat_color(frac: float) -> QColor:
    """Blue (cool / low) -> green -> yellow -> red (hot / high), frac in 0..1."""
    stops = ((0.0, (49, 130, 206)), (0.35, (63, 191, 111)), (0.7, (240, 200, 60)),
             (1.0, (226, 62, 62)))
    f = min(1.0, max(0.0, frac))
    for (f0, c0), (f1, c1) in pairwise(stops):
        if f <= f1:
            t = (f - f0) / (f1 - f0)
            return QColor(*(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)))
    return QColor(*stops[-1][1])


def apply(app: QApplication, theme: Theme) -> None:
    app.setStyle("Fusion")  # the same look on every platform, palette-driven
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window, QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base, QPalette.ColorRole.AlternateBase: theme.alt_base,
        QPalette.ColorRole.Text: theme.text, QPalette.ColorRole.Button: theme.alt_base,
        QPalette.ColorRole.ButtonText: theme.text, QPalette.ColorRole.Highlight: theme.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text, QPalette.ColorRole.PlaceholderText: theme.muted,
        QPalette.ColorRole.Link: theme.accent, QPalette.ColorRole.Mid: theme.border,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(theme.muted))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(theme.muted))
    app.setPalette(pal)
    app.setStyleSheet(f"""
        QFrame#panel {{ background: {theme.base}; border: 1px solid {theme.border};
                        border-radius: 4px; }}
        QLabel#muted {{ color: {theme.muted}; }}
        QLabel#statValue {{ font-size: 15pt; font-weight: 600; }}
        QLabel#statCaption {{ color: {theme.muted}; font-size: 8pt; }}
        QLabel#panelTitle {{ color: {theme.muted}; font-weight: 600; }}
        QToolTip {{ background: {theme.base}; color: {theme.text};
                    border: 1px solid {theme.border}; }}
        QTabWidget::pane {{ border: 1px solid {theme.border}; }}
        QHeaderView::section {{ background: {theme.alt_base}; color: {theme.muted};
                                border: 0; border-right: 1px solid {theme.border};
                                padding: 2px 4px; }}
        QTableView {{ gridline-color: {theme.border}; }}
    """)
