"""The Excel list of a household check: one row per family member, and a 汇总 sheet.

Written through the one export module (:mod:`soar_ext.export`): streaming, every text cell a
string, new sheets past Excel's row limit, ID numbers masked unless the operator may see them.
The summary follows the data sheet and counts exactly the rows written (the tally pattern of
docs/export.md), whatever the workers did meanwhile. 死亡/迁出/失踪 rows are red, failures and
rows that could not be checked yellow; the same statuses are highlighted in 汇总.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection

from soar_ext.db.work_queue import CANCELLED, DONE, FAILED, LEASED, PENDING
from soar_ext.export.xlsx import Column, SheetSpec
from soar_ext.hukou.jobs import NOTE_INVALID_ID, NOTE_UNKNOWN_CERTIFICATE, Job, ListRow, list_rows
from soar_ext.hukou.selection import relation_label

LIST_TITLE = "核查清单"
SUMMARY_TITLE = "汇总"
FILE_NAME = "户籍核查清单"
EXPORT_ACTION = "hukou_check.export"
EXPORT_PURPOSE = "户籍批量核查结果导出"

INVALID_ID_LABEL = "身份证号无效"
UNKNOWN_CERTIFICATE_LABEL = "配租资格证号不存在"
FAILED_LABEL = "核查失败"
#: Statuses the clerks must act on: red in the list and in 汇总.
ALERT_LABELS = frozenset({"死亡", "迁出", "失踪"})
#: Rows that have no registration status from upstream: yellow.
PROBLEM_LABELS = frozenset({FAILED_LABEL, INVALID_ID_LABEL, UNKNOWN_CERTIFICATE_LABEL, "未核查", "核查中", "已取消"})

LIST_COLUMNS: Sequence[Column] = (
    Column("序号", "integer"),
    Column("主申请人"),
    Column("配租资格证号"),
    Column("成员姓名"),
    Column("与主申请人关系"),
    Column("身份证号", "id_number"),
    Column("户籍状态"),
    Column("户籍状态代码"),
    Column("户籍地址", width=40),
    Column("核查时间", "datetime"),
    Column("核查结果/失败原因", width=40),
)
STATUS_COLUMN = 6
SUMMARY_COLUMNS: Sequence[Column] = (Column("户籍状态"), Column("清单行数", "integer"))


def status_and_result(row: ListRow) -> tuple[str, str]:
    """The 户籍状态 and 核查结果/失败原因 cells of a list row."""
    if row.note == NOTE_UNKNOWN_CERTIFICATE:
        return UNKNOWN_CERTIFICATE_LABEL, "清单中的配租资格证号在系统中不存在，未核查"
    if row.note == NOTE_INVALID_ID:
        return INVALID_ID_LABEL, "身份证号不符合 GB 11643 规则，未向大数据局查询"
    status = row.item_status
    if status == DONE:
        return row.hjzt_label or "未知", "已核查" if row.result == "found" else "大数据局无此人户籍记录"
    if status == FAILED:
        return FAILED_LABEL, f"已尝试 {row.attempts or 0} 次：{row.error or '原因未知'}（可重试失败人员）"
    if status == CANCELLED:
        return "已取消", "作业已取消，未核查"
    if status == LEASED:
        return "核查中", "正在核查"
    if status == PENDING and row.error:
        return "未核查", f"上次核查失败，将自动重试：{row.error}"
    return "未核查", "等待核查"


def _tone(row: Sequence[object]) -> str | None:
    label = row[STATUS_COLUMN]
    if label in ALERT_LABELS:
        return "error"
    if label in PROBLEM_LABELS:
        return "warn"
    return None


def _summary_tone(row: Sequence[object]) -> str | None:
    label = row[0]
    if label in ALERT_LABELS:
        return "error"
    if label in PROBLEM_LABELS:
        return "warn"
    return None


def hukou_sheets(rows: Iterable[ListRow]) -> Iterator[SheetSpec]:
    """The list sheet, then 汇总 from the tally of the rows written (a generator: see docs/export.md)."""
    tally: Counter[str] = Counter()

    def member_rows() -> Iterator[tuple[object, ...]]:
        for row in rows:
            label, result = status_and_result(row)
            tally[label] += 1
            yield (
                row.seq,
                row.applicant_name,
                row.pzzgzh,
                row.member_name,
                relation_label(row.relation) if row.relation else None,
                row.sfzh,
                label,
                row.hjzt if row.item_status == DONE else None,
                row.hjdz if row.item_status == DONE else None,
                row.checked_at if row.item_status in (DONE, FAILED) else None,
                result,
            )

    yield SheetSpec(LIST_TITLE, LIST_COLUMNS, member_rows(), row_tone=_tone)
    summary = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    yield SheetSpec(SUMMARY_TITLE, SUMMARY_COLUMNS, [*summary, ("合计", sum(tally.values()))], row_tone=_summary_tone)


def job_sheets(conn: Connection, job: Job) -> Iterator[SheetSpec]:
    """The sheets of ``job``'s list, read from the database as they are written."""
    return hukou_sheets(list_rows(conn, job.job_id))


def file_name(job: Job) -> str:
    return f"{FILE_NAME}_{job.created_at:%Y%m%d}_{job.job_id[:8]}"
