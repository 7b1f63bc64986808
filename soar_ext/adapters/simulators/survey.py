"""Simulator of the surveying (测绘) results service.

Protocol (see ``docs/adapters.md``), HMAC-signed like the other simulators::

    GET /api/survey/v1/projects?projectNumber=PJ2019-0001&projectName=钱江世纪城
    200 {"code": "0", "msg": "成功", "data": {"total": 1, "projects": [
           {"projectNumber", "projectName", "district", "surveyUnit", "houseCount"}]}}

    GET /api/survey/v1/projects/{projectNumber}/houses
    200 {"code": "0", "msg": "成功", "data": {"projectNumber": "...", "houses": [
           {"houseId", "building", "unit", "floor", "room", "ycjzmj": 62.35, "scjzmj": 63.1 | null}]}}
    404 {"code": "1004", "msg": "项目不存在"}

The catalog is deterministic (:func:`survey_catalog`), so the synthetic SOAR data can name its
co-construction projects identically; houses are derived from ``sha256(projectNumber)``.
Per-subject counts: the project number (or the name searched for), interfaces ``projects`` and
``houses``.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.adapters.simulators.common import HmacSimState, hmac_envelope, hmac_guard, simulator_app
from soar_ext.adapters.simulators.config import SimulatorConfig

PROJECTS_PATH = "/api/survey/v1/projects"
DEFAULT_APP_ID = "soar-ext-sim"
DEFAULT_APP_SECRET = "survey-simulator-secret"

# plate area -> district (Hangzhou, 2021 boundaries)
_AREAS: tuple[tuple[str, str], ...] = (
    ("钱江世纪城", "萧山区"),
    ("钱江新城", "上城区"),
    ("之江", "西湖区"),
    ("未来科技城", "余杭区"),
    ("三墩", "西湖区"),
    ("丁桥", "上城区"),
    ("九堡", "上城区"),
    ("下沙", "钱塘区"),
    ("良渚", "余杭区"),
    ("闲林", "余杭区"),
    ("申花", "拱墅区"),
    ("运河新城", "拱墅区"),
    ("奥体", "滨江区"),
    ("萧山科技城", "萧山区"),
    ("临平新城", "临平区"),
    ("大江东", "钱塘区"),
    ("转塘", "西湖区"),
    ("蒋村", "西湖区"),
    ("勾庄", "余杭区"),
    ("彭埠", "上城区"),
)
_SURVEY_UNITS = ("杭州市勘测设计研究院有限公司", "浙江省测绘科学技术研究院", "杭州市房产测绘所")
_TWO_PLACES = Decimal("0.01")


def survey_catalog(seed: int = 2019, count: int = 40) -> list[tuple[str, str]]:
    """``(project number, project name)`` pairs, e.g. ``("PJ2019-0001", "钱江世纪城R12-03地块配建项目")``.

    The seed is also the year in the project numbers. Same arguments, same list.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    catalog: list[tuple[str, str]] = []
    for index in range(1, count + 1):
        while True:
            area, _ = rng.choice(_AREAS)
            plot = f"{rng.choice('RBM')}{rng.randint(1, 30):02d}-{rng.randint(1, 12):02d}"
            name = f"{area}{plot}地块配建项目"
            if name not in seen:
                seen.add(name)
                break
        catalog.append((f"PJ{seed}-{index:04d}", name))
    return catalog


@dataclass(frozen=True)
class SimHouse:
    house_id: str
    building: str
    unit: str
    floor: int
    room: str
    predicted_area: Decimal
    measured_area: Decimal | None

    def to_json(self) -> dict[str, object]:
        return {
            "houseId": self.house_id,
            "building": self.building,
            "unit": self.unit,
            "floor": self.floor,
            "room": self.room,
            "ycjzmj": float(self.predicted_area),
            "scjzmj": None if self.measured_area is None else float(self.measured_area),
        }


@dataclass(frozen=True)
class SimProject:
    number: str
    name: str
    district: str
    survey_unit: str

    def to_json(self, house_count: int) -> dict[str, object]:
        return {
            "projectNumber": self.number,
            "projectName": self.name,
            "district": self.district,
            "surveyUnit": self.survey_unit,
            "houseCount": house_count,
        }


def _district_of(name: str) -> str:
    for area, district in _AREAS:
        if name.startswith(area):
            return district
    return "杭州市"


