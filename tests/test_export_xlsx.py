"""The Excel export module: what the written workbooks contain, read back with two readers."""

from __future__ import annotations

import datetime as dt
import io
import random
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soar_ext.clock import BEIJING
from soar_ext.export import xlsx
from soar_ext.export.cells import CLIP_MARKER, MAX_CELL_CHARS
from soar_ext.export.xlsx import Column, ExportDataError, SheetSpec, sheet_position, write_xlsx
from soar_ext.idnumber import check_char
from tests.export_readers import assert_no_formulas, calamine_sheets, openpyxl_book, sheet_xml

ID_A = "33010619850312123" + check_char("33010619850312123")
ID_B = "33010219901102456" + check_char("33010219901102456")

COLUMNS = [
    Column("序号", "integer"),
    Column("申请人"),
    Column("身份证号", "id_number"),
    Column("建筑面积", "decimal"),
    Column("摇号日期", "date"),
    Column("关联时间", "datetime"),
]
ROWS = [
    (1, "张三", ID_A, Decimal("65.37"), dt.date(2024, 6, 30), dt.datetime(2024, 6, 30, 14, 5, 9)),
    (2, "欧阳娜娜", ID_B, 48.5, dt.date(2023, 1, 1), dt.datetime(2023, 12, 31, 23, 59, 59)),
    (3, "李四", None, 70, None, None),
]

FORMULA_LOOKING = [
    '=HYPERLINK("http://example.invalid/?q="&A1,"点击")',
    "=1+1",
    "+86 138 0000 0000",
    "-1",
    "@SUM(A1:A3)",
    "\t=1",
    "\r=1",
    "\n=1",
    "＝1+1",
    "#N/A",
    "=",
]


def write(tmp_path: Path, sheets: list[SheetSpec], *, full_ids: bool = False, name: str = "out.xlsx") -> Path:
    target = tmp_path / name
    write_xlsx(target, sheets, full_ids=full_ids)
    return target


def test_rows_read_back_with_independent_reader_as_typed_values(tmp_path: Path) -> None:
    path = write(tmp_path, [SheetSpec("划拨清单", COLUMNS, ROWS)], full_ids=True)

    (rows,) = calamine_sheets(path).values()
    assert rows[0] == [column.header for column in COLUMNS]
    assert rows[1] == [1.0, "张三", ID_A, 65.37, dt.date(2024, 6, 30), dt.datetime(2024, 6, 30, 14, 5, 9)]
    assert rows[2] == [2.0, "欧阳娜娜", ID_B, 48.5, dt.date(2023, 1, 1), dt.datetime(2023, 12, 31, 23, 59, 59)]
    assert rows[3] == [3.0, "李四", "", 70.0, "", ""]
    assert len(rows) == 4
    assert_no_formulas(path)


def test_typed_cells_carry_number_formats_and_text_cells_are_strings(tmp_path: Path) -> None:
    path = write(tmp_path, [SheetSpec("清单", COLUMNS, ROWS)], full_ids=True)

    sheet = openpyxl_book(path)["清单"]
    number, name, id_cell, area, day, moment = sheet[2]
    assert (number.value, number.data_type, number.number_format) == (1, "n", "0")
    assert (name.value, name.data_type) == ("张三", "s")
    assert (id_cell.value, id_cell.data_type, id_cell.number_format) == (ID_A, "s", "@")
    assert (area.value, area.data_type, area.number_format) == (65.37, "n", "#,##0.00")
    assert (day.value, day.data_type, day.number_format) == (dt.datetime(2024, 6, 30), "d", "yyyy-mm-dd")
    assert (moment.value, moment.number_format) == (dt.datetime(2024, 6, 30, 14, 5, 9), "yyyy-mm-dd hh:mm:ss")
    assert sheet["C4"].value is None and sheet["E4"].value is None


def test_formula_looking_text_is_written_as_text_never_as_formula(tmp_path: Path) -> None:
    columns = [Column("姓名"), Column("身份证号", "id_number")]
    rows = [(value, value) for value in FORMULA_LOOKING]
    path = write(tmp_path, [SheetSpec("名单", columns, rows)], full_ids=True)

    read = calamine_sheets(path)["名单"]
    assert [row[0] for row in read[1:]] == FORMULA_LOOKING
    assert [row[1] for row in read[1:]] == [value.strip() for value in FORMULA_LOOKING]  # IDs are trimmed
    assert_no_formulas(path)
    sheet = openpyxl_book(path)["名单"]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type == "s"
    # Text Excel would take for a formula (or a command) when edited also gets the quote prefix.
    assert all(sheet.cell(row, 1).quotePrefix for row in range(2, 2 + len(FORMULA_LOOKING)) if row != 11)
    assert not sheet["A11"].quotePrefix  # "#N/A" is no formula trigger, and it stays a string


