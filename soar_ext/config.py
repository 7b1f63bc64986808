"""Configuration: environment variables over an optional TOML file.

Layout of the TOML file (path from ``SOAR_EXT_CONFIG``, else ``soar-ext.toml`` in the
working directory if present)::

    [database]
    url = "sqlite:///soar_ext.db"

    [plugins]
    strict = false                 # re-raise plugin errors (tests)
    [plugins.modes]
    deposit_waiver = "shadow"      # off | shadow | on
    [plugins.deposit_waiver]       # plugin-specific settings
    threshold = 700

    [adapters.qianjiang]
    base_url = "https://..."

    [audit]
    digest_secret_file = "/run/secrets/soar_ext_audit_digest"   # HMAC key of sx_audit_log.subject_hash
    database_url = "..."           # optional: where the audit store writes (default: see soar_ext.audit_store)

Environment variables win over the file:

- ``SOAR_EXT_DATABASE_URL``
- ``SOAR_EXT_PLUGIN_<NAME>=off|shadow|on`` (per-plugin mode)
- ``SOAR_EXT_STRICT_PLUGINS=1``, ``SOAR_EXT_DISABLE_EXTERNAL_PLUGINS=1``, ``SOAR_EXT_TRACE_HOOKS=1``
- ``SOAR_EXT_<SECTION>_<KEY>`` for adapter, plugin and audit settings, e.g. ``SOAR_EXT_BIGDATA_APP_KEY``,
  ``SOAR_EXT_DEPOSIT_WAIVER_THRESHOLD`` (also when the file has no ``[plugins.deposit_waiver]``),
  ``SOAR_EXT_AUDIT_DIGEST_SECRET``, ``SOAR_EXT_AUDIT_DATABASE_URL``

Secrets (keys containing ``secret`` or ``password``) are accepted only from the
environment or from a file named by ``<key>_file``; a secret in the TOML file is an
error. They are wrapped in :class:`~soar_ext.secret.Secret` and never printed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soar_ext.secret import Secret

DEFAULT_DATABASE_URL = "sqlite:///soar_ext.db"
DEFAULT_CONFIG_FILE = "soar-ext.toml"
ENV_PREFIX = "SOAR_EXT_"
MODES = ("off", "shadow", "on")
ADAPTER_SECTIONS = ("qianjiang", "bigdata", "survey", "docrepo")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


def _is_secret_key(key: str) -> bool:
    return "secret" in key or "password" in key


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class EnvSnapshot(Mapping[str, str]):
    """The ``SOAR_EXT_*`` environment variables seen by :func:`load_config` (read-only).

    Its ``repr`` lists the variable names only, never their values (some are secrets).
    """

    __slots__ = ("_items",)

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._items = {k: v for k, v in (env or {}).items() if k.startswith(ENV_PREFIX)}

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"EnvSnapshot({sorted(self._items)!r})"


@dataclass(frozen=True)
class Config:
    """Resolved configuration. Secrets inside sections are :class:`Secret` objects.

    ``env`` is the snapshot of the ``SOAR_EXT_*`` environment variables the configuration was
    loaded with; :meth:`plugin` builds a plugin's section from it when the file has none. It is
    left out of ``repr``.
    """

    database_url: str = DEFAULT_DATABASE_URL
    plugin_modes: Mapping[str, str] = field(default_factory=dict)
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    adapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    strict_plugins: bool = False
    disable_external_plugins: bool = False
    trace_hooks: bool = False
    source: str | None = None
    audit: Mapping[str, Any] = field(default_factory=dict)
    env: EnvSnapshot = field(default_factory=EnvSnapshot, repr=False)

    def mode_of(self, plugin: str) -> str:
        """The plugin's mode; plugins not mentioned are ``on``."""
        return self.plugin_modes.get(plugin, "on")

    def plugin(self, name: str) -> Mapping[str, Any]:
        """Settings section of one plugin (empty mapping if none).

        A ``[plugins.<name>]`` section of the file (with environment overrides applied) wins;
        otherwise the section comes from ``SOAR_EXT_<NAME>_<KEY>`` variables alone.
        """
        if name in self.plugin_settings:
            return self.plugin_settings[name]
        return _section_from({}, self.env, name) if self.env else {}

    def adapter(self, name: str) -> Mapping[str, Any]:
        """Settings section of one adapter (empty mapping if none)."""
        return self.adapters.get(name, {})

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with some fields replaced (tests, CLI flags)."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return Config(**values)


