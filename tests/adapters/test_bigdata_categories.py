"""The twelve verification categories, their normalisation, settings and ``verify_all``."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from soar_ext.adapters.bigdata import (
    CATEGORIES,
    CATEGORY_CODES,
    BigDataClient,
    BigDataSettings,
    BudgetExceeded,
    CategoryResult,
    QueryRecord,
    household_status_label,
)
from soar_ext.adapters.bigdata.categories import HOUSEHOLD_STATUS, get_category
from soar_ext.adapters.common import RequestRejected, UpstreamUnavailable
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, sample_records
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.audit import MemoryAuditSink
from soar_ext.idnumber import InvalidIdNumber
from soar_ext.secret import Secret
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    ShiftedClock,
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.adapters.guards import assert_no_leak, raises_clean

pytestmark = pytest.mark.anyio

PERSON = make_id(789)
NAME = "王芳"
PURPOSE = "公租房资格核查"

EXPECTED = {
    "social_insurance": "社保",
    "labour_contract": "劳动合同",
    "housing_fund": "公积金",
    "vehicles": "车辆",
    "enterprises": "名下企业",
    "marriage": "婚姻",
    "identity_card": "身份证",
    "student_status": "学籍",
    "qualification_certificates": "职业资格证",
    "professional_titles": "职称",
    "household_registration": "户籍",
    "residence_permit": "居住证",
}


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --------------------------------------------------------------------------- category table


def test_twelve_categories_with_chinese_labels_in_requirement_order():
    assert {code: CATEGORIES[code].label for code in CATEGORY_CODES} == EXPECTED
    assert list(CATEGORY_CODES) == list(EXPECTED)
    assert len({c.interface_id for c in CATEGORIES.values()}) == 12
    assert get_category("户籍") is get_category("household_registration")
    with raises_clean(ValueError, match="未知的核查类别“房产”"):
        get_category("房产")


def test_household_status_codes_keep_raw_code_and_readable_label():
    assert household_status_label("0") == "正常"
    assert {HOUSEHOLD_STATUS[c] for c in ("1", "2", "3", "4", "5")} == {
        "死亡",
        "迁出",
        "出国（境）定居",
        "服兵役",
        "失踪",
    }
    assert household_status_label("8") == "未知（代码8）"
    record = CATEGORIES["household_registration"].normalise_record({"hjzt": 2, "djrq": "20240501"})
    assert (record["户籍状态"], record["户籍状态代码"], record["登记日期"]) == ("迁出", "2", "2024-05-01")
    assert record["户号"] is None  # every declared column is present


def test_datas_shapes_normalise_or_are_rejected():
    category = CATEGORIES["vehicles"]
    assert category.normalise(None) == [] and category.normalise([]) == [] and category.normalise("") == []
    single = category.normalise({"hphm": "浙A12345", "zt": "A", "hpzl": "52", "ccdjrq": "20200102"})
    assert single == [
        {
            "所有人": None,
            "身份证号": None,
            "号牌号码": "浙A12345",
            "号牌种类": "小型新能源汽车",
            "号牌种类代码": "52",
            "车辆品牌": None,
            "初次登记日期": "2020-01-02",
            "机动车状态": "正常",
            "机动车状态代码": "A",
        }
    ]
    with raises_clean(ValueError):
        category.normalise(["not a record"])
    with raises_clean(ValueError):
        category.normalise(42)


def test_simulated_household_status_is_mostly_normal_with_realistic_cancellations():
    today = dt.date(2024, 6, 1)
    statuses = [
        sample_records(make_id(i, birth=f"19{60 + i % 40}0101"), "某某", "household_registration", today=today)[0][
            "hjzt"
        ]
        for i in range(1000)
    ]
    normal = statuses.count("0") / len(statuses)
    assert 0.84 <= normal <= 0.92
    assert {"1", "2", "5"} <= set(statuses)
    outside = make_id(1, area="110101")  # not a Zhejiang registration: no record
    assert sample_records(outside, "某某", "household_registration", today=today) == []


# --------------------------------------------------------------------------- settings


def test_settings_from_config_reads_every_key():
    settings = BigDataSettings.from_config(
        {
            "base_url": "https://gateway.example/",
            "rate_per_second": "15",
            "burst": 12,
            "generation": "2",
            "app_key": "AK",
            "app_secret": Secret("SK"),
            "refresh_margin_seconds": "90",
            "verify_budget_seconds": 8,
            "gen2_path": "irs/api/",
            "interface_household_registration": "HJ-2024",
        }
    )
    assert (settings.generation, settings.app_key, settings.app_secret.reveal()) == (2, "AK", "SK")
    assert (settings.http.base_url, settings.http.rate_per_second, settings.http.burst) == (
        "https://gateway.example",
        15.0,
        12,
    )
    assert (settings.refresh_margin_seconds, settings.verify_budget_seconds) == (90.0, 8.0)
    assert settings.gen2_path == "/irs/api"
    assert settings.interface_id("household_registration") == "HJ-2024"
    assert settings.interface_id("vehicles") == CATEGORIES["vehicles"].interface_id
    assert "SK" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"generation": "3"}, "generation 只能是 1 或 2"),
        ({"generation": 1}, "需要配置项 org"),
        ({"app_secret": None}, "app_secret"),
        ({"app_key": ""}, "app_key"),
    ],
)
def test_settings_reject_bad_config_with_clear_messages(overrides, message):
    section = {"base_url": "http://127.0.0.1:1", "generation": 2, "app_key": "AK", "app_secret": "SK"}
    section.update(overrides)
    with raises_clean(ValueError, match=message):
        BigDataSettings.from_config(section)


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize("generation", [1, 2])
async def test_all_twelve_categories_return_normalised_records_and_raw_payload(bigdata_sim, fast_http, generation):
    bigdata_sim.state.set_full_profile(PERSON)
    async with bigdata_sim.client(fast_http, generation=generation) as client:
        results = {code: await getattr(client, code)(PERSON, NAME, purpose=PURPOSE) for code in CATEGORY_CODES}
    for code, result in results.items():
        category = CATEGORIES[code]
        assert (result.category, result.label, result.status) == (code, EXPECTED[code], "found")
        assert result.records and isinstance(result.raw, list) and len(result.raw) == len(result.records)
        for record, raw in zip(result.records, result.raw, strict=True):
            assert all(_has_chinese(label) for label in record)
            assert list(record)[: len(category.fields)] != []
            for field in category.fields:
                assert field.label in record
                if field.codes is not None:
                    assert record[field.label + "代码"] == (None if raw.get(field.key) is None else str(raw[field.key]))
        assert result.data_count == len(result.records)
    assert results["identity_card"].records[0]["身份证号"] == PERSON
    assert results["identity_card"].records[0]["性别"] in {"男", "女"}


async def test_no_record_is_a_result_not_an_error(bigdata_sim, fast_http):
    bigdata_sim.state.set_records(PERSON, "enterprises", [])
    async with bigdata_sim.client(fast_http) as client:
        result = await client.enterprises(PERSON, NAME, purpose=PURPOSE)
        outsider = await client.query("户籍", make_id(5, area="110101"), NAME, purpose=PURPOSE)
    assert (result.status, result.records, result.found) == ("no_record", [], False)
    assert outsider.status == "no_record"


async def test_bad_input_is_rejected_before_anything_is_sent(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        with raises_clean(InvalidIdNumber, match="校验位"):
            await client.marriage(PERSON[:17] + ("0" if PERSON[17] != "0" else "1"), NAME, purpose=PURPOSE)
        with raises_clean(ValueError, match="查询目的不能为空"):
            await client.marriage(PERSON, NAME, purpose=" ")
        with raises_clean(ValueError, match="未知的核查类别"):
            await client.query("房产", PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.state.plan.calls() == 0


async def test_lowercase_x_id_number_is_normalised(bigdata_sim, fast_http):
    person = next(make_id(i) for i in range(1000) if make_id(i).endswith("X"))
    async with bigdata_sim.client(fast_http) as client:
        result = await client.identity_card(person.lower(), NAME, purpose=PURPOSE)
    assert result.records[0]["身份证号"] == person


# --------------------------------------------------------------------------- verify_all


@pytest.mark.parametrize("generation", [1, 2])
async def test_verify_all_asks_all_twelve_interfaces_at_once_each_with_its_own_latency(
    bigdata_sim, fast_http, generation
):
    latencies = {code: (500 + 20 * i, 500 + 20 * i) for i, code in enumerate(CATEGORY_CODES)}  # 500..720 ms
    async with bigdata_sim.client(fast_http, generation=generation, burst=20) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)  # gen-1: secret fetched before
        bigdata_sim.state.configure(SimulatorConfig(interface_latency_ms=latencies))
        bigdata_sim.state.reset_counters()
        started = time.perf_counter()
        results = await client.verify_all(PERSON, NAME, purpose=PURPOSE)
        elapsed = time.perf_counter() - started
    assert list(results) == list(CATEGORY_CODES)
    assert all(isinstance(r, CategoryResult) for r in results.values())
    # concurrent: one at a time would keep one request in flight and take the sum of the latencies (7.32 s)
    assert bigdata_sim.state.max_in_flight >= 8
    assert 0.72 <= elapsed < 7.32 / 2  # at least the slowest interface's own latency
    assert bigdata_sim.state.subjects.snapshot() == {PERSON: dict.fromkeys(CATEGORY_CODES, 1)}


async def test_verify_all_cuts_off_at_the_budget_and_reports_each_category(bigdata_sim, fast_http):
    records: list[QueryRecord] = []
    bigdata_sim.state.plan.set("latency_ms", latency_ms=800)
    async with bigdata_sim.client(fast_http, generation=2, burst=20, on_query=records.append) as client:
        started = time.perf_counter()
        results = await client.verify_all(
            PERSON, NAME, purpose=PURPOSE, categories=["户籍", "vehicles"], budget_seconds=0.2
        )
        elapsed = time.perf_counter() - started
    assert elapsed < 0.6
    assert list(results) == ["household_registration", "vehicles"]
    assert all(isinstance(r, BudgetExceeded) for r in results.values())
    assert "超过核查时限0.2秒" in str(results["household_registration"])
    assert sorted((r.category, r.status) for r in records) == [
        ("household_registration", "cancelled"),
        ("vehicles", "cancelled"),
    ]


async def test_one_failing_category_does_not_hide_the_others(bigdata_sim, fast_http):
    settings = BigDataSettings(
        http=fast_http(bigdata_sim.base_url),
        generation=2,
        app_key=DEFAULT_APP_KEY,
        app_secret=Secret(DEFAULT_APP_SECRET),
        interface_ids={"vehicles": "no_such_interface"},
    )
    async with BigDataClient(settings) as client:
        results = await client.verify_all(
            PERSON, NAME, purpose=PURPOSE, categories=["vehicles", "identity_card", "vehicles"]
        )
    assert list(results) == ["vehicles", "identity_card"]
    assert isinstance(results["vehicles"], RequestRejected)
    assert isinstance(results["identity_card"], CategoryResult)


@pytest.mark.parametrize("fault", ["deep_json", "bad_encoding"])
async def test_verify_all_records_a_malformed_category_and_carries_on(bigdata_sim, fast_http, fault):
    bigdata_sim.state.plan.set(fault, count=1)  # whichever category asks first gets the broken answer
    async with bigdata_sim.client(fast_http, generation=2) as client:
        results = await client.verify_all(PERSON, NAME, purpose=PURPOSE, categories=["户籍", "车辆"])
    kinds = sorted(type(r).__name__ for r in results.values())
    assert kinds == ["BadResponse", "CategoryResult"]
    for result in results.values():
        if isinstance(result, BaseException):
            assert_no_leak(result)


async def test_verify_all_records_unexpected_errors_as_typed_failures(bigdata_sim, fast_http):
    def audit(record: QueryRecord) -> None:
        if record.category == "vehicles":
            raise RuntimeError(f"audit store refused {record.subject_id_number}")

    async with bigdata_sim.client(fast_http, generation=2, on_query=audit) as client:
        results = await client.verify_all(PERSON, NAME, purpose=PURPOSE, categories=["户籍", "车辆"])
    vehicles = results["vehicles"]
    assert isinstance(vehicles, UpstreamUnavailable) and "RuntimeError" in str(vehicles)
    assert_no_leak(vehicles)
    assert isinstance(results["household_registration"], CategoryResult)


async def test_query_records_become_audit_events_with_masked_subject(bigdata_sim, fast_http):
    sink = MemoryAuditSink()
    async with bigdata_sim.client(
        fast_http, on_query=lambda r: sink.record(r.to_audit_event(operator_id="clerk-7"))
    ) as client:
        await client.verify_all(PERSON, NAME, purpose=PURPOSE, categories=["户籍", "婚姻"])
    assert len(sink.events) == 2
    event = sink.events[0]
    assert (event.action, event.operator_id, event.purpose) == ("bigdata_query", "clerk-7", PURPOSE)
    assert event.subject_masked == PERSON[:6] + "********" + PERSON[14:]
    assert event.interfaces in (("hj_czrkxx",), ("hy_djxx",))
    assert event.result_status in {"found", "no_record"}
    assert PERSON not in event.detail_json()


async def test_simulator_admin_routes_override_household_status_and_move_the_clock(bigdata_sim, fast_http):
    base = bigdata_sim.base_url
    clock = ShiftedClock()
    async with httpx.AsyncClient(base_url=base, timeout=5) as admin:
        assert (await admin.put(f"/_admin/household/{PERSON}", json={"status": "5"})).status_code == 200
        assert (await admin.put(f"/_admin/household/{PERSON}", json={"status": "X"})).status_code == 400
        async with bigdata_sim.client(fast_http, clock=clock) as client:
            result = await client.household_registration(PERSON, NAME, purpose=PURPOSE)
            moved = await admin.post("/_admin/clock", json={"advance_seconds": 16 * 60})
            assert moved.status_code == 200
            clock.advance(16 * 60)  # both clocks move: the client renews the secret before using it
            await client.household_registration(PERSON, NAME, purpose=PURPOSE)
    assert (result.records[0]["户籍状态"], result.records[0]["户籍状态代码"]) == ("失踪", "5")
    assert bigdata_sim.stats()["outcomes"]["refresh_by_secret"] == 1