def simulated_houses(project_number: str) -> list[SimHouse]:
    """Deterministic houses of a project: 1–3 buildings × 1–2 units × 6–12 floors × 2 rooms.

    About 60% of projects are fully measured, 20% partly (odd buildings), 20% not yet.
    """
    digest = hashlib.sha256(project_number.encode("utf-8")).digest()
    buildings = 1 + digest[0] % 3
    units = 1 + digest[1] % 2
    floors = 6 + digest[2] % 7
    measured_state = digest[3] % 10
    houses: list[SimHouse] = []
    for b in range(1, buildings + 1):
        measured = measured_state < 6 or (measured_state < 8 and b % 2 == 1)
        for u in range(1, units + 1):
            for room_index in (1, 2):
                layout = hashlib.sha256(f"{project_number}/{b}/{u}/{room_index}".encode()).digest()
                base = Decimal(4500 + int.from_bytes(layout[:2], "big") % 4500) / 100  # 45.00–89.99 m²
                for floor in range(1, floors + 1):
                    house_id = f"{project_number}-{b}-{u}-{floor:02d}{room_index:02d}"
                    predicted = base.quantize(_TWO_PLACES, ROUND_HALF_UP)
                    actual = None
                    if measured:
                        jitter = hashlib.sha256(house_id.encode()).digest()
                        factor = Decimal(980 + jitter[0] % 51) / 1000  # -2% .. +3%
                        actual = (predicted * factor).quantize(_TWO_PLACES, ROUND_HALF_UP)
                    houses.append(
                        SimHouse(
                            house_id=house_id,
                            building=f"{b}幢",
                            unit=f"{u}单元",
                            floor=floor,
                            room=f"{floor}{room_index:02d}",
                            predicted_area=predicted,
                            measured_area=actual,
                        )
                    )
    return houses


def _normalize_name(text: str) -> str:
    return "".join(text.split()).replace("（", "(").replace("）", ")")


class SurveyState(HmacSimState):
    """Mutable simulator state: the catalog, per-house overrides, quota, latency, faults and counters."""

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        seed: int = 2019,
        count: int = 40,
        clock: Callable[[], float] = time.time,
        config: SimulatorConfig | None = None,
    ) -> None:
        super().__init__(credentials or {DEFAULT_APP_ID: DEFAULT_APP_SECRET}, clock=clock, config=config)
        self.seed = seed
        self.count = count
        self._lock = threading.Lock()
        self._projects: dict[str, SimProject] = {}
        self._houses: dict[str, list[SimHouse]] = {}
        self._load_catalog()

    def _load_catalog(self) -> None:
        with self._lock:
            self._projects = {}
            for number, name in survey_catalog(self.seed, self.count):
                unit = _SURVEY_UNITS[hashlib.sha256(number.encode()).digest()[4] % len(_SURVEY_UNITS)]
                self._projects[number] = SimProject(number, name, _district_of(name), unit)
            self._houses = {}

    def reset(self) -> None:
        """Back to the deterministic catalog and the starting configuration, no overrides."""
        self._load_catalog()
        super().reset()

    def find(self, number: str | None, name: str | None) -> list[SimProject]:
        wanted = _normalize_name(name) if name else None
        with self._lock:
            return [
                p
                for p in self._projects.values()
                if (number is None or p.number == number) and (wanted is None or wanted in _normalize_name(p.name))
            ]

    def houses(self, number: str) -> list[SimHouse] | None:
        with self._lock:
            if number not in self._projects:
                return None
            if number not in self._houses:
                self._houses[number] = simulated_houses(number)
            return list(self._houses[number])

    def add_project(self, number: str, name: str, houses: list[SimHouse] | None = None) -> None:
        with self._lock:
            self._projects[number] = SimProject(number, name, _district_of(name), _SURVEY_UNITS[0])
            self._houses[number] = list(houses) if houses is not None else simulated_houses(number)

    def set_measured(self, house_id: str, area: Decimal | str | float | None) -> None:
        """Override one house's measured area (None: not yet measured)."""
        number = house_id.rsplit("-", 3)[0]
        houses = self.houses(number)
        if houses is None:
            raise KeyError(house_id)
        value = None if area is None else Decimal(str(area)).quantize(_TWO_PLACES, ROUND_HALF_UP)
        with self._lock:
            self._houses[number] = [
                replace(h, measured_area=value) if h.house_id == house_id else h for h in self._houses[number]
            ]


def create_app(
    state: SurveyState | None = None,
    *,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    seed: int = 2019,
    count: int = 40,
    config: SimulatorConfig | None = None,
) -> Starlette:
    """The surveying simulator app; ``app.state.sim`` is its :class:`SurveyState`."""
    sim = state or SurveyState({app_id: app_secret}, seed=seed, count=count, config=config)

    async def projects(request: Request) -> Response:
        refused = await hmac_guard(sim, request, "projects", await request.body())
        if refused is not None:
            return refused
        number = request.query_params.get("projectNumber") or None
        name = request.query_params.get("projectName") or None
        if number is None and name is None:
            return hmac_envelope("4000", "参数错误：projectNumber 与 projectName 至少提供一个", status=400)
        sim.subjects.add(number or str(name), "projects")
        found = sim.find(number, name)
        items = [p.to_json(len(sim.houses(p.number) or [])) for p in found]
        return hmac_envelope("0", "成功", {"total": len(items), "projects": items})

    async def houses(request: Request) -> Response:
        refused = await hmac_guard(sim, request, "houses", await request.body())
        if refused is not None:
            return refused
        number = request.path_params["number"]
        found = sim.houses(number)
        if found is None:
            return hmac_envelope("1004", "项目不存在", status=404)
        sim.subjects.add(number, "houses")
        return hmac_envelope("0", "成功", {"projectNumber": number, "houses": [h.to_json() for h in found]})

    return simulator_app(
        "survey",
        sim,
        [
            Route(PROJECTS_PATH, projects, methods=["GET"]),
            Route(PROJECTS_PATH + "/{number}/houses", houses, methods=["GET"]),
        ],
    )
