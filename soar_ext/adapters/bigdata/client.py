"""``BigDataClient``: verification queries against the Big Data Bureau shared interfaces.

One method per verification category, a generic :meth:`BigDataClient.query`, and
:meth:`BigDataClient.verify_all`, which runs many categories concurrently within a wall-time
budget. The gateway generation (1 or 2) is a setting; callers never see the difference.

Every query, successful or not, is reported to the optional ``on_query`` callback as a
:class:`QueryRecord` so the host can write the audit row the data rules require. Log lines carry
masked ID numbers only, and never a name or a secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from soar_ext.adapters.bigdata.categories import CATEGORY_CODES, get_category
from soar_ext.adapters.bigdata.envelope import SYSTEM, Envelope
from soar_ext.adapters.bigdata.gen1 import Gen1Gateway, SharedSecretStore
from soar_ext.adapters.bigdata.gen2 import Gen2Gateway
from soar_ext.adapters.bigdata.settings import BigDataSettings
from soar_ext.adapters.common import (
    AdapterError,
    BadResponse,
    CircuitBreaker,
    UpstreamUnavailable,
    build_async_client,
    rate_limiter,
)
from soar_ext.audit import AuditEvent
from soar_ext.idnumber import mask_id_number, normalize_id_number
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

STATUS_FOUND = "found"
STATUS_NO_RECORD = "no_record"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"

# Business parameter names of the shared interfaces.
PARAM_ID_NUMBER = "sfzh"
PARAM_NAME = "xm"


@dataclass(frozen=True)
class CategoryResult:
    """The answer of one category: ``status`` is ``"found"`` or ``"no_record"`` (not an error).

    ``records`` are keyed by Chinese labels (see :mod:`.categories`); ``raw`` is the upstream
    ``datas`` as received (after decoding a JSON string). Both hold personal data and are left out
    of ``repr``.
    """

    category: str
    label: str
    status: str
    records: list[dict[str, object]] = field(repr=False)
    raw: object = field(repr=False)
    interface_id: str = ""
    generation: int = 1
    data_count: int | None = None

    @property
    def found(self) -> bool:
        return self.status == STATUS_FOUND


@dataclass(frozen=True)
class QueryRecord:
    """What the client reports for every query, for the host's audit table.

    ``status`` is ``found``, ``no_record``, ``error`` (``error_type`` names the error class) or
    ``cancelled`` (the verification budget ran out). ``subject_id_number`` is the full ID number
    (the audit sink stores it masked and digested); it is left out of ``repr``. ``at`` is when the
    query started (UTC).
    """

    category: str
    interface_id: str
    subject_id_number: str = field(repr=False)
    purpose: str
    status: str
    duration_seconds: float
    generation: int
    record_count: int = 0
    error_type: str | None = None
    at: dt.datetime | None = None

    @property
    def subject_masked(self) -> str:
        return mask_id_number(self.subject_id_number)

    def to_audit_event(self, *, operator_id: str | None, action: str = "bigdata_query") -> AuditEvent:
        """The audit event for this query (operator supplied by the host)."""
        detail: dict[str, object] = {
            "category": self.category,
            "generation": self.generation,
            "duration_ms": round(self.duration_seconds * 1000),
            "record_count": self.record_count,
        }
        if self.error_type:
            detail["error_type"] = self.error_type
        return AuditEvent(
            action=action,
            operator_id=operator_id,
            purpose=self.purpose,
            subject_id=self.subject_id_number,
            interfaces=(self.interface_id,),
            result_status=self.status,
            detail=detail,
            at=self.at,
        )


class BudgetExceeded(UpstreamUnavailable):
    """A category of :meth:`BigDataClient.verify_all` did not answer within the wall-time budget."""


def _unexpected_error(exc: BaseException, *, call: str) -> AdapterError:
    """A typed stand-in for an exception that is not an :class:`AdapterError` (type name only: no data)."""
    kind = type(exc).__name__
    # the traceback goes to the log (whose filter masks ID numbers); the returned error carries
    # the type name only, and no chained exception whose text could hold personal data
    log.warning("%s接口%s出现意外错误（%s）", SYSTEM, call, kind, exc_info=exc)
    if isinstance(exc, ValueError | RecursionError | UnicodeError | httpx.DecodingError):
        return BadResponse(SYSTEM, call, f"返回内容无法处理（{kind}）")
    return UpstreamUnavailable(SYSTEM, call, f"查询出现意外错误（{kind}）")


class Gateway(Protocol):
    generation: int

    async def fetch(self, interface_id: str, params: Mapping[str, str], *, call: str) -> Envelope: ...


QueryCallback = Callable[[QueryRecord], None]


class RequestLimiter(Protocol):
    """What paces the client's requests: one ``acquire()`` per request (``aiolimiter.AsyncLimiter``)."""

    async def acquire(self) -> None: ...


