"""Suite-wide guard: no full ID number in any log record or in any message the host returns.

Installed by ``conftest.py`` for the whole session: a root log handler inspects every record
that reaches a handler (message, traceback, stack), and the public methods of ``SoarHost``
are wrapped so that every message they return or raise (contract decisions, action and job
results, start-up problems, query warnings, ``InvalidInput`` texts) is inspected too.
A valid GB 11643 number in ASCII or full-width digits, also glued to letters or digits,
fails the test that produced it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from typing import Any

from soar_ext.hook_payloads import ActionResult, ContractDecision, QueryBuild
from soar_ext.idnumber import is_valid_id_number, to_ascii_digits

_WINDOW = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
_FORMATTER = logging.Formatter()

found: list[str] = []


def full_ids_in(text: str) -> list[str]:
    """Every valid 18-character ID number inside ``text`` (full-width forms included)."""
    ascii_text = to_ascii_digits(text)
    return [m.group(1) for m in _WINDOW.finditer(ascii_text) if is_valid_id_number(m.group(1).upper())]


class FullIdLogGuard(logging.Handler):
    """Notes every record whose rendered text holds a full ID number."""

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage(), record.exc_text or "", record.stack_info or ""]
        if record.exc_info and record.exc_info[0] is not None:
            parts.append(_FORMATTER.formatException(record.exc_info))
        for idn in full_ids_in("\n".join(parts)):
            found.append(f"log record {record.name}:{record.levelname}: {idn[:6]}…")


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, ContractDecision):
        yield from value.messages
        yield from value.shadow_notes
    elif isinstance(value, ActionResult):
        yield value.message
    elif isinstance(value, QueryBuild):
        yield from value.warnings
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _guarded(name: str, method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except Exception as exc:
            for idn in full_ids_in(str(exc)):
                found.append(f"SoarHost.{name} raised a message with {idn[:6]}…")
            raise
        for text in _texts(result):
            for idn in full_ids_in(text):
                found.append(f"SoarHost.{name} returned a message with {idn[:6]}…")
        return result

    return wrapper


def install() -> None:
    from soar_ext.host import SoarHost

    logging.getLogger().addHandler(FullIdLogGuard(level=logging.DEBUG))
    for name in (
        "startup",
        "pre_contract",
        "query_fields",
        "query_build",
        "detail_view",
        "action",
        "allocation_selected",
        "register_jobs",
        "run_job",
    ):
        setattr(SoarHost, name, _guarded(name, getattr(SoarHost, name)))
