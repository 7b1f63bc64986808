"""The committed data dictionary is current and covers every table, column and code table."""

from __future__ import annotations

from pathlib import Path

from soar_ext.db import codes
from soar_ext.db.dictionary import DICTIONARY_PATH, REGENERATE_COMMAND, code_classes, render_data_dictionary
from soar_ext.db.extension import EXT_TABLES
from soar_ext.db.legacy import LEGACY_TABLES

REPO = Path(__file__).resolve().parents[1]


def test_committed_data_dictionary_is_current() -> None:
    committed = (REPO / DICTIONARY_PATH).read_text(encoding="utf-8")
    assert committed == render_data_dictionary(), (
        f"{DICTIONARY_PATH} is out of date; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_dictionary_lists_every_table_and_column_with_its_comment() -> None:
    text = render_data_dictionary()
    for table in (*LEGACY_TABLES, *EXT_TABLES):
        assert f"### `{table.name}` — {table.comment}" in text
        section = text.split(f"### `{table.name}` —", 1)[1].split("\n### ", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` |" in section, f"{table.name}.{column.name}"
            assert f"| {column.comment} |" in section, f"{table.name}.{column.name}"


def test_dictionary_lists_every_code_table() -> None:
    text = render_data_dictionary()
    classes = code_classes()
    assert {cls.__name__ for cls in classes} >= {
        "GuaranteeType",
        "ApprovalStatus",
        "Relation",
        "ContractType",
        "ContractStatus",
        "PairingStatus",
        "ExchangeKind",
        "InspectionStatus",
        "HouseStatus",
        "AllocationKind",
        "DocumentType",
        "Gender",
    }
    for cls in classes:
        section = text.split(f"### {cls.__name__}\n", 1)[1].split("\n### ", 1)[0]
        for code, label in cls.LABELS.items():
            assert f"| `{code}` | {label} |" in section
    for code, name in codes.DISTRICTS.items():
        assert f"| `{code}` | {name} |" in text
