"""What a running simulator is told: quota, latency and faults — from Python, the command line or TOML.

:class:`SimulatorConfig` is the one description; ``soar-ext simulate`` builds one per simulator
from its options and an optional TOML file (:func:`build_configs`), tests and benchmarks pass it
to :func:`~.serve_all.serve`, and ``POST /_admin/config`` takes its :meth:`~SimulatorConfig.to_mapping`
form at run time. The TOML file::

    seed = 7                                  # defaults for every simulator ...
    latency_ms = "20-40"

    [bigdata]                                 # ... overridden per simulator
    port = 18701
    quota_per_second = 50
    latency_ms = "50-150"                     # or [50, 150], or 100
    interface_latency_ms = { household_registration = "50-300", vehicles = "80-120" }

    [bigdata.faults]
    status_5xx = 0.02                         # rate: probability per request
    timeout = { rate = 0.01, seconds = 2 }    # with the fault's parameters (and "count")
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# kind -> default parameters (see :mod:`.common` for what each kind does)
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "latency_ms": {"latency_ms": 200},
    "status_5xx": {"status": 503},
    "timeout": {"seconds": 5.0},
    "status_429": {"retry_after": 1},
    "quota": {"retry_after": None},
    "malformed": {},
    "expire_secret": {},
    "bad_signature": {},
    "trickle": {"interval": 0.1, "chunks": 100},
    "oversize": {"bytes": 16 * 1024 * 1024, "chunked": False},
    "deep_json": {"depth": 100_000},
    "bad_encoding": {},
    "raw_body": {"status": 200, "body": "{}", "headers": {}},
}
_ALIASES = {"latency": "latency_ms", "5xx": "status_5xx", "429": "status_429"}

Range = tuple[float, float]


def fault_kind(kind: str) -> str:
    """The canonical name of a fault kind (aliases ``latency``, ``5xx``, ``429``); ``ValueError`` if unknown."""
    kind = _ALIASES.get(kind, kind)
    if kind not in FAULT_KINDS:
        raise ValueError(f"未知的故障类型“{kind}”，可选：{', '.join(FAULT_KINDS)}")
    return kind


def parse_latency(value: object) -> Range:
    """A latency range in ms from ``"50-150"``, ``[50, 150]`` or ``100`` (both ends 100)."""
    if isinstance(value, str):
        parts = value.replace(" ", "").split("-")
        if len(parts) not in (1, 2) or not all(parts):
            raise ValueError(f"延迟应写成“最小-最大”毫秒，例如 50-150，实际为“{value}”")
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"延迟应写成“最小-最大”毫秒，例如 50-150，实际为“{value}”") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"延迟应为“最小-最大”毫秒，实际为“{value}”")
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
        raise ValueError(f"延迟范围应满足 0 ≤ 最小 ≤ 最大，实际为 {low:g}-{high:g}")
    return (low, high)


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class FaultSpec:
    """A fault with its rate (probability per request), optional count and parameters."""

    kind: str
    rate: float = 1.0
    count: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = fault_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        unknown = set(self.params) - set(FAULT_KINDS[kind])
        if unknown:
            raise ValueError(f"故障类型{kind}不支持参数：{', '.join(sorted(unknown))}")
        if isinstance(self.rate, bool) or not 0 < float(self.rate) <= 1:
            raise ValueError(f"故障类型{kind}的发生概率 rate 应在0到1之间（不含0），实际为{self.rate}")
        if self.count is not None and (isinstance(self.count, bool) or int(self.count) < 1):
            raise ValueError(f"故障类型{kind}的次数 count 必须至少为1")

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """``KIND[=RATE][,param=value...]``, e.g. ``status_5xx=0.05`` or ``timeout=0.01,seconds=2``."""
        head, *rest = [part.strip() for part in text.split(",")]
        kind, _, rate = head.partition("=")
        params: dict[str, Any] = {}
        for item in rest:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ValueError(f"故障参数应写成 名称=值，实际为“{item}”")
            params[name] = _scalar(value)
        count = params.pop("count", None)
        try:
            return cls(kind, float(rate) if rate else 1.0, count, params)
        except TypeError as exc:
            raise ValueError(f"故障“{text}”写法有误：{exc}") from None

    @classmethod
    def from_value(cls, kind: str, value: object) -> FaultSpec:
        """From a TOML/JSON entry: a rate, or ``{"rate", "count", ...params}``."""
        if isinstance(value, Mapping):
            params = dict(value)
            rate = params.pop("rate", 1.0)
            count = params.pop("count", None)
            return cls(kind, float(rate), count, params)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(kind, float(value))
        raise ValueError(f"故障{kind}应写成发生概率或参数表，实际为“{value}”")

    def to_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"rate": self.rate, **self.params}
        if self.count is not None:
            value["count"] = self.count
        return value


_KEYS = ("quota_per_second", "latency_ms", "interface_latency_ms", "faults", "seed")


@dataclass(frozen=True)
class SimulatorConfig:
    """Quota (calls per second per app, ``None``: unlimited), latency ranges in ms, faults, random seed.

    ``interface_latency_ms`` gives interfaces their own range (Big Data: category codes such as
    ``household_registration``, or interface ids); the others use ``latency_ms``.
    """

    quota_per_second: float | None = None
    latency_ms: Range | None = None
    interface_latency_ms: Mapping[str, Range] = field(default_factory=dict)
    faults: tuple[FaultSpec, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        quota = self.quota_per_second
        if quota is not None and (isinstance(quota, bool) or not math.isfinite(float(quota)) or not quota > 0):
            raise ValueError(f"配额 quota_per_second 应大于0（或不设表示不限），实际为{quota}")
        if self.latency_ms is not None:
            object.__setattr__(self, "latency_ms", parse_latency(self.latency_ms))
        object.__setattr__(
            self, "interface_latency_ms", {str(k): parse_latency(v) for k, v in self.interface_latency_ms.items()}
        )
        object.__setattr__(self, "faults", tuple(self.faults))

    def replace(self, **changes: Any) -> SimulatorConfig:
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """From the TOML/JSON form (see the module docstring); unknown keys are an error."""
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(f"未知的模拟服务配置项：{', '.join(unknown)}；可选：{', '.join(_KEYS)}")
        faults = data.get("faults") or {}
        if not isinstance(faults, Mapping):
            raise ValueError("faults 应为“故障类型 = 发生概率或参数表”的表")
        latency = data.get("latency_ms")
        interfaces = data.get("interface_latency_ms") or {}
        if not isinstance(interfaces, Mapping):
            raise ValueError("interface_latency_ms 应为“接口 = 延迟范围”的表")
        quota, seed = data.get("quota_per_second"), data.get("seed")
        return cls(
            quota_per_second=None if quota is None else float(quota),
            latency_ms=None if latency is None else parse_latency(latency),
            interface_latency_ms={str(k): parse_latency(v) for k, v in interfaces.items()},
            faults=tuple(FaultSpec.from_value(str(k), v) for k, v in faults.items()),
            seed=None if seed is None else int(seed),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form (``GET /_admin/config``); :meth:`from_mapping` reads it back."""
        data: dict[str, Any] = {
            "quota_per_second": self.quota_per_second,
            "latency_ms": None if self.latency_ms is None else list(self.latency_ms),
            "interface_latency_ms": {k: list(v) for k, v in self.interface_latency_ms.items()},
            "faults": {f.kind: f.to_value() for f in self.faults},
            "seed": self.seed,
        }
        return {k: v for k, v in data.items() if v not in (None, {})}

    def merged(self, override: Mapping[str, Any]) -> SimulatorConfig:
        """This configuration with the keys of ``override`` (TOML form) replacing its own; faults merge by kind."""
        data = self.to_mapping()
        for key, value in override.items():
            if key == "faults" and isinstance(value, Mapping):
                data["faults"] = {**data.get("faults", {}), **value}
            elif key == "interface_latency_ms" and isinstance(value, Mapping):
                data["interface_latency_ms"] = {**data.get("interface_latency_ms", {}), **value}
            else:
                data[key] = value
        return SimulatorConfig.from_mapping(data)