def test_id_numbers_are_masked_unless_full_ids(tmp_path: Path) -> None:
    spec = [SheetSpec("名单", [Column("身份证号", "id_number"), Column("备注")], [(ID_A, ID_A), ("12345", None)])]

    masked = calamine_sheets(write(tmp_path, spec, name="masked.xlsx"))["名单"]
    full = calamine_sheets(write(tmp_path, spec, full_ids=True, name="full.xlsx"))["名单"]

    assert masked[1][0] == ID_A[:6] + "********" + ID_A[14:]
    assert masked[2][0] == "***45"
    assert full[1][0] == ID_A and full[2][0] == "12345"
    # Only id_number columns are masked: free text is the caller's to choose.
    assert masked[1][1] == ID_A


def test_header_row_is_bold_frozen_and_filtered_over_the_used_range(tmp_path: Path) -> None:
    path = write(tmp_path, [SheetSpec("清单", COLUMNS, ROWS), SheetSpec("空表", [Column("说明")], [])])

    book = openpyxl_book(path)
    sheet = book["清单"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    assert all(cell.font.bold for cell in sheet[1])
    assert [cell.value for cell in sheet[1]] == [column.header for column in COLUMNS]
    empty = book["空表"]
    assert empty.auto_filter.ref == "A1:A1" and empty.freeze_panes == "A2"
    assert calamine_sheets(path)["空表"] == [["说明"]]


def test_column_widths_follow_header_and_values_counting_cjk_double(tmp_path: Path) -> None:
    columns = [
        Column("序号", "integer"),
        Column("地址"),
        Column("身份证号", "id_number"),
        Column("备注", width=33),
        Column("说明"),
    ]
    rows = [
        (1, "杭州市西湖区文三路100号", ID_A, "x", "很长" * 100),
        (22, "abc", ID_B, "y", "短"),
    ]
    path = write(tmp_path, [SheetSpec("清单", columns, rows)])

    widths = {key: dim.width for key, dim in openpyxl_book(path)["清单"].column_dimensions.items()}
    assert widths["A"] == 8  # header 序号: 2 CJK = 4, +2 for the filter button, +2 padding
    assert widths["B"] == len("杭州市西湖区文三路") * 2 + len("100") + 2 * 1 + 2  # 号 counts 2 as well
    assert widths["C"] == 20  # 18 characters + padding
    assert widths["D"] == 33  # the column's own width
    assert widths["E"] == xlsx.MAX_WIDTH


def test_rows_continue_on_new_sheets_past_the_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_SHEET_ROWS", 5)  # header + 4 data rows per sheet
    columns = [Column("序号", "integer"), Column("姓名")]
    rows = ((n, f"人员{n}") for n in range(1, 14))
    target = tmp_path / "out.xlsx"

    summary = write_xlsx(target, [SheetSpec("清单", columns, rows)], full_ids=False)

    assert summary.sheets[0].sheet_titles == ("清单", "清单（2）", "清单（3）", "清单（4）")
    assert summary.rows == 13
    read = calamine_sheets(target)
    assert list(read) == ["清单", "清单（2）", "清单（3）", "清单（4）"]
    assert all(rows[0] == ["序号", "姓名"] for rows in read.values())
    numbers = [row[0] for rows in read.values() for row in rows[1:]]
    assert numbers == [float(n) for n in range(1, 14)]
    assert [len(rows) - 1 for rows in read.values()] == [4, 4, 4, 1]
    # Each row sits where sheet_position says (the same arithmetic as at the real limit).
    for index in range(13):
        part, excel_row = sheet_position(index, 5)
        assert read[list(read)[part - 1]][excel_row - 1][0] == index + 1
    book = openpyxl_book(target)
    assert [sheet.auto_filter.ref for sheet in book.worksheets] == ["A1:B5", "A1:B5", "A1:B5", "A1:B2"]
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)


def test_true_row_limit_arithmetic_keeps_1048575_data_rows_per_sheet() -> None:
    assert xlsx.MAX_SHEET_ROWS == 1_048_576
    assert sheet_position(0) == (1, 2)
    assert sheet_position(1_048_574) == (1, 1_048_576)  # the last row Excel has
    assert sheet_position(1_048_575) == (2, 2)  # continues below the repeated header
    assert sheet_position(2 * 1_048_575) == (3, 2)
    assert sheet_position(3_000_000) == (3, 3_000_000 - 2 * 1_048_575 + 2)


