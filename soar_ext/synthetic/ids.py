"""Synthetic resident ID numbers (GB 11643-1999) with real area codes and check characters."""

from __future__ import annotations

import datetime as dt
import random
from typing import Final

from soar_ext.db.codes import DISTRICTS, Gender
from soar_ext.idnumber import check_char

HANGZHOU_AREAS: Final[tuple[str, ...]] = tuple(DISTRICTS)
"""Hangzhou district codes (2021 boundaries), the keys of :data:`soar_ext.db.codes.DISTRICTS`."""

# Districts created after 1999 issue codes only to people registered after they existed.
_AREA_SINCE: Final = {"330111": 2015, "330112": 2017, "330113": 2021, "330114": 2021}
_OLD_HANGZHOU_AREAS: Final = tuple(code for code in HANGZHOU_AREAS if code not in _AREA_SINCE)

OTHER_AREAS: Final[dict[str, str]] = {
    "330302": "温州市鹿城区",
    "330402": "嘉兴市南湖区",
    "330502": "湖州市吴兴区",
    "330602": "绍兴市越城区",
    "330702": "金华市婺城区",
    "331002": "台州市椒江区",
    "341122": "滁州市来安县",
    "342422": "六安市寿县",
    "360102": "南昌市东湖区",
    "362329": "上饶市余干县",
    "410105": "郑州市金水区",
    "420111": "武汉市洪山区",
    "430104": "长沙市岳麓区",
    "510107": "成都市武侯区",
    "522101": "遵义市红花岗区",
}
"""Origins outside Hangzhou (area code -> place), for residents registered elsewhere."""


def area_for_birth(area: str, birth: dt.date, rng: random.Random) -> str:
    """``area``, or an older Hangzhou district if ``area`` did not exist yet in the birth year."""
    since = _AREA_SINCE.get(area)
    if since is not None and birth.year < since:
        return rng.choice(_OLD_HANGZHOU_AREAS)
    return area


def make_id_number(rng: random.Random, area: str, birth: dt.date, gender: str) -> str:
    """A valid 18-character ID number for the given area code, birth date and gender code.

    The 17th digit is odd for men (``"1"``) and even for women (``"2"``); the check
    character follows GB 11643. Uniqueness is the caller's concern.
    """
    if len(area) != 6 or not area.isdigit():
        raise ValueError(f"area code must be 6 digits: {area!r}")
    if gender not in Gender.LABELS:
        raise ValueError(f"gender code must be one of {sorted(Gender.LABELS)}: {gender!r}")
    parity = rng.choice("13579" if gender == Gender.MALE else "02468")
    first17 = f"{area}{birth:%Y%m%d}{rng.randrange(100):02d}{parity}"
    return first17 + check_char(first17)


class IdNumberFactory:
    """Hands out ID numbers that are unique across one data set."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def new(self, area: str, birth: dt.date, gender: str) -> str:
        """A fresh ID number; retries the sequence digits on a collision."""
        while True:
            number = make_id_number(self._rng, area, birth, gender)
            if number not in self._issued:
                self._issued.add(number)
                return number
