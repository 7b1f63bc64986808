"""Simulator of the Big Data Bureau shared-interface gateway, both generations.

Written from the protocol facts (``docs/adapters.md``), not from the client: it signs and
checks on its own, so a client bug cannot be mirrored here.

Gen-1 (md5 signatures, expiring secrets)::

    GET  /gateway/app/refreshTokenByKey.htm?appKey&requestTime&sign     sign = md5(appKey+appSecret+requestTime)
    GET  /gateway/app/refreshTokenBySec.htm?appKey&requestTime&sign     sign = md5(appKey+refreshSecret+requestTime)
         -> {"code": "00", "datas": {"requestSecret", "requestSecretEndTime" (ms),
                                     "refreshSecret", "refreshSecretEndTime" (ms)}}
    POST /gateway/api/{org}/dataSharing/{interfaceId}.htm   (form or query: appKey, requestTime, sign,
         sfzh, xm; sign = md5(appKey+requestSecret+requestTime))
         -> {"code": "00"|"11"|"14"|"18"|..., "msg", "datas", "dataCount"}

``requestTime`` must be epoch milliseconds within ``request_time_window_seconds`` (default
±300 s) of the gateway's clock, else code ``"14"``. A secret used after its lifetime — the
request secret on a business call, the refresh secret on ``refreshTokenBySec`` — is answered
``"11"`` (the platform's code for a secret outside its validity period).

Gen-2 (IRS, HMAC headers)::

    POST /irs/api/{interfaceId}   {"sfzh": ..., "xm": ...}
         X-BG-HMAC-ACCESS-KEY, X-BG-HMAC-ALGORITHM: hmac-sha256, X-BG-DATE-TIME (RFC 1123, ±90 s),
         X-BG-HMAC-SIGNATURE = base64(HMAC-SHA256(secret, METHOD\\nPATH\\nsortedQuery\\nAK\\ndate\\n))
         -> 200 envelope as above | 401 {"message": "Invalid signature" | "Invalid access key" |
            "Clock skew exceeded"} | 429 {"message": ...} with Retry-After

Order of checks on every endpoint, token endpoints included: transport faults, parameters,
signature, then the per-app quota (shared by both generations; gen-1 ``"18"``, gen-2 HTTP 429),
so a badly signed call never uses quota. Secrets really expire against the simulator's clock
(``state.advance(seconds)`` jumps it); a new secret pair revokes the previous one. Some
interfaces return ``datas`` as a JSON string.

Data is deterministic by ID number (``sha256``): every Zhejiang (``33``) ID has a household
registration (about 88% 正常, the rest 迁出, 死亡, 失踪, …), other IDs have none; the other
categories have records with realistic probabilities. Run-time changes: ``set_household_status``,
``add_record`` (a vehicle bought, a marriage registered), ``set_records``, ``set_full_profile``.
Per-subject counts: the ID number, per category code.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import math
import secrets as secrets_module
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from soar_ext.adapters.simulators.common import SimulatorState, admit, simulator_app
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.idnumber import InvalidIdNumber, age_on, birth_date, check_char, normalize_id_number

DEFAULT_APP_KEY = "demo-app"
DEFAULT_APP_SECRET = "demo-secret"
DEFAULT_ORG = "330100"
GEN1_PREFIX = "/gateway"
GEN2_PREFIX = "/irs/api"
REQUEST_SECRET_TTL = 15 * 60.0
REFRESH_SECRET_TTL = 48 * 3600.0
REQUEST_TIME_WINDOW = 300.0  # gen-1: accepted distance of requestTime from the gateway clock
GEN2_SKEW = 90.0  # gen-2: accepted distance of X-BG-DATE-TIME from the gateway clock

# The interfaces the platform publishes for the twelve verification categories (category code ->
# interface id). Deployments get their own ids; ``create_app(interface_ids=...)`` replaces them.
INTERFACES: Mapping[str, str] = {
    "social_insurance": "shbx_cbxx",
    "labour_contract": "ldht_bacx",
    "housing_fund": "gjj_jcxx",
    "vehicles": "jdc_djxx",
    "enterprises": "qy_rzxx",
    "marriage": "hy_djxx",
    "identity_card": "jmsfz_xx",
    "student_status": "xj_xlxx",
    "qualification_certificates": "zyzg_zsxx",
    "professional_titles": "zc_psxx",
    "household_registration": "hj_czrkxx",
    "residence_permit": "jzz_xx",
}
# Interfaces whose datas come back as a JSON string (an older publishing style on the platform).
STRING_DATAS_CATEGORIES = ("household_registration", "identity_card", "marriage")

# Household-registration status: "0" a live registration, the others cancellations (注销) with the
# note the registry records.
HOUSEHOLD_NORMAL = "0"
CANCELLATION_NOTES: Mapping[str, str] = {
    "1": "死亡注销",
    "2": "迁出注销",
    "3": "出国（境）定居注销",
    "4": "服兵役注销",
    "5": "宣告失踪注销",
    "6": "被判处徒刑注销",
    "7": "重复登记注销",
    "9": "其他原因注销",
}

_HISTORY = 64  # issued secrets remembered, so old ones are answered "expired" rather than "bad"


def gen1_signature(app_key: str, secret: str, request_time: str) -> str:
    """What a gen-1 caller must send: lowercase hex md5 of ``appKey + secret + requestTime``."""
    return hashlib.md5(f"{app_key}{secret}{request_time}".encode()).hexdigest()


def gen2_signature(
    secret: str, method: str, path: str, query: Iterable[tuple[str, str]], access_key: str, date: str
) -> str:
    """What a gen-2 caller must send: base64 HMAC-SHA256 over ``METHOD\\nPATH\\nsortedQuery\\nAK\\ndate\\n``."""
    pairs = sorted((urllib.parse.quote(k, safe=""), urllib.parse.quote(v, safe="")) for k, v in query)
    sorted_query = "&".join(f"{k}={v}" for k, v in pairs)
    text = f"{method.upper()}\n{path}\n{sorted_query}\n{access_key}\n{date}\n"
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


# --------------------------------------------------------------------------- deterministic data


class _Draw:
    """A deterministic stream of choices seeded by text (sha256 in counter mode)."""

    def __init__(self, *parts: str) -> None:
        self._seed = "|".join(parts).encode("utf-8")
        self._counter = 0

    def number(self, n: int) -> int:
        """An integer in ``range(n)``."""
        self._counter += 1
        digest = hashlib.sha256(self._seed + self._counter.to_bytes(4, "big")).digest()
        return int.from_bytes(digest[:8], "big") % n

    def percent(self) -> int:
        return self.number(100)

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.number(len(options))]

    def digits(self, k: int) -> str:
        return "".join(str(self.number(10)) for _ in range(k))

    def date(self, start: dt.date, end: dt.date) -> dt.date:
        span = max(0, (end - start).days)
        return start + dt.timedelta(days=self.number(span + 1))


_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "朱", "胡", "沈", "钱")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "婷", "欣怡", "子涵")
_EMPLOYERS = (
    "杭州西溪数智科技有限公司",
    "杭州钱塘江建设工程有限公司",
    "浙江之江物流有限公司",
    "杭州市上城区人民医院",
    "杭州运河文化旅游发展有限公司",
    "浙江良渚新材料股份有限公司",
    "杭州湖滨商贸有限公司",
    "杭州市拱墅区教育发展服务中心",
)
_STREETS = ("文三路", "天目山路", "解放路", "延安路", "秋涛路", "莫干山路", "江南大道", "学院路", "凤起路")
_DISTRICTS = (
    ("上城区", "湖滨派出所"),
    ("拱墅区", "米市巷派出所"),
    ("西湖区", "文新派出所"),
    ("滨江区", "西兴派出所"),
    ("萧山区", "城厢派出所"),
    ("余杭区", "五常派出所"),
)
_SCHOOLS = (
    ("浙江大学", "计算机科学与技术"),
    ("浙江工业大学", "土木工程"),
    ("杭州师范大学", "汉语言文学"),
    ("浙江财经大学", "会计学"),
    ("杭州电子科技大学", "电子信息工程"),
    ("浙江树人学院", "护理学"),
)
_EDUCATION = ("专科", "本科", "硕士研究生")
_QUALIFICATIONS = (
    ("电工", "四级/中级工"),
    ("育婴员", "五级/初级工"),
    ("企业人力资源管理师", "三级/高级工"),
    ("中式烹调师", "四级/中级工"),
    ("保安员", "五级/初级工"),
)
_TITLES = (
    ("工程师", "中级"),
    ("助理工程师", "初级"),
    ("高级工程师", "副高级"),
    ("主治医师", "中级"),
    ("一级教师", "中级"),
    ("会计师", "中级"),
)
_BRANDS = ("大众", "丰田", "比亚迪", "吉利", "本田", "特斯拉", "别克")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_MOVED_TO = ("上海市浦东新区", "江苏省苏州市", "宁波市鄞州区", "绍兴市越城区", "安徽省合肥市")


def _name(draw: _Draw) -> str:
    return draw.pick(_SURNAMES) + draw.pick(_GIVEN)


def _make_id(draw: _Draw, birth: dt.date) -> str:
    first17 = f"3301{draw.number(10)}{draw.number(10)}{birth:%Y%m%d}{draw.digits(3)}"
    return first17 + check_char(first17)


def _credit_code(draw: _Draw) -> str:
    return "91330" + "".join(draw.pick("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(13))


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _household_status(draw: _Draw) -> str:
    roll = draw.percent()
    for status, upper in (("0", 88), ("2", 93), ("1", 96), ("5", 97), ("3", 98), ("4", 99)):
        if roll < upper:
            return status
    return "9"


def sample_records(
    id_number: str, name: str, category: str, *, today: dt.date, at_least_one: bool = False
) -> list[dict[str, object]]:
    """The simulator's deterministic records of one person in one category.

    ``at_least_one`` forces a record where the person would otherwise have none.
    """
    draw = _Draw(id_number, category)
    born = birth_date(id_number)
    age = age_on(id_number, today)
    adult_from = dt.date(born.year + 18, born.month, min(born.day, 28))
    zhejiang = id_number.startswith("33")
    chance = {
        "social_insurance": 88,
        "labour_contract": 70,
        "housing_fund": 65,
        "vehicles": 45,
        "enterprises": 12,
        "marriage": 75 if age >= 22 else 0,
        "identity_card": 100,
        "student_status": 55 if age >= 18 else 0,
        "qualification_certificates": 25,
        "professional_titles": 20,
        "household_registration": 100 if zhejiang else 0,
        "residence_permit": 5 if zhejiang else 60,
    }[category]
    if draw.percent() >= chance and not at_least_one:
        return []
    base = {"xm": name, "sfzh": id_number}
    start = min(adult_from, today)

    if category == "social_insurance":
        unit = draw.pick(_EMPLOYERS)
        status = "1" if draw.percent() < 85 else draw.pick(("2", "3"))
        began = draw.date(start, today)
        schemes = ("110", "310", "210")[: 1 + draw.number(3)]
        return [
            {
                **base,
                "xzlx": scheme,
                "cbzt": status,
                "cbdw": unit,
                "cbd": "杭州市",
                "cbrq": _ymd(began),
                "zhjfny": today.strftime("%Y%m") if status == "1" else f"{began.year + 1}12",
                "ljjfys": max(1, (today - began).days // 30),
            }
            for scheme in schemes
        ]
    if category == "labour_contract":
        records = []
        for _ in range(1 + draw.number(2)):
            began = draw.date(start, today)
            term = draw.pick(("1", "1", "2"))
            ends = _add_years(began, 3) if term == "1" else None
            ended = ends is not None and ends < today
            status = "2" if ended else ("1" if draw.percent() < 85 else "3")
            records.append(
                {
                    **base,
                    "yrdw": draw.pick(_EMPLOYERS),
                    "tyshxydm": _credit_code(draw),
                    "htqxlx": term,
                    "htqsrq": _ymd(began),
                    "htzzrq": _ymd(ends) if ends else None,
                    "htzt": status,
                }
            )
        return records
    if category == "housing_fund":
        base_pay = 4000 + draw.number(26) * 500
        return [
            {
                **base,
                "grzh": "3301" + draw.digits(12),
                "dwmc": draw.pick(_EMPLOYERS),
                "zhzt": "1" if draw.percent() < 80 else draw.pick(("2", "3", "9")),
                "jcjs": f"{base_pay:.2f}",
                "yjce": f"{base_pay * 0.24:.2f}",
                "khrq": _ymd(draw.date(start, today)),
                "zhjcny": today.strftime("%Y%m"),
            }
        ]
    if category == "vehicles":
        return [
            {
                "syr": name,
                "sfzh": id_number,
                "hphm": "浙A" + draw.pick(_PLATE_LETTERS) + draw.digits(4),
                "hpzl": draw.pick(("02", "02", "52", "07")),
                "clpp": draw.pick(_BRANDS),
                "ccdjrq": _ymd(draw.date(start, today)),
                "zt": "A" if draw.percent() < 90 else draw.pick(("E", "G", "Q")),
            }
            for _ in range(1 + draw.number(2))
        ]
    if category == "enterprises":
        return [
            {
                **base,
                "qymc": "杭州"
                + draw.pick(("恒", "鑫", "瑞", "达", "盛"))
                + draw.pick(("源", "丰", "安"))
                + draw.pick(("贸易", "餐饮", "信息技术", "装饰工程"))
                + "有限公司",
                "tyshxydm": _credit_code(draw),
                "rzlx": draw.pick(("法定代表人", "股东", "监事")),
                "djzt": draw.pick(("存续", "存续", "在业", "吊销", "注销")),
                "zczb": str(draw.pick((10, 50, 100, 200, 500))),
                "clrq": _ymd(draw.date(start, today)),
            }
            for _ in range(1 + draw.number(2))
        ]
    if category == "marriage":
        married = draw.date(dt.date(born.year + 22, 1, 1), today) if age >= 22 else today
        spouse_birth = born + dt.timedelta(days=draw.number(3650) - 1825)
        record = {
            **base,
            "hyzk": "20",
            "djlx": "结婚登记",
            "poxm": _name(draw),
            "posfzh": _make_id(draw, spouse_birth),
            "djrq": _ymd(married),
            "djjg": draw.pick(_DISTRICTS)[0] + "民政局婚姻登记处",
        }
        if draw.percent() < 15:
            divorced = min(today, married + dt.timedelta(days=365 * (1 + draw.number(8))))
            return [record, {**record, "hyzk": "40", "djlx": "离婚登记", "djrq": _ymd(divorced)}]
        return [record]
    if category == "identity_card":
        issued = draw.date(max(born, today - dt.timedelta(days=20 * 365)), today)
        valid_years = 10 if age < 26 else 20 if age < 46 else None
        district = draw.pick(_DISTRICTS)[0]
        return [
            {
                **base,
                "xb": "1" if int(id_number[16]) % 2 else "2",
                "mz": "汉族",
                "csrq": _ymd(born),
                "zz": f"浙江省杭州市{district}{draw.pick(_STREETS)}{1 + draw.number(300)}号",
                "qfjg": f"杭州市公安局{district}分局",
                "yxqqsrq": _ymd(issued),
                "yxqjzrq": _ymd(_add_years(issued, valid_years)) if valid_years else "长期",
            }
        ]
    if category == "student_status":
        records = []
        entry_year = born.year + 18
        for _ in range(1 + draw.number(2)):
            school, major = draw.pick(_SCHOOLS)
            level = draw.pick(_EDUCATION)
            years = {"专科": 3, "本科": 4, "硕士研究生": 3}[level]
            entered = dt.date(entry_year, 9, 1)
            graduated = dt.date(entry_year + years, 6, 30)
            records.append(
                {
                    **base,
                    "xxmc": school,
                    "zymc": major,
                    "xlcc": level,
                    "rxrq": _ymd(entered),
                    "byrq": _ymd(graduated) if graduated <= today else None,
                    "xjzt": "毕业" if graduated <= today else "在籍",
                }
            )
            entry_year += years
        return records
    if category == "qualification_certificates":
        title, level = draw.pick(_QUALIFICATIONS)
        return [
            {
                **base,
                "zsmc": title,
                "zsbh": "S" + draw.digits(15),
                "zsdj": level,
                "fzjg": "杭州市人力资源和社会保障局",
                "fzrq": _ymd(draw.date(start, today)),
            }
        ]
    if category == "professional_titles":
        title, level = draw.pick(_TITLES)
        return [
            {
                **base,
                "zcmc": title,
                "zcjb": level,
                "psjg": "杭州市" + title[-2:] + "系列职称评审委员会",
                "qdrq": _ymd(draw.date(start, today)),
                "zsbh": "ZC" + draw.digits(12),
            }
        ]
    if category == "household_registration":
        status = _household_status(draw)
        district, station = draw.pick(_DISTRICTS)
        changed = draw.date(start, today)
        note = {
            "0": None,
            "2": "迁往" + draw.pick(_MOVED_TO),
            "4": "应征入伍注销",
        }.get(status, CANCELLATION_NOTES.get(status, "注销"))
        return [
            {
                **base,
                "hjzt": status,
                "hh": "3301" + draw.digits(8),
                "yhzgx": draw.pick(("户主", "配偶", "子", "女")),
                "hjdz": f"浙江省杭州市{district}{draw.pick(_STREETS)}{1 + draw.number(300)}号",
                "sspcs": station,
                "djrq": _ymd(born),
                "bdrq": _ymd(changed) if status != "0" else None,
                "bdsm": note,
            }
        ]
    if category == "residence_permit":
        issued = draw.date(max(start, today - dt.timedelta(days=3 * 365)), today)
        expires = _add_years(issued, 1)
        status = "3" if draw.percent() < 5 else ("1" if expires >= today else "2")
        district = draw.pick(_DISTRICTS)[0]
        return [
            {
                **base,
                "jzzbh": "330100" + draw.digits(12),
                "jzdz": f"浙江省杭州市{district}{draw.pick(_STREETS)}{1 + draw.number(300)}号",
                "zjzt": status,
                "fzjg": f"杭州市公安局{district}分局",
                "fzrq": _ymd(issued),
                "yxqz": _ymd(expires),
            }
        ]
    raise ValueError(f"未知的核查类别：{category}")


# --------------------------------------------------------------------------- state


@dataclass
class _Issued:
    value: str
    expires_at: float
    revoked: bool = False


class BigDataState(SimulatorState):
    """Mutable simulator state: credentials, issued secrets, clock, overrides, quota, latency, faults, counters."""

    def __init__(
        self,
        *,
        app_key: str = DEFAULT_APP_KEY,
        app_secret: str = DEFAULT_APP_SECRET,
        org: str = DEFAULT_ORG,
        quota_per_second: float | None = None,
        clock: Callable[[], float] | None = None,
        interface_ids: Mapping[str, str] | None = None,
        string_datas_categories: Iterable[str] = STRING_DATAS_CATEGORIES,
        request_secret_ttl: float = REQUEST_SECRET_TTL,
        refresh_secret_ttl: float = REFRESH_SECRET_TTL,
        skew_seconds: float = GEN2_SKEW,
        request_time_window_seconds: float = REQUEST_TIME_WINDOW,
        config: SimulatorConfig | None = None,
    ) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.org = org
        self.request_secret_ttl = request_secret_ttl
        self.refresh_secret_ttl = refresh_secret_ttl
        self.skew_seconds = skew_seconds
        self.request_time_window_seconds = request_time_window_seconds
        self.string_datas_categories = frozenset(string_datas_categories)
        unknown = sorted(set(interface_ids or {}) - set(INTERFACES))
        if unknown:
            raise ValueError(f"未知的核查类别：{', '.join(unknown)}")
        self.interface_ids = {**INTERFACES, **(interface_ids or {})}
        self.category_by_interface = {interface: code for code, interface in self.interface_ids.items()}
        self._base_clock = clock or time.time
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        config = config or SimulatorConfig()
        if quota_per_second is not None:
            config = config.replace(quota_per_second=quota_per_second)
        super().__init__(config)
        self._init_mutable()

    def latency_keys(self) -> Iterable[str]:
        return (*INTERFACES, *self.category_by_interface)

    def configure(self, config: SimulatorConfig) -> None:
        """As :meth:`SimulatorState.configure`; ``interface_latency_ms`` may name interface ids or categories."""
        by_category = {self.category_by_interface.get(k, k): v for k, v in config.interface_latency_ms.items()}
        super().configure(config)
        self.latency.set(config.latency_ms, by_category)

    def _init_mutable(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._requests: list[_Issued] = []
            self._refreshes: list[_Issued] = []
            self._records: dict[tuple[str, str], list[dict[str, object]]] = {}
            self._extra: dict[tuple[str, str], list[dict[str, object]]] = {}
            self._household: dict[str, str] = {}
            self._full: set[str] = set()
            self._counters = {}

    def reset(self) -> None:
        """Back to the deterministic data and the starting configuration: no secrets, overrides, counters."""
        self._init_mutable()
        super().reset()

    # ---- clock

    def now(self) -> float:
        """The simulator's clock (epoch seconds): the base clock plus what :meth:`advance` added."""
        return self._base_clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Jump the simulator's clock forward (secrets expire, time checks move)."""
        with self._lock:
            self._offset += seconds

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now()).date()

    def set_quota(self, per_second: float | None) -> None:
        """Calls per second allowed for the app, both generations together (``None``: unlimited)."""
        self.quota.set(per_second)

    def request_time_ok(self, request_time: str) -> bool:
        """Gen-1: epoch milliseconds within the window around the gateway's clock."""
        if not request_time.isdigit() or len(request_time) > 16:
            return False
        return abs(int(request_time) / 1000 - self.now()) <= self.request_time_window_seconds

    # ---- gen-1 secrets

    def issue_secrets(self) -> dict[str, object]:
        """A new request/refresh secret pair; every earlier pair is revoked."""
        now = self.now()
        with self._lock:
            for issued in (*self._requests, *self._refreshes):
                issued.revoked = True
            request = _Issued(secrets_module.token_hex(16), now + self.request_secret_ttl)
            refresh = _Issued(secrets_module.token_hex(16), now + self.refresh_secret_ttl)
            self._requests = [*self._requests[-_HISTORY:], request]
            self._refreshes = [*self._refreshes[-_HISTORY:], refresh]
        return {
            "requestSecret": request.value,
            "requestSecretEndTime": int(request.expires_at * 1000),
            "refreshSecret": refresh.value,
            "refreshSecretEndTime": int(refresh.expires_at * 1000),
        }

    def _check(self, issued: list[_Issued], app_key: str, request_time: str, sign: str) -> str:
        """``"ok"``, ``"expired"`` (signed with an expired or revoked secret) or ``"bad"``."""
        now = self.now()
        with self._lock:
            candidates = list(issued)
        for item in reversed(candidates):
            if hmac.compare_digest(gen1_signature(app_key, item.value, request_time), sign):
                return "ok" if not item.revoked and item.expires_at > now else "expired"
        return "bad"

    def check_request_sign(self, app_key: str, request_time: str, sign: str) -> str:
        return self._check(self._requests, app_key, request_time, sign)

    def check_refresh_sign(self, app_key: str, request_time: str, sign: str) -> str:
        return self._check(self._refreshes, app_key, request_time, sign)

    def expire_request_secrets(self) -> None:
        """Make every issued request secret expire now (the ``expire_secret`` fault)."""
        with self._lock:
            for issued in self._requests:
                issued.revoked = True

    def expire_refresh_secrets(self) -> None:
        """Make every issued refresh secret expire now (while the client still believes it valid)."""
        with self._lock:
            for issued in self._refreshes:
                issued.revoked = True

    # ---- data and run-time changes

    @staticmethod
    def _category(category: str) -> str:
        if category not in INTERFACES:
            raise ValueError(f"未知的核查类别：{category}；可选：{', '.join(INTERFACES)}")
        return category

    def set_household_status(self, id_number: str, code: str) -> None:
        """Force one person's household-registration status code (``"0"`` 正常, ``"2"`` 迁出, …)."""
        code = str(code)
        if code != HOUSEHOLD_NORMAL and code not in CANCELLATION_NOTES:
            codes = ", ".join((HOUSEHOLD_NORMAL, *CANCELLATION_NOTES))
            raise ValueError(f"未知的户籍状态代码“{code}”，可选：{codes}")
        with self._lock:
            self._household[normalize_id_number(id_number)] = code

    def set_records(self, id_number: str, category: str, records: list[dict[str, object]] | None) -> None:
        """Force one person's raw records in a category (``[]``: no record; ``None``: drop the override)."""
        key = (normalize_id_number(id_number), self._category(category))
        with self._lock:
            if records is None:
                self._records.pop(key, None)
            else:
                self._records[key] = [dict(r) for r in records]

    def add_record(self, id_number: str, category: str, record: Mapping[str, object]) -> None:
        """Add one raw record to what the person already has (a vehicle registered, a marriage, …)."""
        key = (normalize_id_number(id_number), self._category(category))
        with self._lock:
            self._extra.setdefault(key, []).append(dict(record))

    def set_full_profile(self, id_number: str) -> None:
        """Give one person at least one record in every category."""
        with self._lock:
            self._full.add(normalize_id_number(id_number))

    def records_for(self, id_number: str, name: str, category: str) -> list[dict[str, object]]:
        """The raw records the gateway returns for a person in a category (run-time changes applied)."""
        with self._lock:
            override = self._records.get((id_number, category))
            extra = [dict(r) for r in self._extra.get((id_number, category), [])]
            household = self._household.get(id_number)
            full = id_number in self._full
        if override is not None:
            return [dict(r) for r in override] + extra
        forced = full or (category == "household_registration" and household is not None)
        records = sample_records(id_number, name, category, today=self.today(), at_least_one=forced)
        if category == "household_registration" and household is not None:
            for record in records:
                record["hjzt"] = household
                if household == HOUSEHOLD_NORMAL:
                    record["bdrq"] = record["bdsm"] = None
                else:
                    record["bdrq"] = record.get("bdrq") or _ymd(self.today())
                    record["bdsm"] = record.get("bdsm") or CANCELLATION_NOTES[household]
        return records + extra

    # ---- stats

    def count(self, outcome: str) -> None:
        """Count a protocol outcome (``refresh_by_key``, ``code_11``, ``quota``, ...)."""
        with self._lock:
            self._counters[outcome] = self._counters.get(outcome, 0) + 1

    def counter(self, outcome: str) -> int:
        with self._lock:
            return self._counters.get(outcome, 0)

    def stats(self) -> dict[str, Any]:
        """Common stats (calls per endpoint, in flight, …) plus protocol outcomes; ``refreshes`` counts issued pairs."""
        with self._lock:
            outcomes = dict(self._counters)
        stats = super().stats()
        stats["outcomes"] = outcomes
        stats["refreshes"] = outcomes.get("refresh_by_key", 0) + outcomes.get("refresh_by_secret", 0)
        return stats


