"""The session opens history and the alarm log each on its own: a corrupt
alarm log is a storage fault naming the file, and history still runs (and the
other way round). Real files, real SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opsconsole.ui.session import SiteSession
from tests.ui.fakes import make_batch, make_site

JUNK = b"not an SQLite database at all\n" * 200


@pytest.mark.parametrize("broken, area, working", [
    ("alarms.sqlite", "alarm log", "history"),
    ("history.sqlite", "history", "alarm_log"),
])
def test_one_corrupt_file_keeps_the_other_on(qtbot, tmp_path: Path, broken: str, area: str,
                                             working: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / broken).write_bytes(JUNK)
    s = SiteSession(make_site(rows=1, miners_per_row=4, gpus=0))
    try:
        s.attach_storage(data)  # never raises
        [fault] = s.storage_faults.current()
        assert fault.area == area and fault.path == data / broken
        assert "corrupt" in fault.problem and area in fault.text
        assert getattr(s, working) is not None
        if working == "history":
            s.ingest(make_batch(s.site, time.time()))
            qtbot.waitUntil(lambda: s.history.stats.queued > 0, timeout=5000)
            assert s.history.flush() and s.history.stats.rows > 0
    finally:
        s.stop()
