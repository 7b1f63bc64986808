"""Client of the surveying (测绘) results service: surveyed projects and their houses.

Areas are :class:`~decimal.Decimal` square metres: ``predicted_area`` is 预测建筑面积 (YCJZMJ),
``measured_area`` is 实测建筑面积 (SCJZMJ), ``None`` until the house has been measured.
Projects are matched to our co-construction projects by number and name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from soar_ext.adapters.common import AdapterError, BadResponse, require_mapping
from soar_ext.adapters.hmac_client import SignedClient, SignedSettings, signed_fields
from soar_ext.log_masking import get_logger

SYSTEM = "测绘"
CALL_FIND = "查询项目"
CALL_HOUSES = "查询房屋"
DEFAULT_PROJECTS_PATH = "/api/survey/v1/projects"

log = get_logger(__name__)


class SurveyProjectNotFound(AdapterError):
    """The surveying service has no project with that number."""


@dataclass(frozen=True)
class SurveyedProject:
    number: str
    name: str
    district: str | None = None
    survey_unit: str | None = None
    house_count: int | None = None


@dataclass(frozen=True)
class SurveyedHouse:
    house_id: str
    building: str
    unit: str
    room: str
    floor: int | None
    predicted_area: Decimal  # YCJZMJ 预测建筑面积
    measured_area: Decimal | None  # SCJZMJ 实测建筑面积; None until measured

    @property
    def is_measured(self) -> bool:
        return self.measured_area is not None

    @property
    def area_difference(self) -> Decimal | None:
        """Measured minus predicted area (None until measured)."""
        return None if self.measured_area is None else self.measured_area - self.predicted_area


@dataclass(frozen=True)
class SurveySettings(SignedSettings):
    """Connection settings; config section ``[adapters.survey]``."""

    projects_path: str = DEFAULT_PROJECTS_PATH

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> SurveySettings:
        return cls(
            **signed_fields(section, system=SYSTEM),
            projects_path=str(section.get("projects_path") or DEFAULT_PROJECTS_PATH).rstrip("/"),
        )


class SurveyClient(SignedClient):
    """Async client of the surveying service. Close with :meth:`aclose`."""

    system = SYSTEM
    settings: SurveySettings

    async def find_projects(self, number: str | None = None, name: str | None = None) -> list[SurveyedProject]:
        """Surveyed projects by exact number and/or name fragment (both given: both must match)."""
        number = (number or "").strip() or None
        name = (name or "").strip() or None
        if number is None and name is None:
            raise ValueError("查询测绘项目时请提供项目编号或项目名称")
        query = {}
        if number:
            query["projectNumber"] = number
        if name:
            query["projectName"] = name
        data = await self._get(self.settings.projects_path, query, CALL_FIND)
        items = data.get("projects")
        if not isinstance(items, list):
            raise BadResponse(SYSTEM, CALL_FIND, "返回报文缺少项目列表 projects")
        return [_parse_project(item) for item in items]

    async def houses(self, project_number: str) -> list[SurveyedHouse]:
        """All houses of a surveyed project; raises :class:`SurveyProjectNotFound` for an unknown number."""
        number = (project_number or "").strip()
        if not number:
            raise ValueError("项目编号不能为空")
        missing = SurveyProjectNotFound(SYSTEM, CALL_HOUSES, f"测绘系统中没有项目“{number}”")
        data = await self._get(f"{self.settings.projects_path}/{number}/houses", {}, CALL_HOUSES, not_found=missing)
        items = data.get("houses")
        if not isinstance(items, list):
            raise BadResponse(SYSTEM, CALL_HOUSES, "返回报文缺少房屋列表 houses")
        houses = [_parse_house(item) for item in items]
        log.info("测绘查询房屋：项目%s 共%d套，已实测%d套", number, len(houses), sum(h.is_measured for h in houses))
        return houses

    async def _get(
        self, path: str, query: dict[str, str], call: str, *, not_found: AdapterError | None = None
    ) -> Mapping[str, Any]:
        envelope = await self._request(
            "GET", path, call=call, params=query, not_found=not_found, loads={"parse_float": Decimal}
        )
        return self._data(envelope, call)


def _text(item: Mapping[str, Any], key: str, call: str, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadResponse(SYSTEM, call, f"字段 {key} 应为非空文本")
    return value.strip()


def _area(value: Any, key: str, *, required: bool) -> Decimal | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise BadResponse(SYSTEM, CALL_HOUSES, f"面积字段 {key} 应为数字")
    try:
        area = Decimal(str(value))
    except InvalidOperation:
        raise BadResponse(SYSTEM, CALL_HOUSES, f"面积字段 {key} 应为数字") from None
    if not area.is_finite() or area <= 0:
        raise BadResponse(SYSTEM, CALL_HOUSES, f"面积字段 {key} 应为正数")
    return area


def _parse_project(item: Any) -> SurveyedProject:
    item = require_mapping(item, system=SYSTEM, call=CALL_FIND, what="项目")
    count = item.get("houseCount")
    return SurveyedProject(
        number=_text(item, "projectNumber", CALL_FIND) or "",
        name=_text(item, "projectName", CALL_FIND) or "",
        district=_text(item, "district", CALL_FIND, required=False),
        survey_unit=_text(item, "surveyUnit", CALL_FIND, required=False),
        house_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


def _parse_house(item: Any) -> SurveyedHouse:
    item = require_mapping(item, system=SYSTEM, call=CALL_HOUSES, what="房屋")
    floor = item.get("floor")
    predicted = _area(item.get("ycjzmj"), "ycjzmj", required=True)
    assert predicted is not None
    return SurveyedHouse(
        house_id=_text(item, "houseId", CALL_HOUSES) or "",
        building=_text(item, "building", CALL_HOUSES) or "",
        unit=_text(item, "unit", CALL_HOUSES) or "",
        room=_text(item, "room", CALL_HOUSES) or "",
        floor=floor if isinstance(floor, int) and not isinstance(floor, bool) else None,
        predicted_area=predicted,
        measured_area=_area(item.get("scjzmj"), "scjzmj", required=False),
    )
