"""The simulators are independent witnesses: nothing under adapters/simulators/ uses the clients' code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import soar_ext.adapters.simulators as simulators_package

SIMULATORS_DIR = Path(simulators_package.__file__).parent
SIMULATORS = "soar_ext.adapters.simulators"


def _is_dynamic_import(node: ast.Call) -> bool:
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    first = node.args[0] if node.args else None
    return name in ("import_module", "__import__") and isinstance(first, ast.Constant) and isinstance(first.value, str)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, relative imports resolved (``(line, dotted name)``)."""
    package = SIMULATORS
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names if name == "soar_ext.adapters"]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            found.append((node.lineno, node.args[0].value))  # type: ignore[attr-defined]
    return found


def _is_client_module(name: str) -> bool:
    return name.startswith("soar_ext.adapters.") and not (name == SIMULATORS or name.startswith(SIMULATORS + "."))


def test_no_simulator_module_imports_a_client_module():
    files = sorted(SIMULATORS_DIR.glob("*.py"))
    assert {f.stem for f in files} >= {"bigdata", "qianjiang", "survey", "docrepo", "common", "config", "serve_all"}
    offences = [
        f"{path.name}:{line} imports {name}"
        for path in files
        for line, name in _imported_modules(path)
        if _is_client_module(name)
    ]
    assert offences == []


def test_importing_every_simulator_loads_no_client_module():
    code = (
        "import sys\n"
        "from soar_ext.adapters.simulators import bigdata, qianjiang, survey, docrepo, serve_all, config\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('soar_ext.adapters'))))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert f"{SIMULATORS}.bigdata" in loaded
    assert [name for name in loaded if _is_client_module(name)] == []


def test_the_check_itself_catches_a_client_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from soar_ext.adapters.bigdata.gen1 import sign\n"
        "from ..common import AdapterError\n"
        "from soar_ext.adapters import qianjiang\n"
        "import importlib\nimportlib.import_module('soar_ext.adapters.survey')\n"
        "from .common import SimulatorServer\n",
        encoding="utf-8",
    )
    flagged = [name for _, name in _imported_modules(sample) if _is_client_module(name)]
    assert flagged == [
        "soar_ext.adapters.bigdata.gen1",
        "soar_ext.adapters.common",
        "soar_ext.adapters.qianjiang",
        "soar_ext.adapters.survey",
    ]
