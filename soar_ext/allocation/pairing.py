"""推荐配对: a suggested applicant↔house pairing for a 调房划拨 batch, in a stated order.

The rule, as the operation manual states it to clerks:

1. Only applicants without a link and houses without a link take part; existing links stay.
2. Applicants take their turn in 顺序号 order: by lottery result (摇号年度, 摇号期数, 顺序号, all
   ascending); applicants without a lottery result come last, by 配租资格证号.
3. A house fits a family when its 建筑面积 is at least 家庭人数 × the area per person (setting
   ``area_per_person``, 15 ㎡ by default). Each applicant in turn gets the *smallest* free house that
   fits, so larger houses stay for larger families; ties go by project, building, unit and room.
4. When no free house fits, the applicant gets the largest free house left, marked 面积不足.
5. When the houses run out, the remaining applicants get none (无可用房源).

The clerk accepts the suggestion as a whole (all links written in one step, or none) or links the
pairs one by one, and changes any of them afterwards with 改为关联.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from soar_ext.allocation.records import Applicant, House

DEFAULT_AREA_PER_PERSON = Decimal("15")

FITS = "fits"
TOO_SMALL = "too_small"
NO_HOUSE = "no_house"


@dataclass(frozen=True)
class Suggestion:
    """One suggested pair; ``house`` is ``None`` when no house is left."""

    applicant: Applicant
    house: House | None
    needed_area: Decimal
    fit: str  # FITS | TOO_SMALL | NO_HOUSE

    @property
    def note(self) -> str:
        if self.fit == FITS:
            return f"面积满足（需≥{self.needed_area}㎡）"
        if self.fit == TOO_SMALL:
            return f"面积不足（需≥{self.needed_area}㎡），为剩余最大房源"
        return "无可用房源"


def needed_area(applicant: Applicant, area_per_person: Decimal) -> Decimal:
    """家庭人数 × area per person (a family of unknown size counts as one person)."""
    return max(applicant.family_size or 1, 1) * area_per_person


def _area(house: House) -> Decimal:
    return house.area if house.area is not None else Decimal(0)


def suggest(applicants: Iterable[Applicant], houses: Iterable[House], area_per_person: Decimal) -> list[Suggestion]:
    """The suggested pairing of ``applicants`` (unlinked) with ``houses`` (free), by the rule above."""
    free: list[House] = sorted(houses, key=lambda house: (_area(house), house.sort_key))
    out: list[Suggestion] = []
    for applicant in sorted(applicants, key=lambda a: a.order_key):
        needed = needed_area(applicant, area_per_person)
        if not free:
            out.append(Suggestion(applicant, None, needed, NO_HOUSE))
            continue
        index = next((i for i, house in enumerate(free) if _area(house) >= needed), None)
        fit = FITS
        if index is None:
            index, fit = len(free) - 1, TOO_SMALL
        out.append(Suggestion(applicant, free.pop(index), needed, fit))
    return out


def pairs(suggestions: Sequence[Suggestion]) -> list[list[str]]:
    """The ``[application id, house id]`` pairs of a suggestion (without the applicants left over)."""
    return [[s.applicant.sqid, s.house.fyid] for s in suggestions if s.house is not None]
