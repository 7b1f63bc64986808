"""Client of the unified document repository (统一资料库).

Uploads carry a document type, the file name and business keys (e.g. the project number) and
are idempotent by content hash: the client sends ``X-Content-SHA256`` and the repository
returns the same ``repo_id`` for the same content, type and keys, so a retried upload never
stores a second copy. Receipts and metadata are checked against what was sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soar_ext.adapters.common import AdapterError, BadResponse
from soar_ext.adapters.hmac_client import SignedClient, SignedSettings, signed_fields
from soar_ext.log_masking import get_logger

SYSTEM = "统一资料库"
CALL_UPLOAD = "上传资料"
CALL_METADATA = "查询资料"
DEFAULT_DOCUMENTS_PATH = "/api/docrepo/v1/documents"
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024

log = get_logger(__name__)


class DocType(enum.StrEnum):
    """Document types; the value is the repository's code, :attr:`label` the Chinese name."""

    CO_CONSTRUCTION_AGREEMENT = "CO_CONSTRUCTION_AGREEMENT"
    CONSTRUCTION_PROGRESS_PLEDGE = "CONSTRUCTION_PROGRESS_PLEDGE"
    FULFILMENT_CONFIRMATION = "FULFILMENT_CONFIRMATION"
    SALES_RESTRICTION_RELEASE_NOTICE = "SALES_RESTRICTION_RELEASE_NOTICE"
    OTHER = "OTHER"

    @property
    def label(self) -> str:
        return DOC_TYPE_LABELS[self]

    @classmethod
    def parse(cls, value: DocType | str) -> DocType:
        """Accept a member, a code or a Chinese label."""
        if isinstance(value, DocType):
            return value
        text = str(value or "").strip()
        for member in cls:
            if text in (member.value, member.label):
                return member
        raise ValueError(f"未知的资料类型“{text}”，可选：{'、'.join(m.label for m in cls)}")


DOC_TYPE_LABELS: dict[DocType, str] = {
    DocType.CO_CONSTRUCTION_AGREEMENT: "配建协议书",
    DocType.CONSTRUCTION_PROGRESS_PLEDGE: "工程建设进度承诺书",
    DocType.FULFILMENT_CONFIRMATION: "保障性住房配建协议履行确认书",
    DocType.SALES_RESTRICTION_RELEASE_NOTICE: "解除限制销售房源联系单",
    DocType.OTHER: "其他资料",
}


class DocumentTooLarge(ValueError):
    """The file exceeds the configured upload limit (checked before anything is sent)."""


class DocumentNotFound(AdapterError):
    """The repository has no document with that id."""


@dataclass(frozen=True)
class UploadReceipt:
    repo_id: str
    sha256: str
    size: int
    created: bool = field(default=True, compare=False)  # False: the repository already had it


@dataclass(frozen=True)
class DocumentMetadata:
    repo_id: str
    sha256: str
    size: int
    doc_type: DocType
    filename: str
    business_keys: dict[str, str]
    uploaded_at: dt.datetime | None


