"""The plugin's settings, section ``[plugins.co_construction]`` (environment: ``SOAR_EXT_CO_CONSTRUCTION_<KEY>``).

==========================  =======================================================  ==========
key                         meaning                                                  default
==========================  =======================================================  ==========
``discrepancy_percent``     flag a project whose measured area differs from the      3
                            predicted by more than this (%)
``max_file_bytes``          largest document accepted at 收件                        50 MiB
``allowed_extensions``      extensions accepted (list or comma-separated text)       pdf, jpg, jpeg, png,
                                                                                     tif, tiff, doc, docx
``survey_timeout_seconds``  longest wait for the surveying service in one sync       10
``worker_batch``            entries a worker claims at a time                        8
``worker_concurrency``      uploads one worker runs at once                          4
``worker_idle_seconds``     pause of a continuous worker when nothing is due         2
``queue_*``                 the work queue's lease/attempts/backoff                  lease 300 s, 10 attempts,
                            (:meth:`~soar_ext.db.work_queue.QueueSettings.from_mapping`)  backoff 10 s … 15 min
==========================  =======================================================  ==========
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from soar_ext.config import ConfigError
from soar_ext.db.work_queue import QueueSettings

PLUGIN = "co_construction"
DEFAULT_DISCREPANCY_PERCENT = Decimal("3")
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
DEFAULT_EXTENSIONS = ("pdf", "jpg", "jpeg", "png", "tif", "tiff", "doc", "docx")
DEFAULT_QUEUE = {
    "queue_lease_seconds": 300,
    "queue_max_attempts": 10,
    "queue_backoff_initial_seconds": 10.0,
    "queue_backoff_max_seconds": 900.0,
}


@dataclass(frozen=True)
class CoConstructionSettings:
    """Resolved settings; :meth:`from_mapping` raises :class:`ConfigError` naming the key."""

    discrepancy_percent: Decimal = DEFAULT_DISCREPANCY_PERCENT
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    allowed_extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    survey_timeout_seconds: float = 10.0
    worker_batch: int = 8
    worker_concurrency: int = 4
    worker_idle_seconds: float = 2.0
    queue: QueueSettings = field(default_factory=lambda: QueueSettings.from_mapping(DEFAULT_QUEUE))

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> CoConstructionSettings:
        percent = _decimal(section, "discrepancy_percent", DEFAULT_DISCREPANCY_PERCENT, Decimal(0), Decimal(100))
        max_bytes = _whole(section, "max_file_bytes", DEFAULT_MAX_FILE_BYTES, 1, 2**31 - 1)
        raw = section.get("allowed_extensions", DEFAULT_EXTENSIONS)
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{PLUGIN}.allowed_extensions must be a list of extensions, got {raw!r:.60}")
        extensions = tuple(dict.fromkeys(str(e).strip().lower().lstrip(".") for e in items if str(e).strip()))
        if not extensions or not all(e.isalnum() and len(e) <= 10 for e in extensions):
            raise ConfigError(f"{PLUGIN}.allowed_extensions must name extensions like pdf, docx; got {raw!r:.60}")
        queue_section = {**DEFAULT_QUEUE, **{k: v for k, v in section.items() if k.startswith("queue_")}}
        try:
            queue = QueueSettings.from_mapping(queue_section)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{PLUGIN}: {exc}") from None
        return cls(
            discrepancy_percent=percent,
            max_file_bytes=max_bytes,
            allowed_extensions=extensions,
            survey_timeout_seconds=float(
                _decimal(section, "survey_timeout_seconds", Decimal(10), Decimal("0.1"), Decimal(120))
            ),
            worker_batch=_whole(section, "worker_batch", 8, 1, 1000),
            worker_concurrency=_whole(section, "worker_concurrency", 4, 1, 64),
            worker_idle_seconds=float(
                _decimal(section, "worker_idle_seconds", Decimal(2), Decimal("0.05"), Decimal(3600))
            ),
            queue=queue,
        )


def _decimal(section: Mapping[str, Any], key: str, default: Decimal, low: Decimal, high: Decimal) -> Decimal:
    raw = section.get(key, default)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ConfigError(f"{PLUGIN}.{key} must be a number, got {raw!r:.40}") from None
    if isinstance(raw, bool) or not value.is_finite() or not low <= value <= high:
        raise ConfigError(f"{PLUGIN}.{key} must be between {low} and {high}, got {raw!r:.40}")
    return value


def _whole(section: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = section.get(key, default)
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{PLUGIN}.{key} must be a whole number {low}-{high}, got {raw!r:.40}")
    return int(text)
