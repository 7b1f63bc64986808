"""Document-repository client against its simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    QuotaExceeded,
    UpstreamUnavailable,
)
from soar_ext.adapters.docrepo import (
    DocRepoClient,
    DocRepoSettings,
    DocType,
    DocumentNotFound,
    DocumentTooLarge,
    UploadReceipt,
)
from soar_ext.adapters.simulators.docrepo import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from soar_ext.secret import Secret
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

CONTENT = "配建协议书（扫描件）PJ2019-0001".encode() * 100
KEYS = {"projectNumber": "PJ2019-0001", "receiptNo": "SJ20240501-07"}


def client_for(sim, fast_http, *, secret: str = DEFAULT_APP_SECRET, max_upload_bytes=1024 * 1024, **http):
    settings = DocRepoSettings(
        http=fast_http(sim.base_url, **http),
        app_id=DEFAULT_APP_ID,
        app_secret=Secret(secret),
        max_upload_bytes=max_upload_bytes,
    )
    return DocRepoClient(settings)


async def upload(client: DocRepoClient, content: bytes = CONTENT, **overrides) -> UploadReceipt:
    args = {"filename": "配建协议书.pdf", "doc_type": DocType.CO_CONSTRUCTION_AGREEMENT, "business_keys": KEYS}
    args.update(overrides)
    return await client.upload(content, **args)


# --------------------------------------------------------------------------- normal calls


async def test_upload_returns_a_receipt_and_metadata_verifies(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http) as client:
        receipt = await upload(client)
        meta = await client.verify(receipt)
    assert receipt.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert receipt.size == len(CONTENT)
    assert receipt.created
    assert meta.repo_id == receipt.repo_id
    assert meta.doc_type is DocType.CO_CONSTRUCTION_AGREEMENT
    assert meta.doc_type.label == "配建协议书"
    assert meta.filename == "配建协议书.pdf"
    assert meta.business_keys == KEYS
    assert meta.uploaded_at is not None


async def test_uploading_the_same_document_twice_stores_it_once(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http) as client:
        first = await upload(client)
        second = await upload(client, filename="副本.pdf")
        other_type = await upload(client, doc_type="工程建设进度承诺书")
    assert second == first
    assert not second.created
    assert other_type.repo_id != first.repo_id
    assert docrepo_sim.state.count() == 2


async def test_a_retried_upload_whose_answer_was_lost_is_not_duplicated(docrepo_sim, fast_http):
    docrepo_sim.state.lose_responses_after_store(1)
    async with client_for(docrepo_sim, fast_http) as client:
        receipt = await upload(client)
        await client.verify(receipt)
    assert docrepo_sim.state.plan.calls("upload") == 2
    assert docrepo_sim.state.count() == 1
    assert not receipt.created


def test_every_required_document_type_has_a_code_and_chinese_label():
    labels = {t.label for t in DocType}
    assert {"配建协议书", "工程建设进度承诺书", "保障性住房配建协议履行确认书", "解除限制销售房源联系单"} <= labels
    assert DocType.parse("解除限制销售房源联系单") is DocType.SALES_RESTRICTION_RELEASE_NOTICE
    assert DocType.parse("FULFILMENT_CONFIRMATION") is DocType.FULFILMENT_CONFIRMATION
    with raises_clean(ValueError, match="未知的资料类型"):
        DocType.parse("购房合同")


async def test_oversize_file_is_rejected_before_sending(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http, max_upload_bytes=1000) as client:
        with raises_clean(DocumentTooLarge, match="超过统一资料库上传上限"):
            await upload(client, content=b"x" * 1001)
        with raises_clean(ValueError, match="业务关键字"):
            await upload(client, content=b"x", business_keys={})
        with raises_clean(ValueError, match="内容为空"):
            await upload(client, content=b"")
    assert docrepo_sim.state.plan.calls() == 0


async def test_metadata_mismatch_is_a_bad_response(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http) as client:
        receipt = await upload(client)
        docrepo_sim.state.corrupt(receipt.repo_id)
        with raises_clean(BadResponse, match="校验不一致"):
            await client.verify(receipt)
        docrepo_sim.state.corrupt(receipt.repo_id, sha256=receipt.sha256, size=receipt.size + 1)
        with raises_clean(BadResponse, match="校验不一致"):
            await client.verify(receipt)


async def test_unknown_document_is_reported(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http) as client:
        with raises_clean(DocumentNotFound, match="DRNOSUCHDOC"):
            await client.metadata("DRNOSUCHDOC")


# --------------------------------------------------------------------------- protocol failures


async def test_wrong_secret_fails_authentication_without_retrying(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http, secret="wrong-secret-for-tests") as client:
        with raises_clean(AuthenticationFailed, match="签名"):
            await upload(client)
    assert docrepo_sim.state.plan.calls("upload") == 1
    assert docrepo_sim.state.count() == 0


async def test_injected_bad_signature_fails_authentication(docrepo_sim, fast_http):
    docrepo_sim.state.plan.set("bad_signature", count=1)
    async with client_for(docrepo_sim, fast_http) as client:
        with raises_clean(AuthenticationFailed):
            await upload(client)


async def test_429_retry_after_is_honoured(docrepo_sim, fast_http):
    docrepo_sim.state.plan.set("status_429", count=1, retry_after=0.3)
    async with client_for(docrepo_sim, fast_http) as client:
        started = time.monotonic()
        receipt = await upload(client)
        elapsed = time.monotonic() - started
    assert receipt.repo_id
    assert elapsed >= 0.28
    assert docrepo_sim.state.plan.calls("upload") == 2


async def test_persistent_quota_errors_surface_quota_exceeded(docrepo_sim, fast_http):
    docrepo_sim.state.plan.set("status_429", retry_after=0.02)
    async with client_for(docrepo_sim, fast_http) as client:
        with raises_clean(QuotaExceeded):
            await upload(client)
    assert docrepo_sim.state.plan.calls("upload") == 3


async def test_5xx_and_timeouts_are_retried_then_surface_upstream_unavailable(docrepo_sim, fast_http):
    plan = docrepo_sim.state.plan
    async with client_for(docrepo_sim, fast_http, read_timeout=0.2, breaker_failure_threshold=10) as client:
        plan.set("status_5xx", status=500)  # not in 502/503/504: surfaced at once
        with raises_clean(UpstreamUnavailable, match="500"):
            await upload(client)
        plan.set("status_5xx", status=503)
        with raises_clean(UpstreamUnavailable, match="503"):
            await upload(client)
        plan.clear()
        plan.set("timeout", seconds=1.0)
        with raises_clean(UpstreamUnavailable, match="超时"):
            await client.metadata("DRANY")
    assert plan.calls("upload") == 1 + 3
    assert plan.calls("metadata") == 3
    assert docrepo_sim.state.count() == 0


async def test_malformed_json_is_a_bad_response(docrepo_sim, fast_http):
    docrepo_sim.state.plan.set("malformed", count=1)
    async with client_for(docrepo_sim, fast_http) as client:
        with raises_clean(BadResponse):
            await upload(client)
    assert docrepo_sim.state.plan.calls("upload") == 1


async def test_non_finite_retry_after_in_the_quota_body_is_ignored(docrepo_sim, fast_http):
    docrepo_sim.state.plan.set("raw_body", body='{"code": "4290", "msg": "调用量超过配额", "retryAfter": Infinity}')
    async with client_for(docrepo_sim, fast_http) as client:
        with raises_clean(QuotaExceeded) as info:
            await asyncio.wait_for(upload(client), 3)
    assert info.value.retry_after is None
    assert docrepo_sim.state.plan.calls("upload") == 3


async def test_upload_and_metadata_sign_the_path_they_send_behind_a_path_prefix(fast_http, serve_mounted):
    from soar_ext.adapters.simulators.docrepo import create_app

    base_url = serve_mounted(create_app(), "/archive/docrepo-gateway")
    settings = DocRepoSettings(http=fast_http(base_url), app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET))
    async with DocRepoClient(settings) as client:
        receipt = await upload(client)
        meta = await client.verify(receipt)
    assert meta.repo_id == receipt.repo_id


async def test_circuit_opens_fails_fast_half_opens_and_recovers(docrepo_sim, fast_http):
    plan = docrepo_sim.state.plan
    plan.set("status_5xx", status=502)
    async with client_for(
        docrepo_sim, fast_http, retry_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=0.25
    ) as client:
        for _ in range(2):
            with raises_clean(UpstreamUnavailable):
                await upload(client)
        with raises_clean(CircuitOpen):
            await upload(client)
        assert plan.calls("upload") == 2
        plan.clear()
        await asyncio.sleep(0.3)
        assert client.breaker.state == CircuitBreaker.HALF_OPEN
        receipt = await upload(client)
        assert client.breaker.state == CircuitBreaker.CLOSED
    assert receipt.created


async def test_rate_limiter_holds_throughput_to_the_configured_rate(docrepo_sim, fast_http):
    async with client_for(docrepo_sim, fast_http, rate_per_second=20, burst=1) as client:
        started = time.monotonic()
        receipts = await asyncio.gather(*(upload(client, content=f"doc {i}".encode()) for i in range(21)))
        elapsed = time.monotonic() - started
    assert len({r.repo_id for r in receipts}) == 21
    # never faster than the rate; the upper bound only catches a limiter far slower than asked (loaded CI)
    assert 0.9 <= elapsed <= 4.0


def test_sync_code_can_call_through_the_adapter_registry(docrepo_sim, fast_http):
    client = client_for(docrepo_sim, fast_http)
    registry = AdapterRegistry(config=None, instances={"docrepo": client})  # type: ignore[arg-type]
    try:
        receipt = registry.run(upload(client), timeout=5)
        meta = registry.run(client.verify(receipt), timeout=5)
    finally:
        registry.close()
    assert meta.sha256 == receipt.sha256


def test_settings_come_from_a_config_section():
    settings = DocRepoSettings.from_config(
        {
            "base_url": "https://docs.example.gov.cn",
            "app_id": "soar",
            "app_secret": Secret("docrepo-test-secret"),
            "max_upload_bytes": "2048",
        }
    )
    assert settings.max_upload_bytes == 2048
    with raises_clean(ValueError, match="max_upload_bytes"):
        DocRepoSettings.from_config(
            {"base_url": "https://x", "app_id": "a", "app_secret": "docrepo-test-secret", "max_upload_bytes": "2M"}
        )
