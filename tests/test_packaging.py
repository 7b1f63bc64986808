"""The wheel carries what SOAR needs at run time: plugins, entry points, migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("soar_ext-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_has_plugins_migrations_and_entry_points(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for required in (
        "soar_ext/hookspecs.py",
        "soar_ext/hooks/deposit_waiver.py",
        "soar_ext/hooks/exchange_inspection.py",
        "soar_ext/hooks/allocation.py",
        "soar_ext/allocation/links.py",
        "soar_ext/migrations/env.py",
        "soar_ext/migrations/script.py.mako",
        "soar_ext/migrations/versions/0001_sx_base.py",
        "soar_ext/migrations/versions/0006_sx_allocation.py",
        "soar_ext/py.typed",
        "soar_ext/console/templates/base.html",
        "soar_ext/console/templates/_blocks.html",
        "soar_ext/console/static/console.css",
        "soar_ext/console/static/console.js",
    ):
        assert required in names, required
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[soar]" in text and "deposit_waiver = soar_ext.hooks.deposit_waiver" in text
    assert "soar-ext = soar_ext.cli:main" in text
    assert not any(n.startswith(("tests/", "hooks/", "adapters/")) for n in names)


def test_every_plugin_module_is_an_entry_point() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["soar"]
    modules = {p.stem for p in (ROOT / "soar_ext" / "hooks").glob("*.py") if p.stem != "__init__"}
    assert set(declared) == modules
    assert all(value == f"soar_ext.hooks.{name}" for name, value in declared.items())
