"""Oracle portability helpers: chunked IN lists, blank strings as NULL, byte-length checks."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.dialects import oracle

from soar_ext.db.legacy import contracts, inspections, legacy_metadata, persons
from soar_ext.db.portability import (
    FieldTooLong,
    check_lengths,
    chunked,
    in_chunks,
    none_if_blank,
    normalise_row,
)


def _oracle_sql(stmt) -> str:
    return str(stmt.compile(dialect=oracle.dialect(), compile_kwargs={"render_postcompile": True}))


def test_chunked_splits_into_lists_of_at_most_size():
    chunks = list(chunked(range(2500)))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert [x for c in chunks for x in c] == list(range(2500))
    assert list(chunked([], 3)) == []
    assert list(chunked("abcde", 2)) == [["a", "b"], ["c", "d"], ["e"]]


def test_chunked_rejects_non_positive_size():
    with pytest.raises(ValueError):
        list(chunked([1, 2], 0))


def test_in_chunks_keeps_every_oracle_in_list_within_1000_binds():
    values = [f"R{i:05d}" for i in range(2500)]
    sql = _oracle_sql(select(persons.c.ryid).where(in_chunks(persons.c.ryid, values)))
    lists = sql.split(" IN (")[1:]
    assert len(lists) == 3
    assert [part.split(")")[0].count(":") for part in lists] == [1000, 1000, 500]
    assert " OR " in sql


def test_in_chunks_with_few_values_is_a_single_in_list():
    sql = _oracle_sql(select(persons.c.ryid).where(in_chunks(persons.c.ryid, ["a", "b", "a"])))
    assert sql.count(" IN (") == 1
    assert sql.count(":") == 2  # duplicate dropped


def test_in_chunks_refuses_a_chunk_size_above_oracle_limit():
    with pytest.raises(ValueError):
        in_chunks(persons.c.ryid, ["a"], size=1001)


def test_in_chunks_selects_the_same_rows_as_a_plain_in_on_sqlite():
    engine = create_engine("sqlite://")
    legacy_metadata.create_all(engine)
    rows = [{"ryid": f"R{i:05d}", "xm": f"人员{i}", "sfzh": f"{i:018d}"} for i in range(2300)]
    wanted = {f"R{i:05d}" for i in range(0, 2300, 2)} | {"missing"}
    with engine.begin() as conn:
        conn.execute(insert(persons), rows)
        got = set(conn.scalars(select(persons.c.ryid).where(in_chunks(persons.c.ryid, sorted(wanted)))))
        assert got == wanted - {"missing"}
        assert conn.scalars(select(persons.c.ryid).where(in_chunks(persons.c.ryid, []))).all() == []
        assert len(conn.scalars(select(persons.c.ryid).where(~in_chunks(persons.c.ryid, []))).all()) == 2300


def test_in_chunks_with_no_values_is_valid_oracle_sql():
    sql = _oracle_sql(select(persons.c.ryid).where(in_chunks(persons.c.ryid, [])))
    where = sql.split("WHERE", 1)[1].strip()
    assert where != "0"  # a bare 0 is not a condition in Oracle before 23ai
    assert "1 != 1" in where


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\u3000"])
def test_blank_strings_become_none(blank):
    assert none_if_blank(blank) is None


@pytest.mark.parametrize("value", ["张三", " a ", 0, 0.0, False, None, b""])
def test_other_values_are_kept(value):
    assert none_if_blank(value) == value


def test_normalise_row_replaces_only_blank_strings():
    row = {"xm": "张三", "lxdh": "", "hjdz": "  ", "jtrs": 0, "csrq": None}
    assert normalise_row(row) == {"xm": "张三", "lxdh": None, "hjdz": None, "jtrs": 0, "csrq": None}
    assert row["lxdh"] == ""  # input untouched


def test_check_lengths_counts_utf8_bytes_and_names_the_chinese_field():
    with pytest.raises(FieldTooLong) as info:
        check_lengths(inspections, {"yfid": "1", "yfjg": "漏" * 240})
    err = info.value
    assert str(err) == "字段「验房结果说明」超过长度限制：最多600字节（中文每字3字节），实际720字节"
    assert (err.table, err.column, err.limit, err.actual) == ("tpg_hfyf", "yfjg", 600, 720)
    assert isinstance(err, ValueError)


def test_check_lengths_accepts_values_at_the_byte_limit():
    check_lengths(inspections, {"yfjg": "漏" * 200})  # exactly 600 bytes
    check_lengths(inspections, {"yfjg": "x" * 600})
    with pytest.raises(FieldTooLong):
        check_lengths(inspections, {"yfjg": "x" * 601})


def test_check_lengths_ignores_non_strings_unknown_keys_and_unbounded_columns():
    check_lengths(contracts, {"yj": 123456789, "not_a_column": "长" * 1000, "yjjmyy": None})
    check_lengths(persons, {"csrq": None})


def test_check_lengths_short_chinese_name_overflows_sfzh_style_columns():
    # 18 characters fit VARCHAR2(18) only when they are single-byte
    with pytest.raises(FieldTooLong, match="身份证号码"):
        check_lengths(persons, {"sfzh": "三" * 7})


def test_clip_utf8_cuts_by_bytes_without_splitting_a_character():
    from soar_ext.db.portability import clip_utf8

    assert clip_utf8(None, 10) is None
    assert clip_utf8("短", 10) == "短"
    clipped = clip_utf8("审" * 10, 10)  # 30 bytes
    assert clipped == "审审…" and len(clipped.encode()) <= 10
