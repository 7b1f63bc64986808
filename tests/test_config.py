"""Configuration: TOML file, environment overrides, secrets never from the file and never printed."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from soar_ext.config import Config, ConfigError, load_config, redact_url
from soar_ext.secret import Secret


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "soar-ext.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_the_embedded_sqlite_database() -> None:
    config = load_config(env={})
    assert config.database_url == "sqlite:///soar_ext.db"
    assert config.mode_of("deposit_waiver") == "on"


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[database]
url = "postgresql://soar@db/soar"
[plugins.modes]
deposit_waiver = "shadow"
[plugins.deposit_waiver]
threshold = 720
[adapters.qianjiang]
base_url = "https://qjf.example"
app_id = "from-file"
""",
    )
    config = load_config(
        path, env={"SOAR_EXT_QIANJIANG_APP_ID": "from-env", "SOAR_EXT_PLUGIN_EXCHANGE_INSPECTION": "off"}
    )
    assert config.database_url == "postgresql://soar@db/soar"
    assert config.mode_of("deposit_waiver") == "shadow"
    assert config.mode_of("exchange_inspection") == "off"
    assert config.plugin("deposit_waiver")["threshold"] == 720
    assert config.adapter("qianjiang") == {"base_url": "https://qjf.example", "app_id": "from-env"}


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[adapters.bigdata]\napp_secret = "oops"\n')
    with pytest.raises(ConfigError, match="secrets may only come from the environment"):
        load_config(path, env={})


def test_secrets_from_env_and_file_are_wrapped(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret\n")
    path = write(tmp_path, f'[adapters.docrepo]\napp_secret_file = "{secret_file}"\n')
    config = load_config(path, env={"SOAR_EXT_BIGDATA_APP_SECRET": "env-secret"})
    bigdata = config.adapter("bigdata")["app_secret"]
    docrepo = config.adapter("docrepo")["app_secret"]
    assert isinstance(bigdata, Secret) and bigdata.reveal() == "env-secret"
    assert docrepo.reveal() == "file-secret"
    assert "env-secret" not in repr(config) and "file-secret" not in repr(config)


def test_bad_mode_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deposit_waiver"):
        load_config(env={"SOAR_EXT_PLUGIN_DEPOSIT_WAIVER": "maybe"})


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[database\n"), env={})


def test_database_password_is_redacted() -> None:
    assert redact_url("postgresql://soar:pa55@db:5432/soar") == "postgresql://soar:***@db:5432/soar"


# --- [audit] -----------------------------------------------------------------------------------


def test_audit_digest_secret_from_env_or_file_never_from_toml(tmp_path: Path) -> None:
    config = load_config(env={"SOAR_EXT_AUDIT_DIGEST_SECRET": "env-digest-key-0123456789"})
    key = config.audit["digest_secret"]
    assert isinstance(key, Secret) and key.reveal() == "env-digest-key-0123456789"
    assert "env-digest-key" not in repr(config)

    key_file = tmp_path / "digest.key"
    key_file.write_text("file-digest-key-0123456789\n")
    config = load_config(write(tmp_path, f'[audit]\ndigest_secret_file = "{key_file}"\n'), env={})
    assert config.audit["digest_secret"].reveal() == "file-digest-key-0123456789"

    with pytest.raises(ConfigError, match=r"\[audit\] digest_secret"):
        load_config(write(tmp_path, '[audit]\ndigest_secret = "in-the-file"\n'), env={})


def test_audit_section_is_empty_by_default() -> None:
    assert load_config(env={}).audit == {}
    assert Config().audit == {}


# --- plugin settings from the environment alone --------------------------------------------------


def test_plugin_settings_from_environment_without_a_file_section() -> None:
    config = load_config(env={"SOAR_EXT_DEPOSIT_WAIVER_THRESHOLD": "750"})
    assert config.plugin("deposit_waiver") == {"threshold": "750"}
    assert config.plugin("exchange_inspection") == {}


def test_plugin_settings_from_environment_follow_the_secret_rules(tmp_path: Path) -> None:
    token_file = tmp_path / "token.txt"
    token_file.write_text("from-file\n")
    config = load_config(
        env={
            "SOAR_EXT_HUKOU_BATCH_API_SECRET": "plugin-env-secret",
            "SOAR_EXT_HUKOU_BATCH_SIGN_PASSWORD_FILE": str(token_file),
            "SOAR_EXT_HUKOU_BATCH_CHUNK": "500",
        }
    )
    section = config.plugin("hukou_batch")
    assert section["chunk"] == "500"
    assert isinstance(section["api_secret"], Secret) and section["api_secret"].reveal() == "plugin-env-secret"
    assert section["sign_password"].reveal() == "from-file"
    assert "plugin-env-secret" not in repr(config) and "plugin-env-secret" not in str(config)
    assert str(token_file) not in repr(config)


def test_file_section_still_wins_and_environment_overrides_its_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[plugins.deposit_waiver]\nthreshold = 720\ntime_budget_seconds = 3\n")
    config = load_config(path, env={"SOAR_EXT_DEPOSIT_WAIVER_THRESHOLD": "760"})
    assert config.plugin("deposit_waiver") == {"threshold": "760", "time_budget_seconds": 3}


def test_directly_built_config_keeps_working_and_is_frozen() -> None:
    config = Config(plugin_modes={"deposit_waiver": "shadow"}, plugin_settings={"x": {"a": 1}}, strict_plugins=True)
    assert config.plugin("x") == {"a": 1}
    assert config.plugin("deposit_waiver") == {}
    assert config.mode_of("deposit_waiver") == "shadow"
    with pytest.raises(FrozenInstanceError):
        config.strict_plugins = False  # type: ignore[misc]


def test_environment_snapshot_survives_overrides_and_hides_values() -> None:
    env = {"SOAR_EXT_DEPOSIT_WAIVER_THRESHOLD": "750", "SOAR_EXT_BIGDATA_APP_SECRET": "s3cr3t", "HOME": "/root"}
    config = load_config(env=env).with_overrides(strict_plugins=True)
    assert config.plugin("deposit_waiver") == {"threshold": "750"}
    assert "HOME" not in config.env
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in repr(config.env)


def test_plugin_setting_from_environment_reaches_the_plugin_context() -> None:
    from soar_ext.adapter_registry import AdapterRegistry
    from soar_ext.audit import MemoryAuditSink
    from soar_ext.clock import beijing_now
    from soar_ext.context import Operator, SoarContext

    config = load_config(env={"SOAR_EXT_DEPOSIT_WAIVER_THRESHOLD": "750"})
    ctx = SoarContext(
        operator=Operator(id="u1", name="王经办", roles=frozenset(), district=None),
        connection=None,  # type: ignore[arg-type]
        config=config,
        adapters=AdapterRegistry(config),
        audit=MemoryAuditSink(),
        clock=beijing_now,
    ).for_plugin("deposit_waiver", "on")
    assert ctx.settings() == {"threshold": "750"}