@dataclass(frozen=True)
class DocRepoSettings(SignedSettings):
    """Connection settings; config section ``[adapters.docrepo]``."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    documents_path: str = DEFAULT_DOCUMENTS_PATH

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> DocRepoSettings:
        fields = signed_fields(section, system=SYSTEM)
        raw_max = section.get("max_upload_bytes") or DEFAULT_MAX_UPLOAD_BYTES
        try:
            max_bytes = int(raw_max)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise ValueError(f"配置项 max_upload_bytes 的值“{raw_max}”不是有效整数") from None
        if max_bytes < 1:
            raise ValueError("配置项 max_upload_bytes 必须大于0")
        return cls(
            **fields,
            max_upload_bytes=max_bytes,
            documents_path=str(section.get("documents_path") or DEFAULT_DOCUMENTS_PATH).rstrip("/"),
        )


def _size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size} 字节"


class DocRepoClient(SignedClient):
    """Async client of the document repository. Close with :meth:`aclose`."""

    system = SYSTEM
    settings: DocRepoSettings

    async def upload(
        self,
        content: bytes,
        filename: str,
        doc_type: DocType | str,
        business_keys: Mapping[str, str],
    ) -> UploadReceipt:
        """Store a document; safe to retry (same content, type and keys → same ``repo_id``).

        Bad input raises :class:`ValueError` (:class:`DocumentTooLarge` for oversize files)
        before anything is sent. The receipt is checked against the content sent.
        """
        if not isinstance(content, bytes | bytearray | memoryview):
            raise ValueError("文件内容必须是字节")
        content = bytes(content)
        name = (filename or "").strip()
        if not name:
            raise ValueError("文件名不能为空")
        if not content:
            raise ValueError(f"文件“{name}”内容为空")
        if len(content) > self.settings.max_upload_bytes:
            raise DocumentTooLarge(
                f"文件“{name}”大小为{_size_text(len(content))}，"
                f"超过统一资料库上传上限{_size_text(self.settings.max_upload_bytes)}，未上传"
            )
        kind = DocType.parse(doc_type)
        keys = _check_business_keys(business_keys)
        sha256 = hashlib.sha256(content).hexdigest()
        query = {
            "bizKeys": json.dumps(keys, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
            "docType": kind.value,
            "fileName": name,
        }
        envelope = await self._request(  # idempotent by content hash: a retry returns the same repo_id
            "POST",
            self.settings.documents_path,
            call=CALL_UPLOAD,
            params=query,
            content=content,
            headers={"X-Content-SHA256": sha256, "Content-Type": "application/octet-stream"},
        )
        receipt = _parse_receipt(self._data(envelope, CALL_UPLOAD))
        if receipt.sha256 != sha256 or receipt.size != len(content):
            raise BadResponse(SYSTEM, CALL_UPLOAD, "回执中的校验值或大小与上传内容不一致")
        log.info(
            "统一资料库上传：%s（%s，%s）→ %s%s",
            kind.label,
            _size_text(len(content)),
            sha256[:12],
            receipt.repo_id,
            "" if receipt.created else "（已存在，未重复存储）",
        )
        return receipt

    async def metadata(self, repo_id: str, *, expected: UploadReceipt | None = None) -> DocumentMetadata:
        """A stored document's metadata; with ``expected``, raise :class:`BadResponse` on any mismatch."""
        repo_id = (repo_id or "").strip()
        if not repo_id:
            raise ValueError("资料编号不能为空")
        missing = DocumentNotFound(SYSTEM, CALL_METADATA, f"资料库中没有编号为{repo_id}的资料")
        envelope = await self._request(
            "GET", f"{self.settings.documents_path}/{repo_id}", call=CALL_METADATA, not_found=missing
        )
        meta = _parse_metadata(self._data(envelope, CALL_METADATA))
        if meta.repo_id != repo_id:
            raise BadResponse(SYSTEM, CALL_METADATA, f"返回的资料编号{meta.repo_id}与请求的{repo_id}不一致")
        if expected is not None and (meta.sha256 != expected.sha256 or meta.size != expected.size):
            raise BadResponse(
                SYSTEM,
                CALL_METADATA,
                f"资料{repo_id}校验不一致：库中为{meta.sha256[:12]}/{meta.size}字节，"
                f"上传时为{expected.sha256[:12]}/{expected.size}字节",
            )
        return meta

    async def verify(self, receipt: UploadReceipt) -> DocumentMetadata:
        """Check that the repository holds exactly what the receipt says."""
        return await self.metadata(receipt.repo_id, expected=receipt)


def _check_business_keys(business_keys: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(business_keys, Mapping) or not business_keys:
        raise ValueError("业务关键字不能为空（例如项目编号）")
    keys: dict[str, str] = {}
    for key, value in business_keys.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError("业务关键字的名称必须是非空文本")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"业务关键字“{key}”的值必须是非空文本")
        keys[key.strip()] = value.strip()
    return keys


def _field(data: Mapping[str, Any], key: str, kind: type, call: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadResponse(SYSTEM, call, f"字段 {key} 缺失或类型错误")
    return value


def _parse_receipt(data: Mapping[str, Any]) -> UploadReceipt:
    created = data.get("created")
    return UploadReceipt(
        repo_id=_field(data, "repoId", str, CALL_UPLOAD),
        sha256=_field(data, "sha256", str, CALL_UPLOAD).lower(),
        size=_field(data, "size", int, CALL_UPLOAD),
        created=created if isinstance(created, bool) else True,
    )


def _parse_metadata(data: Mapping[str, Any]) -> DocumentMetadata:
    try:
        doc_type = DocType.parse(_field(data, "docType", str, CALL_METADATA))
    except ValueError:
        raise BadResponse(SYSTEM, CALL_METADATA, "返回的资料类型未知") from None
    keys = data.get("businessKeys")
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise BadResponse(SYSTEM, CALL_METADATA, "字段 businessKeys 应为文本键值对象")
    uploaded_at = None
    raw = data.get("uploadedAt")
    if raw is not None:
        try:
            uploaded_at = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            raise BadResponse(SYSTEM, CALL_METADATA, "字段 uploadedAt 不是有效时间") from None
    return DocumentMetadata(
        repo_id=_field(data, "repoId", str, CALL_METADATA),
        sha256=_field(data, "sha256", str, CALL_METADATA).lower(),
        size=_field(data, "size", int, CALL_METADATA),
        doc_type=doc_type,
        filename=_field(data, "fileName", str, CALL_METADATA),
        business_keys=dict(keys),
        uploaded_at=uploaded_at,
    )
