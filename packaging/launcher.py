"""Entry point of the frozen (PyInstaller) bundle: the `opsconsole` command.

One extra: `opsconsole -m opsconsole.<module> ARGS` runs that module as
`python -m` would. In a bundle `sys.executable` is this program, and the
simulated site's duty steps start helpers as `[sys.executable, "-m",
"opsconsole.sim.inference", ...]`; only opsconsole's own modules are allowed.
"""

import sys


def _run_module(name: str, args: list[str]) -> int:
    import runpy

    sys.argv = [sys.argv[0], *args]
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "-m" and argv[1].split(".")[0] == "opsconsole":
        sys.exit(_run_module(argv[1], argv[2:]))
    from opsconsole.cli.main import main

    sys.exit(main())
