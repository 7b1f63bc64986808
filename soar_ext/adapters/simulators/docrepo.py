"""Simulator of the unified document repository (统一资料库).

Protocol (see ``docs/adapters.md``), HMAC-signed like the other simulators::

    POST /api/docrepo/v1/documents?docType=CO_CONSTRUCTION_AGREEMENT&fileName=...&bizKeys={"projectNumber":"..."}
    X-Content-SHA256: <hex sha256 of the body>          Content-Type: application/octet-stream
    <file bytes>
    201 (new) | 200 (already stored) {"code": "0", "msg": "成功", "data": {"repoId", "sha256", "size",
        "docType", "created": true | false}}

    GET /api/docrepo/v1/documents/{repoId}
    200 {"code": "0", "data": {"repoId", "sha256", "size", "docType", "fileName", "businessKeys", "uploadedAt"}}
    404 {"code": "1004", "msg": "资料不存在"}

Uploads are idempotent: the same content, type and business keys always give the same ``repoId``.
Per-subject counts: the ``repoId``, interfaces ``upload`` and ``metadata``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.adapters.simulators.common import HmacSimState, hmac_envelope, hmac_guard, simulator_app
from soar_ext.adapters.simulators.config import SimulatorConfig

DOCUMENTS_PATH = "/api/docrepo/v1/documents"
DEFAULT_APP_ID = "soar-ext-sim"
DEFAULT_APP_SECRET = "docrepo-simulator-secret"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# document type codes the repository accepts (labels live with the client)
DOC_TYPE_CODES = frozenset(
    {
        "CO_CONSTRUCTION_AGREEMENT",
        "CONSTRUCTION_PROGRESS_PLEDGE",
        "FULFILMENT_CONFIRMATION",
        "SALES_RESTRICTION_RELEASE_NOTICE",
        "OTHER",
    }
)


@dataclass(frozen=True)
class StoredDocument:
    repo_id: str
    sha256: str
    size: int
    doc_type: str
    file_name: str
    business_keys: dict[str, str]
    uploaded_at: dt.datetime
    content: bytes

    def metadata(self) -> dict[str, object]:
        return {
            "repoId": self.repo_id,
            "sha256": self.sha256,
            "size": self.size,
            "docType": self.doc_type,
            "fileName": self.file_name,
            "businessKeys": self.business_keys,
            "uploadedAt": self.uploaded_at.isoformat(timespec="seconds"),
        }


def repo_id_for(sha256: str, doc_type: str, business_keys: Mapping[str, str]) -> str:
    """Deterministic repository id of (content hash, type, business keys)."""
    keys = json.dumps(dict(business_keys), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "DR" + hashlib.sha256(f"{sha256}|{doc_type}|{keys}".encode()).hexdigest()[:24].upper()


class DocRepoState(HmacSimState):
    """Stored documents, quota, latency, faults and counters."""

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        config: SimulatorConfig | None = None,
    ) -> None:
        super().__init__(credentials or {DEFAULT_APP_ID: DEFAULT_APP_SECRET}, clock=clock, config=config)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._documents: dict[str, StoredDocument] = {}
        self._lose_responses = 0

    def reset(self) -> None:
        """Empty, back to the starting configuration."""
        with self._lock:
            self._documents.clear()
            self._lose_responses = 0
        super().reset()

    def lose_responses_after_store(self, count: int = 1) -> None:
        """Store the next ``count`` uploads but answer 503 (the client never sees the receipt)."""
        with self._lock:
            self._lose_responses = count

    def take_lost_response(self) -> bool:
        with self._lock:
            if self._lose_responses > 0:
                self._lose_responses -= 1
                return True
            return False

    def store(
        self, content: bytes, sha256: str, doc_type: str, file_name: str, keys: dict[str, str]
    ) -> tuple[StoredDocument, bool]:
        repo_id = repo_id_for(sha256, doc_type, keys)
        with self._lock:
            existing = self._documents.get(repo_id)
            if existing is not None:
                return existing, False
            document = StoredDocument(
                repo_id=repo_id,
                sha256=sha256,
                size=len(content),
                doc_type=doc_type,
                file_name=file_name,
                business_keys=dict(keys),
                uploaded_at=dt.datetime.now().replace(microsecond=0),
                content=content,
            )
            self._documents[repo_id] = document
            return document, True

    def get(self, repo_id: str) -> StoredDocument | None:
        with self._lock:
            return self._documents.get(repo_id)

    def count(self) -> int:
        with self._lock:
            return len(self._documents)

    def corrupt(self, repo_id: str, *, sha256: str | None = None, size: int | None = None) -> None:
        """Make the stored metadata disagree with what was uploaded (to test verification)."""
        with self._lock:
            doc = self._documents[repo_id]
            self._documents[repo_id] = replace(doc, sha256=sha256 or "0" * 64, size=doc.size if size is None else size)


def create_app(
    state: DocRepoState | None = None,
    *,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    max_bytes: int = DEFAULT_MAX_BYTES,
    config: SimulatorConfig | None = None,
) -> Starlette:
    """The document-repository simulator app; ``app.state.sim`` is its :class:`DocRepoState`."""
    sim = state or DocRepoState({app_id: app_secret}, max_bytes=max_bytes, config=config)

    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > sim.max_bytes:
            sim.plan.record_call("upload")
            return hmac_envelope("4130", f"文件超过{sim.max_bytes}字节上限", status=413)
        body = await request.body()
        refused = await hmac_guard(sim, request, "upload", body)
        if refused is not None:
            return refused
        if len(body) > sim.max_bytes:
            return hmac_envelope("4130", f"文件超过{sim.max_bytes}字节上限", status=413)
        if not body:
            return hmac_envelope("4000", "参数错误：文件内容为空", status=400)
        sha256 = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-content-sha256", "").lower() != sha256:
            return hmac_envelope("4002", "内容校验失败：X-Content-SHA256 与文件内容不一致", status=400)
        params = request.query_params
        doc_type = params.get("docType", "")
        if doc_type not in DOC_TYPE_CODES:
            return hmac_envelope("4003", f"参数错误：未知的资料类型“{doc_type}”", status=400)
        file_name = params.get("fileName", "").strip()
        if not file_name:
            return hmac_envelope("4000", "参数错误：fileName 不能为空", status=400)
        try:
            keys = json.loads(params.get("bizKeys", "{}"))
            if not isinstance(keys, dict) or not keys:
                raise ValueError
            if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in keys.items()):
                raise ValueError
        except ValueError:
            return hmac_envelope("4000", "参数错误：bizKeys 应为非空的文本键值对象", status=400)
        document, created = sim.store(body, sha256, doc_type, file_name, keys)
        sim.subjects.add(document.repo_id, "upload")
        if sim.take_lost_response():
            return hmac_envelope("5000", "服务暂不可用", status=503)
        data = {
            "repoId": document.repo_id,
            "sha256": document.sha256,
            "size": document.size,
            "docType": document.doc_type,
            "created": created,
        }
        return hmac_envelope("0", "成功", data, status=201 if created else 200)

    async def metadata(request: Request) -> Response:
        refused = await hmac_guard(sim, request, "metadata", await request.body())
        if refused is not None:
            return refused
        document = sim.get(request.path_params["repo_id"])
        if document is None:
            return hmac_envelope("1004", "资料不存在", status=404)
        sim.subjects.add(document.repo_id, "metadata")
        return hmac_envelope("0", "成功", document.metadata())

    return simulator_app(
        "docrepo",
        sim,
        [
            Route(DOCUMENTS_PATH, upload, methods=["POST"]),
            Route(DOCUMENTS_PATH + "/{repo_id}", metadata, methods=["GET"]),
        ],
    )