def test_continuation_titles_stay_within_31_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_SHEET_ROWS", 2)
    title = "杭州市公共租赁住房调房划拨关联清单（二〇二四年度第一批次）"
    summary = write_xlsx(
        tmp_path / "out.xlsx", [SheetSpec(title, [Column("序号", "integer")], [(1,), (2,), (3,)])], full_ids=False
    )

    titles = summary.sheets[0].sheet_titles
    assert len(titles) == 3 and len(set(titles)) == 3
    assert all(len(t) <= 31 for t in titles)
    assert titles[0] == title[:31] and titles[1].endswith("（2）") and titles[2].endswith("（3）")


def test_sheet_titles_are_made_valid_and_unique(tmp_path: Path) -> None:
    column = [Column("说明")]
    specs = [
        SheetSpec("2024/06:清单[一]*?\\", column, [("a",)]),
        SheetSpec("清单", column, [("b",)]),
        SheetSpec("清单", column, [("c",)]),
        SheetSpec("Data", column, [("d",)]),
        SheetSpec("data", column, [("e",)]),
        SheetSpec("'", column, [("f",)]),
    ]
    summary = write_xlsx(tmp_path / "out.xlsx", specs, full_ids=False)

    titles = [sheet.sheet_titles[0] for sheet in summary.sheets]
    assert titles == ["2024_06_清单_一____", "清单", "清单（2）", "Data", "data（2）", "工作表"]
    assert list(calamine_sheets(tmp_path / "out.xlsx")) == titles
    assert list(summary.audit_detail()["sheets"]) == titles  # type: ignore[call-overload]


def test_text_over_excel_cell_limit_is_clipped_with_a_visible_marker(tmp_path: Path) -> None:
    long_ascii = "甲" + "a" * 40_000
    astral = "𠮷" * 20_000  # 40,000 UTF-16 units, as Excel counts
    exact = "b" * MAX_CELL_CHARS
    target = tmp_path / "out.xlsx"
    spec = SheetSpec("长文本", [Column("内容")], [(long_ascii,), (astral,), (exact,)])
    summary = write_xlsx(target, [spec], full_ids=False)

    read = [row[0] for row in calamine_sheets(target)["长文本"][1:]]
    assert len(read[0]) == MAX_CELL_CHARS and read[0].endswith(CLIP_MARKER) and read[0].startswith("甲aaa")
    assert read[1].endswith(CLIP_MARKER)
    assert len(read[1].encode("utf-16-le")) // 2 <= MAX_CELL_CHARS
    assert set(read[1][: -len(CLIP_MARKER)]) == {"𠮷"}  # no half character left behind
    assert read[2] == exact  # at the limit: kept whole
    assert summary.clipped_cells == 2


def test_characters_xml_cannot_hold_are_removed_and_whitespace_kept(tmp_path: Path) -> None:
    values = ["a\x00b\x08c\x0bd\x1fe", "lone\ud800surrogate\ufffe", "  两端空格  ", "换\n行\r\n回车\t制表", "&<>\"'"]
    target = tmp_path / "out.xlsx"
    summary = write_xlsx(target, [SheetSpec("文本", [Column("内容")], [(v,) for v in values])], full_ids=False)

    expected = ["abcde", "lonesurrogate", "  两端空格  ", "换\n行\r\n回车\t制表", "&<>\"'"]
    assert [row[0] for row in calamine_sheets(target)["文本"][1:]] == expected
    assert [cell.value for cell in openpyxl_book(target)["文本"]["A"][1:]] == expected
    assert summary.cleaned_cells == 2


def test_ooxml_escape_lookalikes_read_back_literally(tmp_path: Path) -> None:
    values = ["_x0041_", "批次_x000D_号", "_x005F_", "a_b"]
    target = tmp_path / "out.xlsx"
    write_xlsx(target, [SheetSpec("文本", [Column("内容")], [(v,) for v in values])], full_ids=False)

    # Excel and calamine decode _xHHHH_; the writer escapes it so the text stays as given.
    assert [row[0] for row in calamine_sheets(target)["文本"][1:]] == values


