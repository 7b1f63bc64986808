"""Protocol points the simulators hold to, checked with raw HTTP over loopback (and the client where it reacts)."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from soar_ext.adapters.bigdata import categories as client_categories
from soar_ext.adapters.common import AuthenticationFailed
from soar_ext.adapters.simulators import bigdata as bigdata_simulator
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG, BigDataState
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.adapters.simulators.serve_all import serve
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    ShiftedClock,
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

PERSON = make_id(321)
NAME = "李四"
PURPOSE = "公租房资格核查"
BUSINESS = f"/gateway/api/{DEFAULT_ORG}/dataSharing/hj_czrkxx.htm"


def md5_sign(secret: str, request_time: str) -> str:
    return hashlib.md5(f"{DEFAULT_APP_KEY}{secret}{request_time}".encode()).hexdigest()


def now_ms(offset_seconds: float = 0.0) -> str:
    return str(int((time.time() + offset_seconds) * 1000))


def token(base_url: str, *, request_time: str | None = None, secret: str = DEFAULT_APP_SECRET) -> dict:
    request_time = request_time or now_ms()
    params = {"appKey": DEFAULT_APP_KEY, "requestTime": request_time, "sign": md5_sign(secret, request_time)}
    return httpx.get(base_url + "/gateway/app/refreshTokenByKey.htm", params=params, timeout=5).json()


def business(base_url: str, request_secret: str, *, request_time: str | None = None) -> dict:
    request_time = request_time or now_ms()
    form = {
        "appKey": DEFAULT_APP_KEY,
        "requestTime": request_time,
        "sign": md5_sign(request_secret, request_time),
        "sfzh": PERSON,
        "xm": NAME,
    }
    return httpx.post(base_url + BUSINESS, data=form, timeout=5).json()


def test_the_simulator_publishes_the_interfaces_the_client_expects():
    assert dict(bigdata_simulator.INTERFACES) == {
        code: category.interface_id for code, category in client_categories.CATEGORIES.items()
    }


# --------------------------------------------------------------------------- gen-1 requestTime


def test_gen1_request_time_must_be_milliseconds_within_the_window(bigdata_sim):
    url = bigdata_sim.base_url
    assert token(url)["code"] == "00"
    seconds = str(int(time.time()))  # the right unit is milliseconds
    in_seconds = token(url, request_time=seconds)
    assert in_seconds["code"] == "14" and "毫秒" in in_seconds["msg"]
    assert token(url, request_time=now_ms(-6 * 60))["code"] == "14"  # too old
    assert token(url, request_time=now_ms(+6 * 60))["code"] == "14"  # from the future
    assert token(url, request_time=now_ms(-4 * 60))["code"] == "00"  # within ±5 min
    assert token(url, request_time="17e11")["code"] == "14"
    secrets = token(url)["datas"]
    assert business(url, secrets["requestSecret"], request_time=now_ms(-400))["code"] == "14"
    assert business(url, secrets["requestSecret"])["code"] == "00"
    assert bigdata_sim.stats()["outcomes"]["request_time"] == 5


def test_the_request_time_window_is_configurable():
    with serve("bigdata", state=BigDataState(request_time_window_seconds=30)) as server:
        assert token(server.base_url, request_time=now_ms(-60))["code"] == "14"
        assert token(server.base_url, request_time=now_ms(-20))["code"] == "00"


async def test_a_client_whose_clock_is_off_is_told_to_check_it(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, clock=ShiftedClock(-10 * 60)) as client:
        with raises_clean(AuthenticationFailed, match="服务器时钟") as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert "requestTime" in str(raised.value)


# --------------------------------------------------------------------------- quota: token calls too, after signatures


def test_gen1_quota_applies_to_the_token_endpoint_and_only_after_the_signature(bigdata_sim):
    url = bigdata_sim.base_url
    bigdata_sim.state.set_quota(1)  # one call per second, burst one
    assert token(url, secret="wrong-secret-for-tests")["code"] == "14"  # refused before it is charged
    assert token(url)["code"] == "00"  # so the quota is still there for a good call
    assert token(url)["code"] == "18"  # and now it is used up
    assert bigdata_sim.stats()["outcomes"] == {"bad_signature": 1, "refresh_by_key": 1, "quota": 1}


def test_gen1_business_calls_are_charged_after_their_signature(bigdata_sim):
    url = bigdata_sim.base_url
    secrets = token(url)["datas"]
    bigdata_sim.state.set_quota(1)
    assert business(url, "not-the-request-secret")["code"] == "14"
    assert business(url, secrets["requestSecret"])["code"] == "00"
    assert business(url, secrets["requestSecret"])["code"] == "18"


def test_one_quota_is_shared_by_both_generations(bigdata_sim):
    url = bigdata_sim.base_url
    secrets = token(url)["datas"]
    bigdata_sim.state.set_quota(1)
    assert business(url, secrets["requestSecret"])["code"] == "00"
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    signed = bigdata_simulator.gen2_signature(
        DEFAULT_APP_SECRET, "POST", "/irs/api/hj_czrkxx", [], DEFAULT_APP_KEY, date
    )
    headers = {
        "X-BG-HMAC-ACCESS-KEY": DEFAULT_APP_KEY,
        "X-BG-HMAC-ALGORITHM": "hmac-sha256",
        "X-BG-DATE-TIME": date,
        "X-BG-HMAC-SIGNATURE": signed,
    }
    body = {"sfzh": PERSON, "xm": NAME}
    bad = dict(headers, **{"X-BG-HMAC-SIGNATURE": "AAAA"})
    assert httpx.post(url + "/irs/api/hj_czrkxx", headers=bad, json=body, timeout=5).status_code == 401
    over = httpx.post(url + "/irs/api/hj_czrkxx", headers=headers, json=body, timeout=5)
    assert over.status_code == 429 and over.json() == {"message": "Too many requests"}
    assert int(over.headers["Retry-After"]) >= 1


async def test_the_hmac_simulators_enforce_a_real_quota_after_the_signature(qianjiang_sim, fast_http):
    from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_SECRET as QJF_SECRET
    from soar_ext.secret import Secret

    qianjiang_sim.state.configure(SimulatorConfig(quota_per_second=2))
    settings = QianjiangSettings(
        http=fast_http(qianjiang_sim.base_url, retry_attempts=1), app_id=DEFAULT_APP_ID, app_secret=Secret(QJF_SECRET)
    )
    wrong = QianjiangSettings(
        http=fast_http(qianjiang_sim.base_url, retry_attempts=1),
        app_id=DEFAULT_APP_ID,
        app_secret=Secret("wrong-secret-for-tests"),
    )
    async with QianjiangClient(wrong) as forged, QianjiangClient(settings) as client:
        for _ in range(3):
            with raises_clean(AuthenticationFailed):
                await forged.score(PERSON, NAME, "AUTH-1")
        outcomes = []
        for _ in range(4):
            try:
                await client.score(PERSON, NAME, "AUTH-1")
                outcomes.append("ok")
            except Exception as exc:  # the kind is what is checked
                outcomes.append(type(exc).__name__)
    assert outcomes[:2] == ["ok", "ok"]  # the forged calls used none of the burst of two
    assert "QuotaExceeded" in outcomes[2:]


# --------------------------------------------------------------------------- transport faults in each protocol's shape


@pytest.mark.parametrize(
    ("kind", "params", "status"),
    [("status_5xx", {"status": 502}, 502), ("timeout", {"seconds": 0.05}, 504), ("status_429", {}, 429)],
)
def test_transport_faults_answer_in_each_protocols_own_shape(bigdata_sim, qianjiang_sim, kind, params, status):
    plan = bigdata_sim.state.plan
    plan.set(kind, count=1, **params)
    gen1 = httpx.get(bigdata_sim.base_url + "/gateway/app/refreshTokenByKey.htm", timeout=5)
    assert gen1.status_code == status and set(gen1.json()) == {"code", "msg", "datas"}
    plan.set(kind, count=1, **params)
    gen2 = httpx.post(bigdata_sim.base_url + "/irs/api/hj_czrkxx", json={}, timeout=5)
    assert gen2.status_code == status and set(gen2.json()) == {"message"}
    qianjiang_sim.state.plan.set(kind, count=1, **params)
    qjf = httpx.post(qianjiang_sim.base_url + "/api/v1/credit/qjf/score", json={}, timeout=5)
    assert qjf.status_code == status and set(qjf.json()) == {"code", "msg", "data"}
    if kind == "status_429":
        assert gen1.json()["code"] == "18" and qjf.json()["code"] == "4290"
        assert gen1.headers["Retry-After"] == gen2.headers["Retry-After"] == "1"


# --------------------------------------------------------------------------- an expired refresh secret


def test_an_expired_refresh_secret_is_answered_code_11(bigdata_sim):
    url = bigdata_sim.base_url
    refresh = token(url)["datas"]["refreshSecret"]
    bigdata_sim.state.expire_refresh_secrets()
    request_time = now_ms()
    params = {"appKey": DEFAULT_APP_KEY, "requestTime": request_time, "sign": md5_sign(refresh, request_time)}
    answer = httpx.get(url + "/gateway/app/refreshTokenBySec.htm", params=params, timeout=5).json()
    assert answer["code"] == "11" and answer["datas"] is None


async def test_the_client_falls_back_to_the_app_key_when_the_refresh_secret_has_expired(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        # the gateway takes back both secrets while the client still believes the refresh secret valid
        bigdata_sim.state.expire_request_secrets()
        bigdata_sim.state.expire_refresh_secrets()
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.calls("refreshTokenBySec") == 1 and bigdata_sim.calls("refreshTokenByKey") == 2
    assert bigdata_sim.stats()["outcomes"]["code_11"] == 2  # the business call, then refreshTokenBySec
    assert bigdata_sim.stats()["outcomes"]["refresh_by_key"] == 2
