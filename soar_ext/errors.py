"""Errors whose Chinese message is meant for the clerk at SOAR's screen.

The host facade passes these through to SOAR unchanged; any other exception raised by a
plugin counts as a plugin failure and is isolated (see :mod:`soar_ext.host`).
"""

from __future__ import annotations


class SoarUserError(Exception):
    """A problem the clerk can understand and fix; ``str(error)`` is shown as is."""


class InvalidInput(SoarUserError, ValueError):
    """Bad input: malformed ID number, impossible range, oversize text, unknown code."""


class PermissionDenied(SoarUserError):
    """The operator lacks the role an action needs."""


class NotFound(SoarUserError):
    """The record the screen refers to does not exist."""


class PluginLoadError(RuntimeError):
    """An entry-point plugin could not be loaded or registered (raised in strict mode)."""