def test_random_text_round_trips_exactly_after_cleaning(tmp_path: Path) -> None:
    rng = random.Random(20241201)
    alphabet = (
        [chr(c) for c in range(0x20, 0x7F)]
        + list("\t\n\r\x00\x01\x1f&<>_x0D")
        + [chr(c) for c in range(0x4E00, 0x4E00 + 200)]
        + ["𠮷", "😀", "\u3000", "\ufffe", "\ud800", "＝", "\u00a0"]
    )
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(400)]
    target = tmp_path / "out.xlsx"
    write_xlsx(target, [SheetSpec("随机", [Column("内容")], [(v,) for v in values])], full_ids=False)

    cleaned = [xlsx.cells.ILLEGAL_XML_CHARS.sub("", v) for v in values]
    assert [row[0] for row in calamine_sheets(target)["随机"][1:]] == cleaned
    assert_no_formulas(target)


def test_row_tone_highlights_whole_rows(tmp_path: Path) -> None:
    columns = [Column("姓名"), Column("户籍状态"), Column("核查时间", "datetime")]
    rows = [("张三", "正常", dt.datetime(2024, 1, 1, 9)), ("李四", "死亡", None), ("王五", "查询失败", None)]
    tones = {"死亡": "error", "查询失败": "warn"}
    path = write(tmp_path, [SheetSpec("核查", columns, rows, row_tone=lambda row: tones.get(row[1]))])

    sheet = openpyxl_book(path)["核查"]

    def fill(ref: str) -> str | None:
        cell = sheet[ref]
        return cell.fill.start_color.rgb if cell.fill.fill_type == "solid" else None

    assert [fill(ref) for ref in ("A2", "B2", "C2")] == [None, None, None]
    assert [fill(ref) for ref in ("A3", "B3", "C3")] == ["00FFC7CE"] * 3  # the empty cell too
    assert [fill(ref) for ref in ("A4", "B4", "C4")] == ["00FFEB9C"] * 3
    assert calamine_sheets(path)["核查"][2] == ["李四", "死亡", ""]


def test_summary_sheet_from_tallies_can_follow_a_large_rolled_over_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_SHEET_ROWS", 101)
    statuses = ["正常", "死亡", "迁出", "失踪", "正常", "正常"]
    tally: Counter[str] = Counter()

    def members() -> Iterator[tuple[object, ...]]:
        for n in range(1, 451):
            status = statuses[n % len(statuses)]
            tally[status] += 1
            yield (n, f"成员{n}", status)

    def sheets() -> Iterator[SheetSpec]:
        yield SheetSpec("核查清单", [Column("序号", "integer"), Column("成员姓名"), Column("户籍状态")], members())
        # Taken only after every member row was written, so the tally is complete.
        yield SheetSpec(
            "汇总",
            [Column("户籍状态"), Column("人数", "integer")],
            sorted(tally.items()),
            row_tone=lambda row: "error" if row[0] in {"死亡", "迁出", "失踪"} else None,
        )

    target = tmp_path / "out.xlsx"
    summary = write_xlsx(target, sheets(), full_ids=False)

    read = calamine_sheets(target)
    assert list(read) == ["核查清单", "核查清单（2）", "核查清单（3）", "核查清单（4）", "核查清单（5）", "汇总"]
    assert dict((status, int(n)) for status, n in read["汇总"][1:]) == {"正常": 225, "死亡": 75, "迁出": 75, "失踪": 75}
    assert [sheet.rows for sheet in summary.sheets] == [450, 4]


