"""Gen-2 (IRS) Big Data gateway (HMAC header signing) against its simulator over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest

from soar_ext.adapters.bigdata.gen2 import http_date, signature, signed_headers, string_to_sign
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    ClockSkew,
    QuotaExceeded,
    UpstreamUnavailable,
)
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from soar_ext.secret import Secret
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    WRONG_SECRET,
    RunningBigData,
    ShiftedClock,
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

PERSON = make_id(456)
NAME = "李四"
PURPOSE = "公租房资格核查"


# --------------------------------------------------------------------------- signing


def test_gen2_string_to_sign_and_hmac_match_known_vector():
    date = "Tue, 05 Mar 2024 08:00:00 GMT"
    text = string_to_sign("post", "/irs/api/hj_czrkxx", {"c": "杭", "b": "2 x", "a": "1"}, "demo-app", date)
    literal = "POST\n/irs/api/hj_czrkxx\na=1&b=2%20x&c=%E6%9D%AD\ndemo-app\nTue, 05 Mar 2024 08:00:00 GMT\n"
    assert text == literal
    expected = base64.b64encode(hmac.new(b"demo-secret", literal.encode(), hashlib.sha256).digest()).decode()
    assert expected == "wMLqSV8I8zm0C2A/CmVYEQjC6QH0tejGxafqCY9V130="
    assert signature("demo-secret", text) == expected


def test_gen2_headers_carry_key_algorithm_rfc1123_date_and_signature():
    date = http_date(1709625600)
    assert date == "Tue, 05 Mar 2024 08:00:00 GMT"
    headers = signed_headers(
        access_key="demo-app", secret=Secret("demo-secret"), method="POST", path="/irs/api/x", query={}, date=date
    )
    assert headers["X-BG-HMAC-ACCESS-KEY"] == "demo-app"
    assert headers["X-BG-HMAC-ALGORITHM"] == "hmac-sha256"
    assert headers["X-BG-DATE-TIME"] == date
    assert headers["X-BG-HMAC-SIGNATURE"] == signature(
        "demo-secret", "POST\n/irs/api/x\n\ndemo-app\nTue, 05 Mar 2024 08:00:00 GMT\n"
    )


def test_simulator_checks_the_signature_over_the_sorted_query():
    """A hand-signed request with query parameters passes the simulator's check (both sides agree)."""
    from soar_ext.adapters.simulators.bigdata import create_app
    from soar_ext.adapters.simulators.common import SimulatorServer

    with SimulatorServer(create_app()) as server:
        date = http_date(time.time())
        path, query = "/irs/api/jmsfz_xx", {"version": "1.0", "channel": "soar"}
        headers = signed_headers(
            access_key=DEFAULT_APP_KEY,
            secret=Secret(DEFAULT_APP_SECRET),
            method="POST",
            path=path,
            query=query,
            date=date,
        )
        body = {"sfzh": PERSON, "xm": NAME}
        ok = httpx.post(server.base_url + path, params=query, json=body, headers=headers, timeout=5)
        tampered = httpx.post(
            server.base_url + path, params={**query, "channel": "x"}, json=body, headers=headers, timeout=5
        )
    assert ok.status_code == 200 and ok.json()["code"] == "00"
    assert (tampered.status_code, tampered.json()) == (401, {"message": "Invalid signature"})


# --------------------------------------------------------------------------- calls


async def test_gen2_call_returns_normalised_records(bigdata_sim, fast_http):
    bigdata_sim.state.set_household_status(PERSON, "1")
    async with bigdata_sim.client(fast_http, generation=2) as client:
        result = await client.household_registration(PERSON, NAME, purpose=PURPOSE)
    assert (result.status, result.generation, result.interface_id) == ("found", 2, "hj_czrkxx")
    assert (result.records[0]["户籍状态"], result.records[0]["户籍状态代码"]) == ("死亡", "1")
    assert bigdata_sim.calls("gen2:business") == 1
    assert bigdata_sim.stats()["refreshes"] == 0  # gen-2 has no session secrets


async def test_wrong_secret_is_invalid_signature_and_not_retried(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, generation=2, secret=WRONG_SECRET) as client:
        with raises_clean(AuthenticationFailed, match="Invalid signature") as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert not isinstance(raised.value, ClockSkew)
    assert bigdata_sim.calls("gen2:business") == 1


