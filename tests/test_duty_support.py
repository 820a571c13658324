"""Helpers for the duty tests (no tests here): site-file surgery, the CLI in
a subprocess, a controller on a fresh loop, a command that blocks until told."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from opsconsole.collectors.duty_actions import EXECUTORS
from opsconsole.collectors.poller import Poller
from opsconsole.core.duty import DutyController, Journal
from opsconsole.core.site import DutyStep, Site
from opsconsole.sim import simulated_nvml

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(v)  # strings and lists of strings are valid TOML


def set_duties(text: str, group: str, duties: dict[str, list[dict[str, Any]]]) -> str:
    """Replace every duty step of `group` in a generated site file."""
    out: list[str] = []
    current, skipping = None, False
    lines = text.splitlines()

    def emit_new() -> None:
        for duty, steps in duties.items():
            for st in steps:
                out.extend(["", f"[[groups.duties.{duty}]]"])
                out.extend(f"{k} = {toml_value(v)}" for k, v in st.items())
        out.append("")

    for line in lines:
        if line.startswith("["):
            if line == "[[groups]]":
                if current == group:
                    emit_new()
                current = None
            skipping = current == group and line.startswith("[[groups.duties.")
        if line.startswith("id = ") and out and out[-1] == "[[groups]]":
            current = json.loads(line[5:])
        if not skipping:
            out.append(line)
    if current == group:
        emit_new()
    return "\n".join(out) + "\n"


def write_site(src: Path, dst: Path, *, group: str | None = None,
               duties: dict[str, list[dict[str, Any]]] | None = None,
               replace: dict[str, str] | None = None) -> Path:
    text = src.read_text()
    if group is not None and duties is not None:
        text = set_duties(text, group, duties)
    for a, b in (replace or {}).items():
        assert a in text, a
        text = text.replace(a, b)
    dst.write_text(text)
    return dst


def with_steps(site: Site, group: str, duty: str, steps: list[DutyStep]) -> Site:
    groups = tuple(
        dataclasses.replace(g, duties={**g.duties, duty: tuple(steps)}) if g.id == group else g
        for g in site.groups)
    return dataclasses.replace(site, groups=groups)


def cli(*args: str | Path, timeout: float = 90, **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "opsconsole", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, **kw)


def popen_cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "opsconsole", *map(str, args)], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


async def with_controller(site: Site, data_dir: Path,
                          fn: Callable[[DutyController], Awaitable[T]],
                          read_only: bool = False) -> T:
    poller = Poller(site, lambda batch: None, simulated_nvml=simulated_nvml)
    ctl = DutyController(site, Journal.in_dir(data_dir), poller, executors=EXECUTORS,
                         read_only=read_only)
    try:
        return await fn(ctl)
    finally:
        await poller.close()
        ctl.journal.close()


GATE = ("import os, sys, time\n"
        "base = sys.argv[1]\n"
        "open(base + '.started', 'w').write(str(os.getpid()))\n"
        "t = time.monotonic()\n"
        "while not os.path.exists(base + '.go') and time.monotonic() - t < 60:\n"
        "    time.sleep(0.05)\n")


def gate_argv(base: Path) -> list[str]:
    """A command step that signals it started (base.started), then blocks
    until base.go exists (or 60 s pass)."""
    return [sys.executable, "-c", GATE, str(base)]
