"""Known-answer signature vectors, checked against the client and, independently, against the simulators.

The expected values were computed once from the protocol text in docs/adapters.md with nothing
but ``hashlib``/``hmac``; neither side's code produced them. Each vector is also sent over
loopback to a simulator whose clock stands at the vector's time, which must accept it.
"""

from __future__ import annotations

import json

import httpx
import pytest

from soar_ext.adapters.bigdata import gen1, gen2
from soar_ext.adapters.hmac_client import HmacAuth, canonical_string, signature
from soar_ext.adapters.simulators import bigdata as bigdata_sim
from soar_ext.adapters.simulators.common import HmacVerifier, hmac_expected_signature
from soar_ext.adapters.simulators.qianjiang import QianjiangState
from soar_ext.adapters.simulators.serve_all import serve
from soar_ext.adapters.simulators.survey import SurveyState
from soar_ext.secret import Secret

# --------------------------------------------------------------------------- gen-1: md5(appKey + secret + requestTime)

GEN1_VECTORS = [
    ("demo-app", "demo-secret", "1700000000000", "7ee92a28bd71c2ad3a50899265819b13"),
    ("A330100000001", "f1e2d3c4b5a6", "1714521600123", "023462e4a6afd42d3357773acc7a950e"),
]


@pytest.mark.parametrize(("app_key", "secret", "request_time", "expected"), GEN1_VECTORS)
def test_gen1_vectors_on_both_sides(app_key, secret, request_time, expected):
    assert gen1.sign(app_key, secret, request_time) == expected
    assert bigdata_sim.gen1_signature(app_key, secret, request_time) == expected


def test_gen1_simulator_accepts_the_vector_at_its_time():
    app_key, secret, request_time, expected = GEN1_VECTORS[1]
    with serve("bigdata", app_key=app_key, app_secret=secret, clock=lambda: 1714521600.123) as server:
        answer = httpx.get(
            server.base_url + "/gateway/app/refreshTokenByKey.htm",
            params={"appKey": app_key, "requestTime": request_time, "sign": expected},
            timeout=5,
        ).json()
        wrong = httpx.get(
            server.base_url + "/gateway/app/refreshTokenByKey.htm",
            params={"appKey": app_key, "requestTime": request_time, "sign": expected[::-1]},
            timeout=5,
        ).json()
    assert answer["code"] == "00" and answer["datas"]["requestSecret"]
    assert wrong["code"] == "14"


# --------------------------------------------------------------------------- gen-2: base64 HMAC-SHA256 over five lines

DATE = "Wed, 01 May 2024 00:00:00 GMT"
AT_DATE = 1714521600.0
GEN2_VECTORS = [
    ("/irs/api/hj_czrkxx", [], "DqZHGDHZeXrXWq6mCgdrtz2DeJbogP0lPg+xVYbHL9M="),
    ("/irs/api/jdc_djxx", [("page", "2"), ("area", "杭州 西湖")], "r6qaSf1ciPtwoRlq8rBylM9KXOMNbe6NyV3XLTGZxA8="),
]


@pytest.mark.parametrize(("path", "query", "expected"), GEN2_VECTORS)
def test_gen2_vectors_on_both_sides(path, query, expected):
    assert gen2.signature("sk-2024-secret", gen2.string_to_sign("POST", path, query, "ak-2024", DATE)) == expected
    headers = gen2.signed_headers(
        access_key="ak-2024", secret=Secret("sk-2024-secret"), method="POST", path=path, query=query, date=DATE
    )
    assert headers["X-BG-HMAC-SIGNATURE"] == expected
    assert bigdata_sim.gen2_signature("sk-2024-secret", "POST", path, query, "ak-2024", DATE) == expected