async def test_unknown_access_key_is_reported_as_such(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, generation=2, app_key="someone-else") as client:
        with raises_clean(AuthenticationFailed, match=r"Invalid access key.*app_key"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen2:business") == 1


async def test_clock_skew_is_reported_clearly_and_not_retried(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, generation=2, clock=ShiftedClock(-300)) as client:
        with raises_clean(ClockSkew) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    message = str(raised.value)
    assert message.startswith("大数据局接口身份证查询：")
    assert "Clock skew exceeded" in message and "NTP" in message and "±90秒" in message
    assert "偏慢" in message and any(f"约{n}秒" in message for n in range(295, 306))  # a slow answer: a few s off
    assert bigdata_sim.calls("gen2:business") == 1


async def test_clock_difference_within_90_seconds_is_accepted(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, generation=2, clock=ShiftedClock(60)) as client:
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"


async def test_429_retry_after_is_honoured(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_429", count=1, retry_after=1)
    async with bigdata_sim.client(fast_http, generation=2, retry_max_delay=2.0) as client:
        started = time.perf_counter()
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        elapsed = time.perf_counter() - started
    assert result.status == "found"
    assert 0.95 <= elapsed < 1.8  # waited the announced second, not the 10 ms backoff
    assert bigdata_sim.calls("gen2:business") == 2


async def test_gateway_quota_answers_429_and_surfaces_quota_exceeded(bigdata_sim, fast_http):
    bigdata_sim.state.set_quota(1)
    async with bigdata_sim.client(fast_http, generation=2, retry_attempts=2, retry_max_delay=0.1) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        with raises_clean(QuotaExceeded) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert raised.value.retry_after == 1.0
    assert bigdata_sim.stats()["outcomes"]["quota"] == 2


async def test_gen2_5xx_is_retried_then_surfaces_upstream_unavailable(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_5xx", count=1)
    async with bigdata_sim.client(fast_http, generation=2, retry_attempts=3) as client:
        assert (await client.identity_card(PERSON, NAME, purpose=PURPOSE)).status == "found"
        bigdata_sim.state.plan.set("status_5xx", status=504)
        with raises_clean(UpstreamUnavailable) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert raised.value.status == 504
    assert bigdata_sim.calls("gen2:business") == 2 + 3


async def test_gen2_timeout_surfaces_upstream_unavailable(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("timeout", seconds=0.6)
    async with bigdata_sim.client(fast_http, generation=2, retry_attempts=2, read_timeout=0.2) as client:
        with raises_clean(UpstreamUnavailable, match="超时"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen2:business") == 2


async def test_gen2_malformed_body_is_bad_response(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("malformed", count=1)
    async with bigdata_sim.client(fast_http, generation=2) as client:
        with raises_clean(BadResponse):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen2:business") == 1


async def test_401_with_a_deeply_nested_body_is_still_an_authentication_failure(bigdata_sim, fast_http):
    deep = "[" * 100_000 + "]" * 100_000
    bigdata_sim.state.plan.set("raw_body", count=1, status=401, body=deep)
    async with bigdata_sim.client(fast_http, generation=2) as client:
        with raises_clean(AuthenticationFailed, match="HTTP 401"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen2:business") == 1


async def test_unknown_401_message_is_masked_scrubbed_and_cut(bigdata_sim, fast_http):
    message = f"denied sfzh={PERSON} for {DEFAULT_APP_KEY} with secret {DEFAULT_APP_SECRET} " + "x" * 5000
    bigdata_sim.state.plan.set("raw_body", count=1, status=401, body=json.dumps({"message": message}))
    async with bigdata_sim.client(fast_http, generation=2) as client:
        with raises_clean(AuthenticationFailed) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    text = str(raised.value)
    assert PERSON[:6] + "********" in text and len(text) < 300


async def test_undecodable_or_deeply_nested_answers_are_bad_responses(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, generation=2) as client:
        for fault in ("deep_json", "bad_encoding"):
            bigdata_sim.state.plan.set(fault, count=1)
            with raises_clean(BadResponse):
                await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen2:business") == 2  # not retried


@pytest.mark.parametrize("generation", [1, 2])
async def test_gateway_behind_a_path_prefix(fast_http, serve_mounted, generation):
    from soar_ext.adapters.simulators.bigdata import create_app

    app = create_app()
    base_url = serve_mounted(app, "/zj-gateway")
    running = RunningBigData(base_url, app.state.sim)
    async with running.client(fast_http, generation=generation) as client:
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
