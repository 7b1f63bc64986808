"""Checks of one received document before it enters the outbox: type, size, extension, content.

A received file is refused with a specific Chinese reason when its type code is not one of the
four, it is empty or larger than the configured limit, its extension is not allowed, or its
bytes are not what its extension says (a ``.pdf`` that is not a PDF). The content check is a
small table of file signatures ("magic bytes"); Office Open XML files (``.docx``) are ZIP
archives and are recognised by their ``[Content_Types].xml`` and ``word/`` entries.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.db.codes import DocumentType
from soar_ext.hook_payloads import ReceivedDocument

FILE_NAME_BYTES = 200  # sx_doc_outbox.file_name, counted in bytes like Oracle's VARCHAR2


class DocumentRefused(ValueError):
    """The document cannot be delivered; the message (Chinese) says why, for the clerk."""


def _is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip(b"\x00\t\n\r ").startswith(b"%PDF-")


def _is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def _is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def _is_tiff(data: bytes) -> bool:
    return data.startswith((b"II*\x00", b"MM\x00*"))


def _is_ole2(data: bytes) -> bool:  # .doc (Word 97-2003): OLE2 compound file
    return data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("word/") for n in names)


# extension -> (what the clerk is told the file should be, the check of its bytes)
SIGNATURES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "pdf": ("PDF 文件", _is_pdf),
    "jpg": ("JPEG 图片", _is_jpeg),
    "jpeg": ("JPEG 图片", _is_jpeg),
    "png": ("PNG 图片", _is_png),
    "tif": ("TIFF 图片", _is_tiff),
    "tiff": ("TIFF 图片", _is_tiff),
    "doc": ("Word 97-2003 文档", _is_ole2),
    "docx": ("Word 文档", _is_docx),
}


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} 字节"


@dataclass(frozen=True)
class CheckedDocument:
    """A document that passed every check, with its digest."""

    doc_type: str
    file_name: str
    content: bytes
    sha256: str

    @property
    def label(self) -> str:
        return DocumentType.LABELS[self.doc_type]

    @property
    def size(self) -> int:
        return len(self.content)


def clean_file_name(name: object) -> str:
    """The file's own name (no folders), at most 200 UTF-8 bytes (the stem shortened, the extension kept)."""
    text = PurePath(str(name or "").replace("\\", "/")).name.strip()
    path = PurePath(text) if text else None
    if path is None:
        return ""
    stem, suffix = path.stem, path.suffix
    while stem and len((stem + suffix).encode("utf-8")) > FILE_NAME_BYTES:
        stem = stem[:-1]
    return (stem + suffix) if stem else text.encode("utf-8")[:FILE_NAME_BYTES].decode("utf-8", "ignore")


def check_document(document: ReceivedDocument, settings: CoConstructionSettings) -> CheckedDocument:
    """The document as it goes to the outbox, or :class:`DocumentRefused` with the reason."""
    code = str(document.doc_type or "").strip()
    label = DocumentType.LABELS.get(code)
    if label is None:
        allowed = "、".join(f"{c} {name}" for c, name in DocumentType.LABELS.items())
        raise DocumentRefused(f"资料类型代码「{code[:10]}」不正确，配建项目收件只接受：{allowed}。")
    name = clean_file_name(document.file_name)
    if not name:
        raise DocumentRefused(f"「{label}」没有文件名，请重新选择文件。")
    content = document.content
    if not isinstance(content, bytes | bytearray | memoryview):
        raise DocumentRefused(f"「{label}」的文件「{name}」内容无法读取，请重新选择文件。")
    content = bytes(content)
    if not content:
        raise DocumentRefused(f"「{label}」的文件「{name}」是空文件，请重新选择。")
    if len(content) > settings.max_file_bytes:
        raise DocumentRefused(
            f"「{label}」的文件「{name}」大小为{_size_text(len(content))}，"
            f"超过上限{_size_text(settings.max_file_bytes)}，请压缩或拆分后重新收件。"
        )
    extension = PurePath(name).suffix.lower().lstrip(".")
    allowed_ext = "、".join(settings.allowed_extensions)
    if not extension or extension not in settings.allowed_extensions:
        shown = f"「.{extension}」" if extension else "（无扩展名）"
        raise DocumentRefused(f"「{label}」的文件「{name}」类型{shown}不在允许范围内，允许的类型：{allowed_ext}。")
    expected = SIGNATURES.get(extension)
    if expected is not None and not expected[1](content):
        raise DocumentRefused(
            f"「{label}」的文件「{name}」的内容不是{expected[0]}，与扩展名「.{extension}」不符，"
            "请确认文件未损坏或改名后重新收件。"
        )
    return CheckedDocument(code, name, content, hashlib.sha256(content).hexdigest())