@pytest.mark.parametrize(("path", "query", "expected"), GEN2_VECTORS)
def test_gen2_simulator_accepts_the_vector_at_its_time(path, query, expected):
    headers = {
        "X-BG-HMAC-ACCESS-KEY": "ak-2024",
        "X-BG-HMAC-ALGORITHM": "hmac-sha256",
        "X-BG-DATE-TIME": DATE,
        "X-BG-HMAC-SIGNATURE": expected,
    }
    body = {"sfzh": "330106198503121231", "xm": "张三"}
    with serve("bigdata", app_key="ak-2024", app_secret="sk-2024-secret", clock=lambda: AT_DATE + 30) as server:
        accepted = httpx.post(server.base_url + path, params=query, headers=headers, json=body, timeout=5)
        tampered = httpx.post(
            server.base_url + path, params=[*query, ("x", "1")], headers=headers, json=body, timeout=5
        )
    assert accepted.status_code == 200 and accepted.json()["code"] == "00"
    assert tampered.status_code == 401 and tampered.json() == {"message": "Invalid signature"}


# --------------------------------------------------------------------------- the X-App-Id HMAC scheme

SCORE_BODY = json.dumps(
    {"authRef": "AUTH-1", "idNumber": "330106198503121231", "name": "张三"}, ensure_ascii=False, separators=(",", ":")
).encode()
HMAC_VECTORS = [
    (
        "qjf-simulator-secret",
        "POST",
        "/api/v1/credit/qjf/score",
        [],
        "0123456789abcdef01234567",
        SCORE_BODY,
        "e5d11078354bebf3901f4267204548e74f1accc231abde71c9ed430ae6b3fb59",
    ),
    (
        "survey-simulator-secret",
        "GET",
        "/api/survey/v1/projects",
        [("projectNumber", "PJ2019-0001"), ("projectName", "钱江世纪城 R12/03")],
        "nonce-2",
        b"",
        "64d7966a5cf45733860d5cbcc755a6493677db9b4aa0d2eb1ef867642f2b01dc",
    ),
]
TIMESTAMP = "1714521600000"


@pytest.mark.parametrize(("secret", "method", "path", "query", "nonce", "body", "expected"), HMAC_VECTORS)
def test_hmac_vectors_on_both_sides(secret, method, path, query, nonce, body, expected):
    canonical = canonical_string(method, path, query, "soar-ext-sim", TIMESTAMP, nonce, body)
    assert signature(secret, canonical) == expected
    auth = HmacAuth("soar-ext-sim", Secret(secret), clock=lambda: AT_DATE, nonce=lambda: nonce)
    request = httpx.Request(method, "http://upstream.test" + path, params=query, content=body or None)
    signed = next(auth.auth_flow(request))
    assert (signed.headers["X-Timestamp"], signed.headers["X-Nonce"]) == (TIMESTAMP, nonce)
    assert signed.headers["X-Signature"] == expected
    sim_side = hmac_expected_signature(secret, method, path, query, "soar-ext-sim", TIMESTAMP, nonce, body)
    assert sim_side == expected
    verifier = HmacVerifier({"soar-ext-sim": secret}, clock=lambda: AT_DATE + 60)
    headers = {"x-app-id": "soar-ext-sim", "x-timestamp": TIMESTAMP, "x-nonce": nonce, "x-signature": expected}
    assert verifier.verify(method, path, query, headers, body) is None


@pytest.mark.parametrize("vector", HMAC_VECTORS, ids=["qianjiang", "survey"])
def test_hmac_simulators_accept_the_vector_at_its_time(vector):
    secret, method, path, query, nonce, body, expected = vector
    name, state = (
        ("qianjiang", QianjiangState({"soar-ext-sim": secret}, clock=lambda: AT_DATE + 60))
        if path.startswith("/api/v1")
        else ("survey", SurveyState({"soar-ext-sim": secret}, clock=lambda: AT_DATE + 60))
    )
    headers = {"X-App-Id": "soar-ext-sim", "X-Timestamp": TIMESTAMP, "X-Nonce": nonce, "X-Signature": expected}
    with serve(name, state=state) as server:
        answer = httpx.request(method, server.base_url + path, params=query, headers=headers, content=body, timeout=5)
        replayed = httpx.request(method, server.base_url + path, params=query, headers=headers, content=body, timeout=5)
    assert answer.status_code == 200 and answer.json()["code"] == "0"
    assert replayed.status_code == 401 and replayed.json()["code"] == "4014"  # each nonce once