def _require_text(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field_name}不能为空")
    return value.strip()


class BigDataClient:
    """Client of the Big Data shared interfaces (gen-1 or gen-2 per ``settings.generation``).

    Use one instance per process (it holds the connection pool, the rate limiter, the circuit
    breaker and the gen-1 secrets) and close it with :meth:`aclose`. ``on_query`` is called
    synchronously after every query; an exception it raises propagates, so an unaudited result
    is never returned. ``clock`` (epoch seconds) is injectable for tests. ``limiter`` replaces
    the client's own rate limiter (``settings.http.rate_per_second``): anything with an
    ``acquire()`` coroutine awaited before every request, retries included — a batch worker
    passes its share of a quota shared by several nodes (:class:`soar_ext.quota.QuotaLimiter`).
    ``secret_store`` (gen-1) shares the secret pair with the app's other nodes
    (:class:`soar_ext.gateway_secrets.DbSecretStore`): without it each node renews its own, and
    since a renewal revokes the previous pair, several nodes keep revoking one another.
    """

    def __init__(
        self,
        settings: BigDataSettings,
        *,
        on_query: QueryCallback | None = None,
        clock: Callable[[], float] = time.time,
        limiter: RequestLimiter | None = None,
        secret_store: SharedSecretStore | None = None,
    ) -> None:
        self.settings = settings
        self.on_query = on_query
        self._clock = clock
        self.limiter: Any = limiter if limiter is not None else rate_limiter(settings.http)
        self.breaker = CircuitBreaker.from_settings(settings.http, system=SYSTEM)
        self._http: httpx.AsyncClient = build_async_client(settings.http)
        self._gateway: Gateway
        if settings.generation == 1:
            self._gateway = Gen1Gateway(
                settings, self._http, limiter=self.limiter, breaker=self.breaker, clock=clock, secret_store=secret_store
            )
        else:
            self._gateway = Gen2Gateway(settings, self._http, limiter=self.limiter, breaker=self.breaker, clock=clock)

    @property
    def generation(self) -> int:
        return self.settings.generation

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BigDataClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ generic query

    async def query(self, category: str, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """Query one category (code such as ``household_registration`` or label such as ``户籍``).

        Raises ``InvalidIdNumber``/``ValueError`` for bad input (nothing is sent) and
        :class:`~soar_ext.adapters.common.AdapterError` subclasses for upstream failures.
        """
        cat = get_category(category)
        id_number = normalize_id_number(id_number)
        name = _require_text(name, "姓名")
        purpose = _require_text(purpose, "查询目的")
        interface_id = self.settings.interface_id(cat.code)
        call = f"{cat.label}查询"
        at = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        started = time.perf_counter()

        def report(status: str, *, count: int = 0, error: BaseException | None = None) -> None:
            duration = time.perf_counter() - started
            log.info(
                "%s接口%s：证件号%s，结果%s，%d条，耗时%.0f毫秒",
                SYSTEM,
                call,
                mask_id_number(id_number),
                status if error is None else f"{status}（{type(error).__name__}）",
                count,
                duration * 1000,
            )
            if self.on_query is not None:
                self.on_query(
                    QueryRecord(
                        category=cat.code,
                        interface_id=interface_id,
                        subject_id_number=id_number,
                        purpose=purpose,
                        status=status,
                        duration_seconds=duration,
                        generation=self.generation,
                        record_count=count,
                        error_type=None if error is None else type(error).__name__,
                        at=at,
                    )
                )

        try:
            envelope = await self._gateway.fetch(
                interface_id, {PARAM_ID_NUMBER: id_number, PARAM_NAME: name}, call=call
            )
            try:
                records = cat.normalise(envelope.datas)
            except ValueError as exc:
                raise BadResponse(SYSTEM, call, str(exc)) from None
        except asyncio.CancelledError as exc:
            report(STATUS_CANCELLED, error=exc)
            raise
        except Exception as exc:
            report(STATUS_ERROR, error=exc)
            raise
        status = STATUS_FOUND if records else STATUS_NO_RECORD
        report(status, count=len(records))
        return CategoryResult(
            category=cat.code,
            label=cat.label,
            status=status,
            records=records,
            raw=envelope.datas,
            interface_id=interface_id,
            generation=self.generation,
            data_count=envelope.data_count,
        )

    # ------------------------------------------------------------------ all categories

    async def verify_all(
        self,
        id_number: str,
        name: str,
        *,
        purpose: str,
        categories: Iterable[str] | None = None,
        budget_seconds: float | None = None,
    ) -> dict[str, CategoryResult | AdapterError]:
        """Query many categories concurrently (all twelve by default) within a wall-time budget.

        Returns one entry per category code, in the order asked: the result, or the
        :class:`AdapterError` that category ended with (:class:`BudgetExceeded` when it had not
        answered when ``budget_seconds``, default ``settings.verify_budget_seconds``, ran out).
        One failing category never hides the others and never makes this method raise: an
        unexpected exception of one category (a decoding problem, a failing ``on_query``) is
        recorded for that category as a typed error — :class:`BadResponse` for malformed data,
        :class:`UpstreamUnavailable` otherwise — whose message names only the exception type.
        Bad input (ID number, name, purpose, category) still raises before anything is sent.
        """
        asked = CATEGORY_CODES if categories is None else categories
        codes = list(dict.fromkeys(get_category(c).code for c in asked))
        id_number = normalize_id_number(id_number)
        name = _require_text(name, "姓名")
        purpose = _require_text(purpose, "查询目的")
        budget = budget_seconds if budget_seconds is not None else self.settings.verify_budget_seconds
        tasks = {code: asyncio.create_task(self.query(code, id_number, name, purpose=purpose)) for code in codes}
        try:
            if tasks:
                await asyncio.wait(tasks.values(), timeout=budget)
        finally:
            for task in tasks.values():
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

        results: dict[str, CategoryResult | AdapterError] = {}
        for code, task in tasks.items():
            if task.cancelled():
                label = get_category(code).label
                results[code] = BudgetExceeded(SYSTEM, f"{label}查询", f"超过核查时限{budget:g}秒仍未返回，已取消")
                continue
            exc = task.exception()
            if exc is None:
                results[code] = task.result()
            elif isinstance(exc, AdapterError):
                results[code] = exc
            else:
                results[code] = _unexpected_error(exc, call=f"{get_category(code).label}查询")
        return results

    # ------------------------------------------------------------------ one method per category

    async def social_insurance(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """社保：social-insurance enrolment and contributions."""
        return await self.query("social_insurance", id_number, name, purpose=purpose)

    async def labour_contract(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """劳动合同：filed labour contracts."""
        return await self.query("labour_contract", id_number, name, purpose=purpose)

    async def housing_fund(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """公积金：housing-provident-fund accounts."""
        return await self.query("housing_fund", id_number, name, purpose=purpose)

    async def vehicles(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """车辆：registered motor vehicles."""
        return await self.query("vehicles", id_number, name, purpose=purpose)

    async def enterprises(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """名下企业：enterprises where the person is legal representative, shareholder or officer."""
        return await self.query("enterprises", id_number, name, purpose=purpose)

    async def marriage(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """婚姻：marriage registrations."""
        return await self.query("marriage", id_number, name, purpose=purpose)

    async def identity_card(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """身份证：resident identity card."""
        return await self.query("identity_card", id_number, name, purpose=purpose)

    async def student_status(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """学籍：student status and degrees."""
        return await self.query("student_status", id_number, name, purpose=purpose)

    async def qualification_certificates(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """职业资格证：professional qualification certificates."""
        return await self.query("qualification_certificates", id_number, name, purpose=purpose)

    async def professional_titles(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """职称：professional titles."""
        return await self.query("professional_titles", id_number, name, purpose=purpose)

    async def household_registration(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """户籍：household registration; ``户籍状态`` is decoded, ``户籍状态代码`` keeps the raw code."""
        return await self.query("household_registration", id_number, name, purpose=purpose)

    async def residence_permit(self, id_number: str, name: str, *, purpose: str) -> CategoryResult:
        """居住证：residence permits."""
        return await self.query("residence_permit", id_number, name, purpose=purpose)