def _read_secret_file(path: str, key: str) -> Secret:
    try:
        return Secret(Path(path).read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(f"cannot read secret file for {key}: {exc.strerror}") from None


def _section_from(file_section: Mapping[str, Any], env: Mapping[str, str], name: str) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for key, value in file_section.items():
        if isinstance(value, Mapping):
            continue
        key = key.lower()
        if _is_secret_key(key) and not key.endswith("_file"):
            raise ConfigError(f"[{name}] {key}: secrets may only come from the environment or a *_file")
        section[key] = value
    prefix = f"{ENV_PREFIX}{name.upper()}_"
    for env_key, value in env.items():
        if env_key.startswith(prefix):
            section[env_key[len(prefix) :].lower()] = value
    for key in [k for k in section if k.endswith("_file") and _is_secret_key(k)]:
        section[key[: -len("_file")]] = _read_secret_file(str(section.pop(key)), key)
    for key, value in list(section.items()):
        if _is_secret_key(key) and not isinstance(value, Secret):
            section[key] = Secret(str(value))
    return section


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from the TOML file (optional) and the environment."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    chosen = path or env.get(f"{ENV_PREFIX}CONFIG")
    if chosen is None and Path(DEFAULT_CONFIG_FILE).is_file():
        chosen = DEFAULT_CONFIG_FILE
    if chosen is not None:
        try:
            with open(chosen, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {chosen}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from None

    database_url = env.get(f"{ENV_PREFIX}DATABASE_URL") or data.get("database", {}).get("url") or DEFAULT_DATABASE_URL

    plugins = data.get("plugins", {})
    modes: dict[str, str] = {k.lower(): str(v).lower() for k, v in plugins.get("modes", {}).items()}
    mode_env = re.compile(rf"^{ENV_PREFIX}PLUGIN_([A-Z0-9_]+)$")
    for key, value in env.items():
        m = mode_env.match(key)
        if m:
            modes[m.group(1).lower()] = value.strip().lower()
    for name, mode in modes.items():
        if mode not in MODES:
            raise ConfigError(f"plugin {name}: mode must be one of off/shadow/on, got {mode!r}")

    plugin_settings: dict[str, dict[str, Any]] = {}
    for name, section in plugins.items():
        if isinstance(section, Mapping) and name != "modes":
            plugin_settings[name.lower()] = _section_from(section, env, name)

    adapters: dict[str, dict[str, Any]] = {}
    file_adapters = data.get("adapters", {})
    for name in sorted(set(ADAPTER_SECTIONS) | set(file_adapters)):
        adapters[name] = _section_from(file_adapters.get(name, {}), env, name)

    file_audit = data.get("audit", {})
    if not isinstance(file_audit, Mapping):
        raise ConfigError("[audit] must be a table")
    audit = _section_from(file_audit, env, "audit")

    return Config(
        database_url=database_url,
        plugin_modes=modes,
        plugin_settings=plugin_settings,
        adapters=adapters,
        strict_plugins=_truthy(env.get(f"{ENV_PREFIX}STRICT_PLUGINS", plugins.get("strict", False))),
        disable_external_plugins=_truthy(env.get(f"{ENV_PREFIX}DISABLE_EXTERNAL_PLUGINS", False)),
        trace_hooks=_truthy(env.get(f"{ENV_PREFIX}TRACE_HOOKS", False)),
        source=str(chosen) if chosen else None,
        audit=audit,
        env=EnvSnapshot(env),
    )


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