# --------------------------------------------------------------------------- responses


def _envelope(code: str, msg: str, datas: object = None, count: int | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, object] = {"code": code, "msg": msg, "datas": datas}
    if count is not None:
        body["dataCount"] = count
    return JSONResponse(body, status_code=status)


def gen1_error_body(reason: str, status: int) -> dict[str, Any]:
    """Transport faults in the gen-1 envelope."""
    if reason == "throttled":
        return {"code": "18", "msg": "调用频率超过限额", "datas": None}
    return {"code": "99", "msg": "网关处理超时" if reason == "timeout" else "服务暂不可用", "datas": None}


def gen2_error_body(reason: str, status: int) -> dict[str, Any]:
    """Transport faults in the gen-2 shape ``{"message": ...}``."""
    return {
        "message": {"timeout": "Gateway timeout", "throttled": "Too many requests"}.get(reason, "Service unavailable")
    }


def _irs_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=dict(headers or {}))


def _business_payload(
    sim: BigDataState, category: str, params: Mapping[str, str]
) -> tuple[str, list[dict[str, object]]] | str:
    """Validated ID number and the records; or a Chinese parameter-error message."""
    try:
        id_number = normalize_id_number(params.get("sfzh"), "sfzh")
    except InvalidIdNumber as exc:
        return f"参数错误：{exc}"
    name = params.get("xm")
    if not isinstance(name, str) or not name.strip():
        return "参数错误：xm 不能为空"
    return id_number, sim.records_for(id_number, name.strip(), category)


