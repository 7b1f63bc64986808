"""The wheel carries what SOAR needs at run time (plugins, entry points, migrations), and no web server."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: packages only the stand-ins need (the ``standin`` extra)
WEB_STACK = ("starlette", "uvicorn", "jinja2", "multipart")

_PROBE = """
import importlib, importlib.metadata as md, importlib.util, json, pkgutil
import soar_ext
skipped = ("soar_ext.adapters.simulators", "soar_ext.console", "soar_ext.migrations")
imported = []
for info in pkgutil.walk_packages(soar_ext.__path__, "soar_ext."):
    if not info.name.startswith(skipped):
        importlib.import_module(info.name)
        imported.append(info.name)
plugins = {ep.name: ep.load().__name__ for ep in md.entry_points(group="soar")}
try:
    importlib.import_module("soar_ext.adapters.simulators")
    standin = "imported"
except ImportError as exc:
    standin = f"{type(exc).__name__}: {exc}"
web = {name: importlib.util.find_spec(name) is not None for name in %r}
print(json.dumps({"imported": imported, "plugins": plugins, "standin": standin, "web": web}))
"""


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
        "soar_ext/hooks/verification.py",
        "soar_ext/hooks/verification_page.py",
        "soar_ext/migrations/versions/0004_sx_verification.py",
        "soar_ext/hooks/allocation.py",
        "soar_ext/allocation/links.py",
        "soar_ext/migrations/env.py",
        "soar_ext/migrations/script.py.mako",
        "soar_ext/migrations/versions/0001_sx_base.py",
        "soar_ext/migrations/versions/0006_sx_allocation.py",
        "soar_ext/migrations/versions/0007_sx_coconstruction.py",
        "soar_ext/hooks/co_construction.py",
        "soar_ext/coconstruction/delivery.py",
        "soar_ext/migrations/versions/0008_sx_hukou_check.py",
        "soar_ext/migrations/versions/0009_sx_gateway_secret.py",
        "soar_ext/hooks/hukou_check.py",
        "soar_ext/hukou/worker.py",
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


def _implements_hooks(module_name: str) -> bool:
    import importlib
    import inspect

    module = importlib.import_module(f"soar_ext.hooks.{module_name}")
    return any(inspect.isfunction(value) and hasattr(value, "soar_impl") for value in vars(module).values())


def test_every_plugin_module_is_an_entry_point() -> None:
    """Modules under soar_ext/hooks that implement hooks are plugins; helper modules beside them implement none."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["soar"]
    modules = {p.stem for p in (ROOT / "soar_ext" / "hooks").glob("*.py") if p.stem != "__init__"}
    plugins = {name for name in modules if _implements_hooks(name)}
    assert set(declared) == plugins
    assert all(value == f"soar_ext.hooks.{name}" for name, value in declared.items())
    helpers = modules - plugins
    assert all(name.split("_")[0] in plugins for name in helpers), f"helper modules without their plugin: {helpers}"


@pytest.mark.slow
def test_plain_install_has_every_plugin_and_adapter_and_no_web_stack(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """``pip install soar-ext`` (no extra) into a fresh virtual environment, the way SOAR installs it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel.filename)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    probe = subprocess.run(
        [str(python), "-c", _PROBE % (WEB_STACK,)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout)
    assert found["web"] == dict.fromkeys(WEB_STACK, False)
    assert {"deposit_waiver", "exchange_inspection"} <= set(found["plugins"])  # every plugin loads
    assert all(module == f"soar_ext.hooks.{name}" for name, module in found["plugins"].items())
    for module in (
        "soar_ext.adapters.qianjiang",
        "soar_ext.adapters.survey",
        "soar_ext.adapters.docrepo",
        "soar_ext.adapters.bigdata.client",
        "soar_ext.adapters.hmac_client",
        "soar_ext.adapter_registry",
        "soar_ext.host",
        "soar_ext.cli",
    ):
        assert module in found["imported"]
    assert found["standin"].startswith("StandinMissing") and "pip install 'soar-ext[standin]'" in found["standin"]

    simulate = subprocess.run(
        [str(venv / "bin" / "soar-ext"), "simulate"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert simulate.returncode == 2
    assert "pip install 'soar-ext[standin]'" in simulate.stderr and "Traceback" not in simulate.stderr
    plugins = subprocess.run(
        [str(venv / "bin" / "soar-ext"), "plugins"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert plugins.returncode == 0 and "deposit_waiver" in plugins.stdout