def test_memory_stays_flat_when_rows_come_from_a_generator(tmp_path: Path) -> None:
    def peak(n: int) -> int:
        rows = ((i, f"杭州市西湖区文三路{i}号", ID_A, Decimal(i) / 7, dt.date(2024, 1, 1)) for i in range(n))
        spec = SheetSpec(
            "清单",
            [Column("序号", "integer"), Column("地址"), Column("身份证号", "id_number"), Column("面积", "decimal"),
             Column("日期", "date")],
            rows,
        )  # fmt: skip
        tracemalloc.start()
        try:
            write_xlsx(tmp_path / f"{n}.xlsx", [spec], full_ids=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # Five times the rows, about the same peak (a list of the rows would double it).
    small, large = peak(1_000), peak(5_000)
    assert large < small * 1.25, (small, large)


def test_datetimes_are_beijing_time_and_dates_and_datetimes_convert(tmp_path: Path) -> None:
    aware = dt.datetime(2024, 6, 30, 6, 0, tzinfo=dt.UTC)
    columns = [Column("日期", "date"), Column("时间", "datetime")]
    rows = [(dt.datetime(2024, 6, 30, 23, 30), dt.date(2024, 6, 30)), (aware, aware.astimezone(BEIJING))]
    path = write(tmp_path, [SheetSpec("时间", columns, rows)])

    read = calamine_sheets(path)["时间"]
    assert read[1] == [dt.date(2024, 6, 30), dt.date(2024, 6, 30)]  # calamine reads 00:00:00 as a date
    assert read[2] == [dt.date(2024, 6, 30), dt.datetime(2024, 6, 30, 14, 0)]
    assert openpyxl_book(path)["时间"]["B2"].value == dt.datetime(2024, 6, 30)


def test_writes_to_a_binary_file_object(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    summary = write_xlsx(buffer, [SheetSpec("清单", COLUMNS, ROWS)], full_ids=False)

    assert summary.rows == 3
    assert calamine_sheets(buffer.getvalue())["清单"][1][1] == "张三"
    assert "<row" in next(iter(sheet_xml(buffer.getvalue()).values()))


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Column(123), "表头必须是文本"),  # type: ignore[arg-type]
        (lambda: Column("  "), "表头不能为空"),
        (lambda: Column("金额", "money"), "类型 'money' 未知"),  # type: ignore[arg-type]
        (lambda: Column("金额", width=0), "宽度"),
        (lambda: SheetSpec(5, [Column("a")], []), "工作表名称必须是文本"),  # type: ignore[arg-type]
        (lambda: SheetSpec("清单", [], []), "没有列"),
        (lambda: SheetSpec("清单", ["序号"], []), "第 1 列不是 Column"),  # type: ignore[list-item]
        (lambda: SheetSpec("清单", [Column("a")], "abc"), "数据行必须是可迭代"),
        (lambda: SheetSpec("清单", [Column("a")], [], row_tone="error"), "row_tone 必须是函数"),  # type: ignore[arg-type]
    ],
)
def test_bad_columns_and_sheets_are_refused_with_a_clear_message(make: object, fragment: str) -> None:
    with pytest.raises(ExportDataError, match=fragment):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ((1, "张三"), "第 2 行数据：有 2 个值，应为 6 个"),
        ("abcdef", "第 2 行数据：应为一行值的序列"),
        ({"a": 1}, "第 2 行数据：应为一行值的序列"),
        (("1", "张三", None, None, None, None), "第 2 行数据「序号」列：应为整数，实际为 str '1'"),
        ((True, "张三", None, None, None, None), "「序号」列：应为整数，实际为 bool"),
        ((10**15, "张三", None, None, None, None), "「序号」列：整数超过 Excel 能精确保存的 15 位"),
        ((3, 4.5, None, None, None, None), "「申请人」列：应为文本，实际为 float"),
        ((3, "张三", 330106, None, None, None), "「身份证号」列：身份证号应为文本"),
        ((3, "张三", None, "65.3平方米", None, None), "「建筑面积」列：应为数字，实际为 str"),
        ((3, "张三", None, float("nan"), None, None), "「建筑面积」列：应为 Excel 能保存的有限数字"),
        ((3, "张三", None, Decimal("Infinity"), None, None), "「建筑面积」列：应为 Excel 能保存的有限数字"),
        ((3, "张三", None, Decimal("sNaN"), None, None), "「建筑面积」列：应为 Excel 能保存的有限数字"),
        ((3, "张三", None, Decimal("1E+400"), None, None), "「建筑面积」列：应为 Excel 能保存的有限数字"),
        ((3, "张三", None, 10**400, None, None), "「建筑面积」列：应为 Excel 能保存的有限数字"),
        ((3, "张三", None, None, "2024-06-30", None), "「摇号日期」列：应为日期，实际为 str"),
        ((3, "张三", None, None, dt.date(1899, 12, 31), None), "「摇号日期」列：Excel 不能保存 1900-01-01 以前的日期"),
        ((3, "张三", None, None, None, 1719734400), "「关联时间」列：应为日期时间，实际为 int"),
    ],
)
def test_bad_rows_name_sheet_row_and_column_and_write_nothing(tmp_path: Path, row: object, fragment: str) -> None:
    target = tmp_path / "out.xlsx"
    rows = [ROWS[0], row, ROWS[1]]

    with pytest.raises(ExportDataError, match=fragment) as caught:
        write_xlsx(target, [SheetSpec("划拨清单", COLUMNS, rows)], full_ids=False)

    assert str(caught.value).startswith("工作表「划拨清单」第 2 行数据")
    assert caught.value.sheet == "划拨清单" and caught.value.row == 2
    assert list(tmp_path.iterdir()) == []  # no file, no partial file


