"""Declared options over QSettings: each one named once, typed on read."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from opsconsole.ui import theme


class Settings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("opsconsole", "opsconsole")

    def _str(self, key: str, default: str = "") -> str:
        v = self.q.value(key, default)
        return str(v) if v is not None else default

    # -- window ---------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.q.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        v = self.q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self.q.setValue("window/state", value)

    # -- site -------------------------------------------------------------------
    @property
    def last_site(self) -> Path | None:
        v = self._str("site/last")
        return Path(v) if v else None

    @last_site.setter
    def last_site(self, path: Path | None) -> None:
        self.q.setValue("site/last", str(path) if path else "")

    # -- look -------------------------------------------------------------------
    @property
    def theme(self) -> str:
        v = self._str("ui/theme", "dark")
        return v if v in theme.THEMES else "dark"

    @theme.setter
    def theme(self, name: str) -> None:
        self.q.setValue("ui/theme", name)

    def columns(self, default: list[str]) -> list[str]:
        """The devices table's visible columns, in order."""
        v = self.q.value("table/columns")
        if isinstance(v, str):
            v = [v] if v else []
        return [str(c) for c in v] if isinstance(v, list) and v else list(default)

    def set_columns(self, cols: list[str]) -> None:
        self.q.setValue("table/columns", list(cols))

    @property
    def rack_metric(self) -> str:
        return self._str("rackmap/metric", "temp")

    @rack_metric.setter
    def rack_metric(self, name: str) -> None:
        self.q.setValue("rackmap/metric", name)

    @property
    def chart_window_s(self) -> int:
        try:
            return int(self.q.value("charts/window_s", 300))
        except (TypeError, ValueError):
            return 300

    @chart_window_s.setter
    def chart_window_s(self, s: int) -> None:
        self.q.setValue("charts/window_s", int(s))

    def sync(self) -> None:
        self.q.sync()
