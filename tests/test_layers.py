"""The dependency rule: only opsconsole.ui may import Qt (napari's rule).

Every non-ui module is imported in a fresh interpreter where PySide6,
shiboken6 and pyqtgraph are made unimportable, so a stray import fails here.
"""

import pkgutil
import subprocess
import sys

import opsconsole

SCRIPT = r"""
import importlib, importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"):
            raise ImportError(f"Qt import outside the ui layer: {name}")
        return None

sys.meta_path.insert(0, Block())
for mod in sys.argv[1:]:
    importlib.import_module(mod)
print("imported", len(sys.argv) - 1)
"""


def non_ui_modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages(opsconsole.__path__, "opsconsole."):
        if info.name.startswith("opsconsole.ui") or info.name == "opsconsole.__main__":
            continue
        mods.append(info.name)
    return mods


def test_core_imports_no_qt():
    mods = non_ui_modules()
    assert "opsconsole.core.store" in mods and "opsconsole.collectors.poller" in mods
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *mods], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"imported {len(mods)}" in proc.stdout


def test_blocker_catches_a_qt_import():
    """The check can fail: importing the ui layer under the blocker must break."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT + "\nimport PySide6.QtCore\n"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Qt import outside the ui layer" in proc.stderr


def _imports(package: str) -> dict[str, set[str]]:
    """Every opsconsole module each file of `package` imports (any depth, lazy ones too)."""
    import ast
    from pathlib import Path

    root = Path(opsconsole.__path__[0]) / package
    out: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        out[str(path.relative_to(root))] = {n for n in names if n.startswith("opsconsole")}
    return out


def test_service_and_client_layers():
    """client imports core only; service sits above collectors and core, never cli or ui."""
    client = _imports("client")
    assert "api.py" in client and "runner.py" in client
    for mod, names in client.items():
        bad = {n for n in names if not n.startswith(("opsconsole.core", "opsconsole.client"))}
        assert not bad, f"client/{mod} imports {bad}"
    service = _imports("service")
    assert "engine.py" in service and "api.py" in service
    for mod, names in service.items():
        bad = {n for n in names if n.startswith(("opsconsole.cli", "opsconsole.ui",
                                                 "opsconsole.client", "opsconsole.sim"))}
        assert not bad, f"service/{mod} imports {bad}"
