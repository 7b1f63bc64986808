"""Leak guards shared by the adapter tests: no secret and no full ID number in logs or errors.

``raises_clean`` is ``pytest.raises`` that also checks ``str()`` and ``repr()`` of the raised
exception and of everything chained to it (``__cause__`` / ``__context__``);
``assert_no_leak`` does the same for an exception object a test got another way (for example
an error ``verify_all`` returned for one category).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# Secrets the adapter tests configure on purpose (simulator defaults are added automatically).
TEST_SECRETS = {"wrong-secret-for-tests", "qjf-test-secret", "survey-test-secret", "docrepo-test-secret"}

_SIMULATOR_MODULES = ("qianjiang", "survey", "docrepo", "bigdata")
FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _simulator_secrets() -> set[str]:
    found: set[str] = set()
    for name in _SIMULATOR_MODULES:
        try:
            module = importlib.import_module(f"soar_ext.adapters.simulators.{name}")
        except ImportError:
            continue
        for attr, value in vars(module).items():
            if "SECRET" in attr.upper() and isinstance(value, str) and len(value) >= 6:
                found.add(value)
    return found


#: Every secret guarded in logs and errors; tests may add their own (``guarded_secrets`` fixture).
GUARDED_SECRETS: set[str] = set(TEST_SECRETS) | _simulator_secrets()


def leaks_in(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """What leaks in ``text``: ``完整身份证号`` and/or ``密钥`` findings."""
    found = []
    if FULL_ID.search(text):
        found.append("完整身份证号")
    for secret in (*GUARDED_SECRETS, *secrets):
        if secret and secret in text:
            found.append("密钥")
            break
    return found


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def assert_no_leak(exc: BaseException, *, secrets: Iterable[str] = ()) -> None:
    """Fail when ``str``/``repr`` of ``exc`` or of an exception chained to it shows a secret or a full ID."""
    secrets = tuple(secrets)
    for item in _chain(exc):
        for text in (str(item), repr(item)):
            found = leaks_in(text, secrets)
            if found:
                masked = FULL_ID.sub("<id>", text)
                for secret in (*GUARDED_SECRETS, *secrets):
                    if secret:
                        masked = masked.replace(secret, "<secret>")
                pytest.fail(f"异常{type(item).__name__}中出现{'、'.join(found)}：{masked[:300]}")


@contextmanager
def raises_clean(
    expected: type[BaseException] | tuple[type[BaseException], ...],
    *,
    match: str | None = None,
    secrets: Iterable[str] = (),
) -> Iterator[Any]:
    """``pytest.raises`` plus :func:`assert_no_leak` on the raised exception."""
    with pytest.raises(expected, match=match) as info:
        yield info
    assert_no_leak(info.value, secrets=secrets)