def _answer(sim: BigDataState, category: str, id_number: str, records: list[dict[str, object]]) -> JSONResponse:
    sim.subjects.add(id_number, category)
    datas: object = records
    if category in sim.string_datas_categories:
        datas = json.dumps(records, ensure_ascii=False)
    return _envelope("00", "成功" if records else "查无数据", datas, len(records))


# --------------------------------------------------------------------------- app


def create_app(
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    quota_per_second: float | None = None,
    clock: Callable[[], float] | None = None,
    *,
    org: str = DEFAULT_ORG,
    interface_ids: Mapping[str, str] | None = None,
    string_datas_categories: Iterable[str] = STRING_DATAS_CATEGORIES,
    state: BigDataState | None = None,
    config: SimulatorConfig | None = None,
) -> Starlette:
    """The gateway simulator (both generations); ``app.state.sim`` is its :class:`BigDataState`."""
    sim = state or BigDataState(
        app_key=app_key,
        app_secret=app_secret,
        org=org,
        quota_per_second=quota_per_second,
        clock=clock,
        interface_ids=interface_ids,
        string_datas_categories=string_datas_categories,
        config=config,
    )
    plan = sim.plan

    def gen1_refusal(params: Mapping[str, str]) -> Response | None:
        """App key, parameters and request time of a gen-1 call (before its signature)."""
        if params.get("appKey") != sim.app_key:
            return _envelope("14", "应用不存在或签名错误")
        request_time, sign = params.get("requestTime", ""), params.get("sign", "")
        if not request_time or not sign:
            return _envelope("20", "参数错误：缺少 requestTime 或 sign")
        if not sim.request_time_ok(request_time):
            sim.count("request_time")
            window = f"{sim.request_time_window_seconds:g}"
            return _envelope("14", f"签名错误：requestTime 应为毫秒时间戳，且与网关时间相差不超过{window}秒")
        return None

    def gen1_quota() -> Response | None:
        if plan.take("quota") or sim.quota.take() is not None:
            sim.count("quota")
            return _envelope("18", "调用频率超过限额")
        return None

    # ---- gen-1

    async def token(request: Request, *, by_secret: bool) -> Response:
        faulted = await admit(sim, "refreshTokenBySec" if by_secret else "refreshTokenByKey", gen1_error_body)
        if faulted is not None:
            return faulted
        params = await _gen1_params(request)
        refused = gen1_refusal(params)
        if refused is not None:
            return refused
        app, request_time, sign = params["appKey"], params["requestTime"], params["sign"]
        if by_secret:
            verdict = sim.check_refresh_sign(app, request_time, sign)
        else:
            verdict = "ok" if hmac.compare_digest(gen1_signature(app, sim.app_secret, request_time), sign) else "bad"
        if verdict == "expired":
            sim.count("code_11")
            return _envelope("11", "refreshSecret不在有效期内，请使用 appKey 重新获取")
        if verdict != "ok" or plan.take("bad_signature"):
            sim.count("bad_signature")
            return _envelope("14", "签名错误")
        refused = gen1_quota()
        if refused is not None:
            return refused
        sim.count("refresh_by_secret" if by_secret else "refresh_by_key")
        return _envelope("00", "成功", sim.issue_secrets())

    async def refresh_by_key(request: Request) -> Response:
        return await token(request, by_secret=False)

    async def refresh_by_secret(request: Request) -> Response:
        return await token(request, by_secret=True)

    async def gen1_business(request: Request) -> Response:
        category = sim.category_by_interface.get(request.path_params["interface_id"])
        faulted = await admit(sim, "gen1:business", gen1_error_body, latency_key=category)
        if faulted is not None:
            return faulted
        if request.path_params["org"] != sim.org:
            return _envelope("19", "组织编码不存在")
        if category is None:
            return _envelope("19", "接口不存在或未授权")
        params = await _gen1_params(request)
        refused = gen1_refusal(params)
        if refused is not None:
            return refused
        if plan.take("expire_secret"):
            sim.expire_request_secrets()
        verdict = sim.check_request_sign(params["appKey"], params["requestTime"], params["sign"])
        if verdict == "expired":
            sim.count("code_11")
            return _envelope("11", "requestSecret不在有效期内")
        if verdict != "ok" or plan.take("bad_signature"):
            sim.count("bad_signature")
            return _envelope("14", "签名错误")
        refused = gen1_quota()
        if refused is not None:
            return refused
        payload = _business_payload(sim, category, params)
        if isinstance(payload, str):
            return _envelope("20", payload)
        return _answer(sim, category, *payload)

    # ---- gen-2

    async def gen2_business(request: Request) -> Response:
        category = sim.category_by_interface.get(request.path_params["interface_id"])
        faulted = await admit(sim, "gen2:business", gen2_error_body, latency_key=category)
        if faulted is not None:
            return faulted
        headers = request.headers
        access_key = headers.get("x-bg-hmac-access-key")
        date = headers.get("x-bg-date-time")
        signature = headers.get("x-bg-hmac-signature")
        if not (access_key and date and signature) or headers.get("x-bg-hmac-algorithm") != "hmac-sha256":
            return _irs_error(401, "Invalid signature")
        if access_key != sim.app_key or plan.take("expire_secret"):
            return _irs_error(401, "Invalid access key")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            sent = math.inf
        if not abs(sim.now() - sent) <= sim.skew_seconds:
            sim.count("clock_skew")
            return _irs_error(401, "Clock skew exceeded")
        query = request.query_params.multi_items()
        expected = gen2_signature(sim.app_secret, request.method, request.url.path, query, access_key, date)
        if not hmac.compare_digest(expected.encode(), signature.encode()) or plan.take("bad_signature"):
            sim.count("bad_signature")
            return _irs_error(401, "Invalid signature")
        wait = 1.0 if plan.take("quota") else sim.quota.take()
        if wait is not None:
            sim.count("quota")
            return _irs_error(429, "Too many requests", {"Retry-After": str(max(1, math.ceil(wait)))})
        if category is None:
            return _irs_error(404, "Interface not found")
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"code": "20", "msg": "参数错误：请求体不是JSON对象"}, status_code=400)
        payload = _business_payload(sim, category, {k: str(v) for k, v in body.items()})
        if isinstance(payload, str):
            return JSONResponse({"code": "20", "msg": payload}, status_code=400)
        return _answer(sim, category, *payload)

    # ---- admin

    async def admin_change(request: Request, change: Callable[[Any], object]) -> Response:
        try:
            change(await request.json())
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "now": sim.now()})

    async def put_household(request: Request) -> Response:
        who = request.path_params["id_number"]
        return await admin_change(request, lambda body: sim.set_household_status(who, str(body["status"])))

    async def put_records(request: Request) -> Response:
        who, category = request.path_params["id_number"], request.path_params["category"]
        return await admin_change(request, lambda body: sim.set_records(who, category, body["records"]))

    async def post_record(request: Request) -> Response:
        who, category = request.path_params["id_number"], request.path_params["category"]
        return await admin_change(request, lambda body: sim.add_record(who, category, dict(body["record"])))

    async def post_clock(request: Request) -> Response:
        return await admin_change(request, lambda body: sim.advance(float(body["advance_seconds"])))

    return simulator_app(
        "bigdata",
        sim,
        [
            Route(f"{GEN1_PREFIX}/app/refreshTokenByKey.htm", refresh_by_key, methods=["GET", "POST"]),
            Route(f"{GEN1_PREFIX}/app/refreshTokenBySec.htm", refresh_by_secret, methods=["GET", "POST"]),
            Route(
                GEN1_PREFIX + "/api/{org}/dataSharing/{interface_id}.htm",
                gen1_business,
                methods=["GET", "POST"],
            ),
            Route(GEN2_PREFIX + "/{interface_id}", gen2_business, methods=["POST"]),
            Route("/_admin/household/{id_number}", put_household, methods=["PUT"]),
            Route("/_admin/records/{id_number}/{category}", put_records, methods=["PUT"]),
            Route("/_admin/records/{id_number}/{category}", post_record, methods=["POST"]),
            Route("/_admin/clock", post_clock, methods=["POST"]),
        ],
    )


async def _gen1_params(request: Request) -> dict[str, str]:
    """Query parameters merged with a form-encoded body (the gateway accepts both)."""
    params = dict(request.query_params)
    if request.method == "POST":
        body = (await request.body()).decode("utf-8", "replace")
        params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
    return params
