"""qtbot waits in these tests are hang guards (tests/ui/conftest.py): a
condition that takes longer than a test's stated timeout still passes."""

import time

from tests.ui.conftest import HANG_GUARD_MS


def test_a_short_timeout_is_a_hang_guard(qtbot) -> None:
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: time.monotonic() > t0 + 0.3, timeout=10)  # 10 ms stated
    assert time.monotonic() - t0 >= 0.3  # it waited past the stated 10 ms
    assert HANG_GUARD_MS >= 30_000
