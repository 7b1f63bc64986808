"""Project names and numbers compared the way clerks write them.

SOAR's project names and the surveying office's differ in width (全角/半角), spaces, bracket
styles and the suffixes 地块 / 项目 / 配建项目. :func:`normalise_name` removes those
differences; :func:`match_projects` decides whether one surveyed project is the same project
or whether a clerk has to choose (确认关联) — it never guesses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# removed wherever they stand: width-normalised brackets of every style clerks use
_BRACKETS = re.compile(r"[()\[\]{}【】〔〕［］（）〈〉《》「」『』]")
_SPACES = re.compile(r"\s+")
# removed at the end, repeatedly (…地块配建项目, …地块项目, …项目地块)
_SUFFIXES = ("配建项目", "项目", "地块")

MatchKind = Literal["exact", "normalised"]


def normalise_name(name: str | None) -> str:
    """The comparable core of a project name: NFKC width folding, no spaces or brackets, no suffixes."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _SPACES.sub("", text)
    text = _BRACKETS.sub("", text)
    text = text.upper()
    changed = True
    while changed and text:
        changed = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
    return text


def normalise_number(number: str | None) -> str:
    """Project numbers: width folding, no spaces, upper case (``ｐｊ2019－0001`` → ``PJ2019-0001``)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", number or "")).upper()


def search_fragment(name: str | None) -> str:
    """What to send the surveying service's name search: the core of the name (no suffix, no brackets)."""
    return normalise_name(name)


@dataclass(frozen=True)
class Candidate:
    """A surveyed project that might be ours, and why (shown on the 确认关联 list)."""

    number: str
    name: str
    same_number: bool
    same_name: bool

    @property
    def reason(self) -> str:
        if self.same_number and self.same_name:
            return "编号与名称均一致"
        if self.same_number:
            return "编号一致，名称不同"
        return "名称一致，编号不同"


@dataclass(frozen=True)
class MatchOutcome:
    """``linked`` (one project, same number and name) with how; else the candidates to confirm."""

    linked: Candidate | None
    kind: MatchKind | None
    candidates: tuple[Candidate, ...]

    @property
    def needs_confirmation(self) -> bool:
        return self.linked is None and bool(self.candidates)

    @property
    def not_found(self) -> bool:
        return self.linked is None and not self.candidates


def match_projects(number: str, name: str, surveyed: Sequence[tuple[str, str]]) -> MatchOutcome:
    """Compare our project with the surveyed ``(number, name)`` pairs the service returned.

    A surveyed project is a candidate when its number or its normalised name equals ours.
    Linked only when there is exactly one candidate and both agree; anything else — a number
    match with another name, a name match with another number, several candidates — waits for
    a clerk's 确认关联.
    """
    our_number, our_name = normalise_number(number), normalise_name(name)
    seen: dict[str, Candidate] = {}
    for their_number, their_name in surveyed:
        same_number = normalise_number(their_number) == our_number
        same_name = normalise_name(their_name) == our_name and bool(our_name)
        if (same_number or same_name) and their_number not in seen:
            seen[their_number] = Candidate(their_number, their_name, same_number, same_name)
    candidates = tuple(sorted(seen.values(), key=lambda c: (not (c.same_number and c.same_name), c.number)))
    if len(candidates) == 1 and candidates[0].same_number and candidates[0].same_name:
        only = candidates[0]
        exact = only.number == number.strip() and only.name == name.strip()
        return MatchOutcome(only, "exact" if exact else "normalised", candidates)
    return MatchOutcome(None, None, candidates)
