"""Runs a duty `command` step's argv on a leash: on Linux the kernel kills it
(PR_SET_PDEATHSIG, SIGKILL) when the process that started it dies, so a
`kill -9` of the service or of `duty set` never leaves the step's command
running on its own. The switch is then `interrupted`, and resume runs the
step again from a clean state.

`python -m opsconsole.core.leash PARENT_PID ARGV...` (in the frozen bundle:
`opsconsole __leash__ PARENT_PID ARGV...`): set the leash,
make sure the parent is still there, then exec ARGV (no shell). Exit 127 with
one line "cannot start X: why" when ARGV cannot be executed. The leash binds
only the command itself; what it starts in turn is on its own, as with any
process supervisor that is killed without warning.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CANNOT_START = 127
LEASH_ARG = "__leash__"  # cli/main.py hands this argv to main() below
_PR_SET_PDEATHSIG = 1


def argv_on_leash(argv: list[str]) -> list[str]:
    """The argv that runs `argv` on a leash to this process (Linux only;
    elsewhere `argv` unchanged)."""
    if not sys.platform.startswith("linux"):
        return argv
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: its own entry point
        return [sys.executable, LEASH_ARG, str(os.getpid()), *argv]
    return [sys.executable, "-m", "opsconsole.core.leash", str(os.getpid()), *argv]


def main(args: list[str]) -> int:
    parent, argv = int(args[0]), args[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        print(f"cannot start {argv[0]}: prctl failed "
              f"({os.strerror(ctypes.get_errno())})", file=sys.stderr)
        return CANNOT_START
    if os.getppid() != parent:  # the parent died before the leash held
        return CANNOT_START
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
    return CANNOT_START


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
