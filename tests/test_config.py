"""Configuration: TOML file, environment overrides, secrets never from the file and never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar_ext.config import ConfigError, load_config, redact_url
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
