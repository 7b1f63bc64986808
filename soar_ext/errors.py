"""Errors whose Chinese message is meant for the clerk at SOAR's screen.

The host facade passes these through to SOAR unchanged; any other exception raised by a
plugin counts as a plugin failure and is isolated (see :mod:`soar_ext.host`).
"""

from __future__ import annotations

from soar_ext.idnumber import mask_in_text

#: Longest echo of a value the clerk typed or SOAR sent, in characters, inside a message.
ECHO_LIMIT = 40


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


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` as it may appear inside a message: one line, ID numbers masked, at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(mask_in_text(text[:100_000]).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
