"""The stand-ins (simulators, console) need an extra that SOAR's own environment does not install.

``pip install soar-ext`` gives SOAR the plugins, adapters and CLI; the web stack the stand-ins
run on (starlette, uvicorn, jinja2, python-multipart) comes with ``pip install 'soar-ext[standin]'``.
"""

from __future__ import annotations

import importlib.util

EXTRA = "standin"
INSTALL_HINT = f"pip install 'soar-ext[{EXTRA}]'"

#: import names of the packages the ``standin`` extra installs
STANDIN_MODULES = ("starlette", "uvicorn")


class StandinMissing(ImportError, RuntimeError):
    """A stand-in was started without the ``standin`` extra.

    An :class:`ImportError` because that is what it is, and a :class:`RuntimeError` so that the
    commands that already report a stand-in that cannot start (a port in use) report this too.
    """


def require_standin(what: str, modules: tuple[str, ...] = STANDIN_MODULES) -> None:
    """Raise :class:`StandinMissing` naming the extra when one of ``modules`` is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise StandinMissing(f"{what}: {', '.join(missing)} not installed (the '{EXTRA}' extra): {INSTALL_HINT}")
