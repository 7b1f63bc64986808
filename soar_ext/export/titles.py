"""Worksheet titles Excel accepts: at most 31 characters, none of ``[]:*?/\\``, unique in the workbook."""

from __future__ import annotations

import re
from typing import Final

MAX_TITLE_CHARS: Final = 31
DEFAULT_TITLE: Final = "工作表"
_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean_title(title: str) -> str:
    """``title`` made valid: forbidden characters become ``_``, no leading/trailing apostrophe or blank."""
    text = _FORBIDDEN.sub("_", title).strip().strip("'").strip()
    if not text or text.casefold() == "history":  # Excel reserves "History"
        text = DEFAULT_TITLE if not text else f"{text}_"
    return text[:MAX_TITLE_CHARS].rstrip("'")


def continuation_title(title: str, part: int) -> str:
    """Title of part ``part`` (2, 3, …) of a sheet that went past Excel's row limit: ``清单（2）``."""
    suffix = f"（{part}）"
    return title[: MAX_TITLE_CHARS - len(suffix)].rstrip("'") + suffix


class TitleRegistry:
    """Hands out unique worksheet titles (Excel compares them case-insensitively)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        """A valid title not used yet: ``wanted`` cleaned, else with the next free ``（n）`` suffix."""
        base = clean_title(wanted)
        title = base
        part = 2
        while title.casefold() in self._taken:
            title = continuation_title(base, part)
            part += 1
        self._taken.add(title.casefold())
        return title