def _split_target(text: str, names: Sequence[str], separator: str) -> tuple[list[str], str]:
    """``bigdata=50`` → (["bigdata"], "50"); ``50`` → (every name, "50")."""
    target, sep, rest = text.partition(separator)
    if sep and target in names:
        return [target], rest
    if sep and target.isidentifier():
        raise ValueError(f"未知的模拟服务“{target}”，可选：{', '.join(names)}")
    return list(names), text


def build_configs(
    names: Sequence[str],
    *,
    file: Mapping[str, Any] | None = None,
    quota: Iterable[str] = (),
    latency: Iterable[str] = (),
    interface_latency: Iterable[str] = (),
    faults: Iterable[str] = (),
    seed: int | None = None,
    interface_target: str = "bigdata",
) -> tuple[dict[str, SimulatorConfig], dict[str, int]]:
    """Configurations and ports of the simulators ``names`` from a TOML file's content and options.

    Option values may name one simulator (``--quota bigdata=50``, ``--latency-ms qianjiang=20-40``,
    ``--fault bigdata:timeout=0.01``) or apply to all (``--quota 50``); options win over the file.
    ``interface_latency`` entries (``household_registration=50-300``) go to ``interface_target``.
    """
    file = dict(file or {})
    sections = {name: dict(file.pop(name, None) or {}) for name in names}
    ports: dict[str, int] = {}
    for name, section in sections.items():
        port = section.pop("port", None)
        if port is not None:
            ports[name] = int(port)
    unknown = sorted(set(file) - set(_KEYS))
    if unknown:
        raise ValueError(f"配置文件中有未知的项：{', '.join(unknown)}；模拟服务：{', '.join(names)}")
    overrides: dict[str, dict[str, Any]] = {name: {} for name in names}
    for text in quota:
        targets, value = _split_target(text, names, "=")
        for name in targets:
            overrides[name]["quota_per_second"] = float(value)
    for text in latency:
        targets, value = _split_target(text, names, "=")
        for name in targets:
            overrides[name]["latency_ms"] = parse_latency(value)
    for text in interface_latency:
        if interface_target not in overrides:
            raise ValueError(f"接口延迟只适用于模拟服务 {interface_target}，而它未在启动之列")
        interface, sep, value = text.partition("=")
        if not sep or not interface:
            raise ValueError(f"接口延迟应写成 接口=最小-最大，实际为“{text}”")
        overrides[interface_target].setdefault("interface_latency_ms", {})[interface] = parse_latency(value)
    for text in faults:
        targets, value = _split_target(text, names, ":")
        spec = FaultSpec.parse(value)
        for name in targets:
            overrides[name].setdefault("faults", {})[spec.kind] = spec.to_value()
    if seed is not None:
        for name in names:
            overrides[name]["seed"] = seed
    base = SimulatorConfig.from_mapping(file)
    configs = {name: base.merged(sections[name]).merged(overrides[name]) for name in names}
    return configs, ports


def load_toml(path: str | Path) -> dict[str, Any]:
    """The content of a simulation TOML file (``ValueError`` naming the file when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"无法读取模拟服务配置文件 {path}：{exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"模拟服务配置文件 {path} 格式错误：{exc}") from None
