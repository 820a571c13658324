"""PySide6 6.12.0 on CPython < 3.12 drops a reference to None on every void
call and to True on every emit, and the process aborts after some thousands
(none_dealloc / bool_dealloc). pyproject excludes it; this guards the pin."""

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    sig = Signal()


def test_installed_pyside_keeps_singleton_refcounts(qapp):
    p = _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(200):
        p.sig.emit()
        p.setObjectName("probe")
        p.signalsBlocked()
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    # a healthy binding may wobble by a few (caches); the bug loses 200
    assert all(b - a < 50 for b, a in zip(before, after, strict=True)), (before, after)
