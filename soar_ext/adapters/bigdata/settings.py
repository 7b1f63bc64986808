"""Settings of the Big Data gateway client (both generations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from soar_ext.adapters.bigdata.categories import CATEGORIES, CATEGORY_CODES
from soar_ext.adapters.bigdata.envelope import SYSTEM
from soar_ext.adapters.common import HttpSettings, secret_from_config
from soar_ext.secret import Secret

GENERATIONS = (1, 2)
INTERFACE_KEY_PREFIX = "interface_"


@dataclass(frozen=True)
class BigDataSettings:
    """Everything the client needs; ``app_key``/``app_secret`` are the gen-1 appKey/appSecret or the
    gen-2 access key / secret key, depending on ``generation``."""

    http: HttpSettings
    app_key: str
    app_secret: Secret
    generation: int = 1
    org: str = ""  # gen-1 organisation segment of /gateway/api/{org}/dataSharing/...
    refresh_margin_seconds: float = 60.0  # refresh a gen-1 secret this long before it expires
    request_secret_ttl_seconds: float = 15 * 60.0
    refresh_secret_ttl_seconds: float = 48 * 3600.0
    gen1_path: str = "/gateway"
    gen2_path: str = "/irs/api"
    verify_budget_seconds: float = 10.0  # wall-time cap of verify_all
    renewal_failure_memory_seconds: float = 1.0  # gen-1: a failed secret renewal is reused this long
    interface_ids: Mapping[str, str] = field(default_factory=dict)  # per-category overrides

    def __post_init__(self) -> None:
        if self.generation not in GENERATIONS:
            raise ValueError(f"{SYSTEM}配置项 generation 只能是 1 或 2，实际为“{self.generation}”")
        if not self.app_key:
            raise ValueError(f"缺少{SYSTEM}配置项 app_key")
        if not self.app_secret:
            raise ValueError(f"缺少{SYSTEM}配置项 app_secret")
        if self.generation == 1 and not self.org:
            raise ValueError(f"{SYSTEM}一代网关需要配置项 org（组织编码）")
        if not 0 <= self.refresh_margin_seconds < self.request_secret_ttl_seconds:
            raise ValueError("refresh_margin_seconds 必须不小于0且小于请求密钥有效期")
        if not self.verify_budget_seconds > 0:
            raise ValueError("verify_budget_seconds 必须大于0")
        if not 0 <= self.renewal_failure_memory_seconds <= 60:
            raise ValueError("renewal_failure_memory_seconds 必须在0到60秒之间")
        unknown = sorted(set(self.interface_ids) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"未知的核查类别接口配置：{', '.join(unknown)}")

    def interface_id(self, category: str) -> str:
        """The upstream interface id of a category (configured override or the default)."""
        return self.interface_ids.get(category) or CATEGORIES[category].interface_id

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> BigDataSettings:
        """Build from a flat config section (lowercase keys; see ``docs/adapters.md``)."""
        kwargs: dict[str, object] = {
            "http": HttpSettings.from_config(section),
            "app_key": str(section.get("app_key") or ""),
            "app_secret": secret_from_config(section, "app_secret", system=SYSTEM),
        }
        for key, kind in (
            ("generation", int),
            ("refresh_margin_seconds", float),
            ("request_secret_ttl_seconds", float),
            ("refresh_secret_ttl_seconds", float),
            ("verify_budget_seconds", float),
            ("renewal_failure_memory_seconds", float),
        ):
            raw = section.get(key)
            if raw is None or raw == "":
                continue
            try:
                kwargs[key] = kind(raw)  # type: ignore[operator]
            except (TypeError, ValueError):
                raise ValueError(f"{SYSTEM}配置项 {key} 的值“{raw}”不是有效数字") from None
        for key in ("org", "gen1_path", "gen2_path"):
            raw = section.get(key)
            if raw:
                value = str(raw).strip()
                kwargs[key] = value if key == "org" else "/" + value.strip("/")
        kwargs["interface_ids"] = {
            code: str(section[INTERFACE_KEY_PREFIX + code])
            for code in CATEGORY_CODES
            if section.get(INTERFACE_KEY_PREFIX + code)
        }
        return cls(**kwargs)  # type: ignore[arg-type]
