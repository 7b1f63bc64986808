"""The ``http`` examples of docs/adapters.md are what the simulators answer.

A block is ``METHOD PATH`` (the query may be written unencoded), then header lines and an
optional body line, a blank line, and ``STATUS JSON``. The JSON shown is a pattern: an object's
keys must all be there with matching values (the answer may have more), a list's items are the
first items of the answer's list, and ``"…"`` matches any value. Placeholders in requests:
``<ms>`` (now, ms), ``<sign>`` (gen-1 md5 signature), ``<date>`` / ``<signature>`` (gen-2),
``<sha256>`` (of the body). The X-App-Id HMAC headers are added by the client's own signer.
Blocks of one simulator run in document order against one running simulator.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from soar_ext.adapters.hmac_client import HmacAuth
from soar_ext.adapters.simulators.serve_all import client_section, serve
from soar_ext.secret import Secret

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"
ANY = "…"
_PREFIXES = {
    "/api/v1/credit/qjf/": "qianjiang",
    "/api/survey/": "survey",
    "/api/docrepo/": "docrepo",
    "/gateway/": "bigdata",
    "/irs/": "bigdata",
}


@dataclass
class Example:
    line: int
    method: str
    target: str
    headers: dict[str, str]
    body: str | None
    status: int
    expected: Any

    @property
    def simulator(self) -> str:
        return next(name for prefix, name in _PREFIXES.items() if self.target.startswith(prefix))


def _examples() -> list[Example]:
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"```http\n(.*?)```", text, flags=re.S):
        request, _, response = match.group(1).strip().partition("\n\n")
        first, *rest = request.splitlines()
        method, target = first.split(" ", 1)
        headers, body = {}, None
        for item in rest:
            name, sep, value = item.partition(": ")
            if sep and re.fullmatch(r"[A-Za-z0-9-]+", name):
                headers[name] = value
            else:
                body = item
        status, _, payload = response.strip().partition(" ")
        line = text[: match.start()].count("\n") + 1
        found.append(Example(line, method, target, headers, body, int(status), json.loads(payload)))
    return found


EXAMPLES = _examples()


def matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) >= len(expected) and all(map(matches, expected, actual))
    return expected == actual and type(expected) is type(actual)


def test_the_document_has_examples_for_every_simulator():
    assert {e.simulator for e in EXAMPLES} == {"qianjiang", "survey", "docrepo", "bigdata"}
    assert sum(e.simulator == "bigdata" for e in EXAMPLES) >= 6


def test_the_pattern_rules_can_fail():
    assert matches({"a": [1], "b": ANY}, {"a": [1, 2], "b": None, "c": 3})
    assert not matches({"a": [1, 2]}, {"a": [1]})
    assert not matches({"a": 1}, {"a": 1.0}) and not matches({"a": 1}, {"b": 1})


class _Runner:
    """Sends the examples to running simulators, filling in signatures."""

    def __init__(self) -> None:
        self.servers: dict[str, Any] = {}
        self.request_secret: str | None = None

    def server(self, name: str) -> Any:
        if name not in self.servers:
            self.servers[name] = serve(name)
        return self.servers[name]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()

    def send(self, example: Example) -> httpx.Response:
        server = self.server(example.simulator)
        section = client_section(example.simulator, server)
        now = str(int(time.time() * 1000))
        target, headers, body = example.target.replace("<ms>", now), dict(example.headers), example.body
        if body is not None:
            body = body.replace("<ms>", now)
        if example.simulator == "bigdata":
            target, headers, body = self._sign_bigdata(server, section, example.method, target, headers, body)
            return httpx.request(example.method, server.base_url + target, headers=headers, content=body, timeout=10)
        content = (body or "").encode()
        headers = {k: v.replace("<sha256>", hashlib.sha256(content).hexdigest()) for k, v in headers.items()}
        if content.startswith(b"{"):
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        auth = HmacAuth(str(section["app_id"]), Secret(str(section["app_secret"])))
        path, _, query = target.partition("?")
        with httpx.Client(base_url=server.base_url, auth=auth, timeout=10) as http:
            return http.request(example.method, path, params=httpx.QueryParams(query), headers=headers, content=content)

    def _sign_bigdata(self, server, section, method, target, headers, body):  # type: ignore[no-untyped-def]
        app_key, app_secret = str(section["app_key"]), str(section["app_secret"])
        path, _, query = target.partition("?")
        params = httpx.QueryParams(query)
        form = httpx.QueryParams(body or "") if path.startswith("/gateway/") else None
        fields = form if form is not None and "requestTime" in form else params
        if "<sign>" in target or (body and "<sign>" in body):
            secret = app_secret if "refreshTokenByKey" in path else self._request_secret(server, app_key, app_secret)
            sign = hashlib.md5(f"{app_key}{secret}{fields['requestTime']}".encode()).hexdigest()
            target, body = target.replace("<sign>", sign), body.replace("<sign>", sign) if body else body
        if headers.get("X-BG-DATE-TIME") == "<date>":
            headers["X-BG-DATE-TIME"] = email.utils.formatdate(time.time(), usegmt=True)
        if headers.get("X-BG-HMAC-SIGNATURE") == "<signature>":
            quote = urllib.parse.quote
            pairs = sorted((quote(k, safe=""), quote(v, safe="")) for k, v in params.multi_items())
            sorted_query = "&".join(f"{k}={v}" for k, v in pairs)
            text = f"{method}\n{path}\n{sorted_query}\n{headers['X-BG-HMAC-ACCESS-KEY']}\n{headers['X-BG-DATE-TIME']}\n"
            digest = hmac.new(app_secret.encode(), text.encode(), hashlib.sha256).digest()
            headers["X-BG-HMAC-SIGNATURE"] = base64.b64encode(digest).decode()
        if form is not None and body is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            headers.setdefault("Content-Type", "application/json")
        return target, headers, (body or "").encode()

    def _request_secret(self, server, app_key: str, app_secret: str) -> str:  # type: ignore[no-untyped-def]
        if self.request_secret is None:
            now = str(int(time.time() * 1000))
            sign = hashlib.md5(f"{app_key}{app_secret}{now}".encode()).hexdigest()
            answer = httpx.get(
                server.base_url + "/gateway/app/refreshTokenByKey.htm",
                params={"appKey": app_key, "requestTime": now, "sign": sign},
                timeout=10,
            ).json()
            self.request_secret = answer["datas"]["requestSecret"]
        return self.request_secret


@pytest.fixture(scope="module")
def runner():  # type: ignore[no-untyped-def]
    sender = _Runner()
    yield sender
    sender.close()


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.line}-{e.simulator}" for e in EXAMPLES])
def test_documented_example_is_what_the_simulator_answers(runner, example: Example):  # type: ignore[no-untyped-def]
    response = runner.send(example)
    answer = response.json()
    assert response.status_code == example.status, answer
    assert matches(example.expected, answer), f"docs/adapters.md line {example.line}: {answer}"