def test_a_rejected_value_is_masked_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(ExportDataError) as caught:
        write_xlsx(tmp_path / "o.xlsx", [SheetSpec("清单", [Column("人数", "integer")], [(ID_A,)])], full_ids=True)

    assert ID_A not in str(caught.value)
    assert ID_A[:6] + "********" + ID_A[14:] in str(caught.value)
    assert caught.value.column == "人数"


def test_an_unknown_row_tone_is_refused(tmp_path: Path) -> None:
    spec = SheetSpec("清单", [Column("a")], [("x",)], row_tone=lambda row: "red")

    with pytest.raises(ExportDataError, match="row_tone 返回了 'red'"):
        write_xlsx(tmp_path / "o.xlsx", [spec], full_ids=False)


def test_no_sheets_or_a_non_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportDataError, match="没有要导出的工作表"):
        write_xlsx(tmp_path / "o.xlsx", [], full_ids=False)
    with pytest.raises(ExportDataError, match="必须是 SheetSpec"):
        write_xlsx(tmp_path / "o.xlsx", [("清单", [])], full_ids=False)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="full_ids"):
        write_xlsx(tmp_path / "o.xlsx", [], full_ids="yes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_failure_late_in_a_later_sheet_leaves_targets_and_temp_dir_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where openpyxl keeps each sheet while writing
    monkeypatch.setattr(xlsx, "MAX_SHEET_ROWS", 3)
    existing = tmp_path / "old.xlsx"
    existing.write_bytes(b"previous export")
    buffer = io.BytesIO()

    def rows() -> Iterator[tuple[object, ...]]:
        yield from ((n,) for n in range(10))
        yield ("not a number",)

    def sheets() -> list[SheetSpec]:
        return [SheetSpec("一", [Column("a")], [("x",)]), SheetSpec("二", [Column("n", "integer")], rows())]

    with pytest.raises(ExportDataError, match="工作表「二」第 11 行数据「n」列"):
        write_xlsx(existing, sheets(), full_ids=False)
    with pytest.raises(ExportDataError):
        write_xlsx(buffer, sheets(), full_ids=False)

    assert existing.read_bytes() == b"previous export"
    assert buffer.getvalue() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.xlsx", "tmp"]
    assert list(scratch.iterdir()) == []


def test_an_error_raised_by_the_row_source_propagates_and_writes_nothing(tmp_path: Path) -> None:
    def rows() -> Iterator[tuple[object, ...]]:
        yield ("a",)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        write_xlsx(tmp_path / "o.xlsx", [SheetSpec("清单", [Column("a")], rows())], full_ids=False)
    assert list(tmp_path.iterdir()) == []


def test_temporary_sheet_files_are_removed_after_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    write_xlsx(tmp_path / "o.xlsx", [SheetSpec("一", COLUMNS, ROWS), SheetSpec("二", COLUMNS, ROWS)], full_ids=False)
    write_xlsx(io.BytesIO(), [SheetSpec("一", COLUMNS, ROWS)], full_ids=False)

    assert list(scratch.iterdir()) == []


def test_rows_can_stream_straight_from_a_database_cursor(tmp_path: Path) -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER, name VARCHAR(20), area NUMERIC(10, 2))"))
        conn.execute(text("INSERT INTO t VALUES (1, '杭州市西湖区文三路一百号', 65.37), (2, '李四', 48.5)"))
        result = conn.execute(text("SELECT n, name, area FROM t ORDER BY n"))
        columns = [Column("序号", "integer"), Column("地址"), Column("面积", "decimal")]
        write_xlsx(tmp_path / "o.xlsx", [SheetSpec("清单", columns, result)], full_ids=False)

    assert calamine_sheets(tmp_path / "o.xlsx")["清单"][1:] == [
        [1.0, "杭州市西湖区文三路一百号", 65.37],
        [2.0, "李四", 48.5],
    ]
    assert openpyxl_book(tmp_path / "o.xlsx")["清单"].column_dimensions["B"].width == 12 * 2 + 2  # sized from the rows


def test_integers_in_text_columns_are_written_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, [SheetSpec("房源", [Column("房号"), Column("编号")], [(1203, "0012"), (-5, "1E3")])])

    assert calamine_sheets(path)["房源"][1:] == [["1203", "0012"], ["-5", "1E3"]]
    assert {cell.data_type for row in openpyxl_book(path)["房源"].iter_rows(min_row=2) for cell in row} == {"s"}
