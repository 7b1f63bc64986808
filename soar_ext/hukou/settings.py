"""Settings of the household check (``[plugins.hukou_check]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from soar_ext.config import ConfigError
from soar_ext.db.work_queue import QueueSettings
from soar_ext.quota import QuotaSettings

PLUGIN = "hukou_check"
#: The shared-quota pool of every household-check worker (all nodes): the Big Data app's 户籍 quota.
QUOTA_POOL = "bigdata.hukou"
PURPOSE = "公租房家庭成员户籍批量核查"

DEFAULTS: Mapping[str, Any] = {
    "quota_per_second": 10.0,
    "quota_concurrency": 10,
    # 2, not 1: with a bucket of one, a wake-up that comes late is lost for good (measured: 170
    # of 198 calls/s); one call of slack lets the pace catch up. Margin: quota − workers × 2.
    "quota_burst": 2,
    "queue_lease_seconds": 60,
    "queue_max_attempts": 5,
    "queue_backoff_initial_seconds": 5.0,
    "queue_backoff_max_seconds": 300.0,
}


@dataclass(frozen=True)
class HukouSettings:
    """How the workers share the quota, lease and retry items, and call upstream.

    - ``quota``: calls/s and calls in flight for all workers of all nodes together
      (``quota_per_second``, ``quota_concurrency``, ``quota_heartbeat_seconds``, ``quota_ttl_seconds``,
      ``quota_burst``).
    - ``queue``: ``queue_lease_seconds``, ``queue_max_attempts`` (a person failing this often ends
      失败, to be retried with 重试失败), ``queue_backoff_initial_seconds`` / ``..._max_seconds``.
    - ``claim_batch``: items a worker claims at once (``claim_batch``, 50).
    - ``upstream_attempts``: requests per person and attempt inside the adapter (1: the queue retries).
    """

    quota: QuotaSettings
    queue: QueueSettings
    claim_batch: int = 50
    upstream_attempts: int = 1
    purpose: str = PURPOSE

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> HukouSettings:
        """Settings from the plugin's config section; :class:`ConfigError` names a bad key."""
        merged = {**DEFAULTS, **{k: v for k, v in section.items() if v is not None}}
        try:
            quota = QuotaSettings.from_mapping(QUOTA_POOL, merged)
            queue = QueueSettings.from_mapping(merged)
            values: dict[str, Any] = {}
            for key, kind in (("claim_batch", int), ("upstream_attempts", int)):
                if key in merged:
                    values[key] = kind(merged[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[plugins.{PLUGIN}]: {exc}") from None
        if values.get("claim_batch", 50) < 1 or values.get("upstream_attempts", 1) < 1:
            raise ConfigError(f"[plugins.{PLUGIN}]: claim_batch and upstream_attempts must be at least 1")
        return cls(quota=quota, queue=queue, **values)

    def with_quota(self, *, rate: float | None = None, concurrency: int | None = None) -> HukouSettings:
        """A copy with another quota (the CLI's ``--rate`` / ``--concurrency``)."""
        quota = replace(
            self.quota,
            rate=self.quota.rate if rate is None else rate,
            concurrency=self.quota.concurrency if concurrency is None else concurrency,
        )
        quota.__post_init__()
        return replace(self, quota=quota)
