"""Benchmark: the Excel export's real path against XlsxWriter's constant-memory mode.

What is measured
    100,000 rows × 12 columns of an allocation list (序号, 申请人, 身份证号, 配租资格证号, 家庭人数,
    原房源地址, 划拨房源地址/房号, 建筑面积, 关联时间, 操作人, 摇号日期, 备注): Chinese text, ID
    numbers, integers, decimals, datetimes and dates, produced row by row by a generator (the
    same generator for every writer; every 100th 备注 looks like a formula). Each writer runs in
    its own process and writes the same visible workbook: bold frozen header, auto-filter, column
    widths, number formats, ID numbers masked.

    - ``soar_ext``: the real path, ``soar_ext.export.audited.export_workbook`` (role check,
      ``write_xlsx`` over openpyxl write-only, the file read back as bytes, the audit record).
    - ``xlsxwriter``: XlsxWriter with ``constant_memory`` and ``strings_to_formulas`` /
      ``strings_to_urls`` off (its formula-safe setting), typed ``write_*`` calls per column.
    - ``openpyxl_append`` (information): plain openpyxl write-only ``append`` of the same values,
      what a naive export would do (not formula-safe: text starting with ``=`` becomes a formula).
    - ``rustpy_xlsxwriter`` (information, only when installed): the Rust writer.

    Per writer and run: wall time of the export (from the first row pulled to the file written),
    CPU time of the process for it, and the process's peak RSS (``VmHWM``, interpreter and
    imports included). Writers run in a rotating order in each run; the figures are medians over the
    runs, and the ratio to XlsxWriter is also given per run (paired) because the machine is shared.
    Every file is read back once with python-calamine to check its row count and a sample row.

Goal (DESIGN.md §8)
    soar_ext ≤ 1.25 × XlsxWriter's wall time in the same run, peak RSS ≤ 64 MiB.

Run: ``.venv/bin/python benchmarks/excel_export.py [--rows 100000] [--runs 3] [--writers soar_ext,xlsxwriter]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

GOAL_RATIO = 1.25
GOAL_RSS_MIB = 64.0
BASELINE = "xlsxwriter"
WRITERS = ("soar_ext", "xlsxwriter", "openpyxl_append", "rustpy_xlsxwriter")
INFORMATION_ONLY = {"openpyxl_append", "rustpy_xlsxwriter"}

# (header, kind) of the 12 columns, as soar_ext.export.xlsx.Column takes them
COLUMNS: tuple[tuple[str, str], ...] = (
    ("序号", "integer"),
    ("申请人", "text"),
    ("身份证号", "id_number"),
    ("配租资格证号", "text"),
    ("家庭人数", "integer"),
    ("原房源地址", "text"),
    ("划拨房源地址/房号", "text"),
    ("建筑面积", "decimal"),
    ("关联时间", "datetime"),
    ("操作人", "text"),
    ("摇号日期", "date"),
    ("备注", "text"),
)
NUMBER_FORMATS = {
    "text": "@",
    "id_number": "@",
    "integer": "0",
    "decimal": "#,##0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
# Widths soar_ext works out for this data; the other writers are given the same.
WIDTHS = (8.0, 10.0, 20.0, 16.0, 12.0, 46.0, 44.0, 12.0, 21.0, 10.0, 12.0, 36.0)
POOL_SIZE = 4096
SEED = 20241201


# -- data ----------------------------------------------------------------------------------------


SURNAMES = "王李张陈刘杨黄吴赵周徐孙朱胡沈郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊芳娜敏静丽艳娟霞秀玲燕红梅莉婷雪琳晶颖倩洁萍琴云蕾欣怡佳悦"
STREETS = ("文三路", "莫干山路", "天目山路", "凤起路", "解放路", "庆春路", "秋涛路", "江南大道", "滨盛路", "余杭塘路")


def make_pool(seed: int) -> list[tuple[str, ...]]:
    """Distinct people and houses the rows cycle through (built before the clock starts).

    Kept free of heavy imports so that every writer's peak RSS starts from the same small process.
    """
    from soar_ext.db.codes import DISTRICTS
    from soar_ext.idnumber import check_char

    rng = random.Random(seed)
    districts = ("330102", "330105", "330106", "330108", "330110")
    pool = []
    for n in range(POOL_SIZE):
        district = rng.choice(districts)
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20_000))
        first17 = f"{district}{birth:%Y%m%d}{rng.randrange(1000):03d}"

        def address(code: str) -> str:
            return f"杭州市{DISTRICTS[code]}{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}幢"

        pool.append(
            (
                rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                first17 + check_char(first17),
                f"HZGZ{2015 + n % 10}{n:06d}",
                address(district) + f"{rng.randint(1, 6)}单元{rng.randint(101, 2802)}室",
                address(rng.choice(districts)) + f"{rng.randint(101, 3302)}室",
                rng.choice(SURNAMES) + rng.choice(GIVEN),
            )
        )
    return pool


def rows(n: int, pool: list[tuple[str, ...]]) -> Iterator[tuple[object, ...]]:
    """The allocation list's rows, made one at a time."""
    areas = [Decimal(3500 + (i * 37) % 5500) / 100 for i in range(97)]
    linked = dt.datetime(2024, 1, 2, 8, 30, 0)
    minute = dt.timedelta(minutes=1)
    lottery = dt.date(2023, 6, 30)
    day = dt.timedelta(days=1)
    for i in range(1, n + 1):
        name, id_number, cert, origin, target, operator = pool[i % POOL_SIZE]
        if i % 100 == 0:
            note = f'=HYPERLINK("http://example.invalid/{i}","复核")'
        elif i % 3 == 0:
            note = f"联系电话 138{i % 100_000_000:08d}，已电话确认"
        else:
            note = None
        yield (
            i,
            name,
            id_number,
            cert,
            1 + i % 5,
            origin,
            target,
            areas[i % 97],
            linked + i * minute,
            operator,
            lottery - (i % 365) * day,
            note,
        )


# -- writers (each runs in its own process) ------------------------------------------------------


def write_soar_ext(path: Path, n: int, pool: list[tuple[str, ...]]) -> None:
    from soar_ext import roles
    from soar_ext.audit import MemoryAuditSink
    from soar_ext.config import Config
    from soar_ext.context import Operator, SoarContext
    from soar_ext.export.audited import export_workbook
    from soar_ext.export.xlsx import Column, SheetSpec

    # The export uses neither SOAR's connection nor the adapters: the host's objects stay out of
    # the process, so its peak RSS is the export's own (imports included).
    ctx = SoarContext(
        operator=Operator(id="u001", name="王经办", roles=frozenset({roles.EXPORTER})),
        connection=None,  # type: ignore[arg-type]
        config=Config(),
        adapters=None,  # type: ignore[arg-type]
        audit=MemoryAuditSink(),
    )
    spec = SheetSpec("划拨清单", [Column(header, kind) for header, kind in COLUMNS], rows(n, pool))  # type: ignore[arg-type]
    result = export_workbook(ctx, file_name="划拨清单", purpose="性能测试", sheets=[spec])
    path.write_bytes(result.file_bytes or b"")


def write_xlsxwriter(path: Path, n: int, pool: list[tuple[str, ...]]) -> None:
    import xlsxwriter

    from soar_ext.idnumber import mask_id_number

    book = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    sheet = book.add_worksheet("划拨清单")
    header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "align": "center", "num_format": "@"})
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in NUMBER_FORMATS.items()}
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    for col, (title, _) in enumerate(COLUMNS):
        sheet.write_string(0, col, title, header)

    def decimal(row: int, col: int, value: object, fmt: object) -> None:
        sheet.write_number(row, col, float(value), fmt)  # type: ignore[arg-type]

    def id_number(row: int, col: int, value: object, fmt: object) -> None:
        sheet.write_string(row, col, mask_id_number(value), fmt)  # type: ignore[arg-type]

    by_kind: dict[str, Callable[..., object]] = {
        "text": sheet.write_string,
        "id_number": id_number,
        "integer": sheet.write_number,
        "decimal": decimal,
        "date": sheet.write_datetime,
        "datetime": sheet.write_datetime,
    }
    cells = [(by_kind[kind], formats[kind]) for _, kind in COLUMNS]
    count = 0
    for count, values in enumerate(rows(n, pool), 1):
        for col, ((write, fmt), value) in enumerate(zip(cells, values, strict=True)):
            if value is not None:
                write(count, col, value, fmt)
    sheet.autofilter(0, 0, count, len(COLUMNS) - 1)
    book.close()


def write_openpyxl_append(path: Path, n: int, pool: list[tuple[str, ...]]) -> None:
    from openpyxl import Workbook

    from soar_ext.idnumber import mask_id_number

    book = Workbook(write_only=True)
    sheet = book.create_sheet("划拨清单")
    for col, width in enumerate(WIDTHS):
        sheet.column_dimensions[chr(ord("A") + col)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([title for title, _ in COLUMNS])
    for values in rows(n, pool):
        row = list(values)
        row[2] = mask_id_number(row[2])  # type: ignore[arg-type]
        sheet.append(row)
    sheet.auto_filter.ref = f"A1:L{n + 1}"
    book.save(path)


def write_rustpy_xlsxwriter(path: Path, n: int, pool: list[tuple[str, ...]]) -> None:
    from rustpy_xlsxwriter import FastExcel

    from soar_ext.idnumber import mask_id_number

    headers = [title for title, _ in COLUMNS]

    def records() -> Iterator[dict[str, object]]:
        for values in rows(n, pool):
            row = list(values)
            row[2] = mask_id_number(row[2])  # type: ignore[arg-type]
            row[7] = float(row[7])  # type: ignore[arg-type]
            yield dict(zip(headers, row, strict=True))

    FastExcel(str(path)).format(bold_headers=True).freeze(row=1, col=0).sheet("划拨清单", records()).save()


WRITER_FUNCTIONS: dict[str, Callable[[Path, int, list[tuple[str, ...]]], None]] = {
    "soar_ext": write_soar_ext,
    "xlsxwriter": write_xlsxwriter,
    "openpyxl_append": write_openpyxl_append,
    "rustpy_xlsxwriter": write_rustpy_xlsxwriter,
}


def run_worker(writer: str, n: int, out: Path) -> dict[str, object]:
    setup_started = time.perf_counter()
    pool = make_pool(SEED)
    setup = time.perf_counter() - setup_started
    cpu_started = time.process_time()
    started = time.perf_counter()
    WRITER_FUNCTIONS[writer](out, n, pool)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {"writer": writer, "wall": wall, "cpu": cpu, "rss_mib": peak_rss_mib(), "setup": setup}


def peak_rss_mib() -> float:
    """This process's peak resident set size.

    Linux's ``VmHWM`` starts afresh at ``exec``; ``ru_maxrss`` would carry over the parent's peak
    (the parent reads whole workbooks back), so it is only the fallback elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the parent: runs, checks, report ------------------------------------------------------------


def available(writer: str) -> bool:
    module = {"xlsxwriter": "xlsxwriter", "rustpy_xlsxwriter": "rustpy_xlsxwriter"}.get(writer)
    return module is None or importlib.util.find_spec(module) is not None


def spawn(writer: str, n: int, out: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", writer, "--rows", str(n), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{writer} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_file(writer: str, path: Path, n: int) -> str:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    (name,) = book.sheet_names
    read = book.get_sheet_by_name(name).to_python()
    problems = []
    if len(read) != n + 1:
        problems.append(f"{len(read) - 1} data rows, expected {n}")
    if read[0] != [title for title, _ in COLUMNS]:
        problems.append(f"header {read[0]!r}")
    if n >= 100 and read[100][11] != '=HYPERLINK("http://example.invalid/100","复核")':
        problems.append(f"formula-looking 备注 of row 100 read back as {read[100][11]!r}, not as the text")
    if len(read) > 1 and "********" not in str(read[1][2]):
        problems.append("ID number not masked")
    size = path.stat().st_size / 1024 / 1024
    return f"{writer}: {size:.1f} MiB, " + ("read back OK" if not problems else "PROBLEMS: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", default=",".join(WRITERS), help="comma-separated subset of " + ", ".join(WRITERS))
    parser.add_argument("--worker", choices=WRITERS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args.worker, args.rows, args.out)))
        return 0

    writers = [w for w in args.writers.split(",") if w]
    unknown = set(writers) - set(WRITERS)
    if unknown:
        parser.error(f"unknown writers: {', '.join(sorted(unknown))}")
    skipped = [w for w in writers if not available(w)]
    writers = [w for w in writers if w not in skipped]
    print(f"Excel export: {args.rows:,} rows × {len(COLUMNS)} columns, {args.runs} run(s): {', '.join(writers)}")
    for writer in skipped:
        print(f"  {writer}: not installed, skipped (pip install {writer.replace('_', '-')})")

    results: dict[str, list[dict[str, object]]] = {w: [] for w in writers}
    with tempfile.TemporaryDirectory(prefix="soar-ext-bench-") as scratch:
        checks = []
        for run in range(args.runs):
            order = writers[run % len(writers) :] + writers[: run % len(writers)]
            for writer in order:
                out = Path(scratch) / f"{writer}.xlsx"
                result = spawn(writer, args.rows, out)
                results[writer].append(result)
                print(
                    f"  run {run + 1} {writer:<18} wall {result['wall']:6.2f} s  cpu {result['cpu']:6.2f} s"
                    f"  peak RSS {result['rss_mib']:5.1f} MiB",
                    flush=True,
                )
                if run == 0:
                    checks.append(check_file(writer, out, args.rows))
                out.unlink()
    report(results, args.runs, checks)
    return 0


def report(results: dict[str, list[dict[str, object]]], runs: int, checks: list[str]) -> None:
    def median(writer: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in results[writer])  # type: ignore[arg-type]

    print("\nFiles:")
    for line in checks:
        print("  " + line)
    base = BASELINE if BASELINE in results else None
    heading = ("wall s", "cpu s", "wall ÷ xlsxwriter", "paired", "cpu ÷", "RSS MiB")
    print(f"\n{'writer':<18} " + " ".join(f"{h:>{w}}" for h, w in zip(heading, (7, 7, 18, 7, 6, 8), strict=True)))
    for writer in results:
        wall, cpu = median(writer, "wall"), median(writer, "cpu")
        rss = max(float(r["rss_mib"]) for r in results[writer])  # type: ignore[arg-type]
        if base:
            ratio = f"{wall / median(base, 'wall'):.2f}"
            paired = statistics.median(
                float(a["wall"]) / float(b["wall"])  # type: ignore[arg-type]
                for a, b in zip(results[writer], results[base], strict=True)
            )
            cpu_ratio = f"{cpu / median(base, 'cpu'):.2f}"
            paired_text = f"{paired:.2f}"
        else:
            ratio = paired_text = cpu_ratio = "-"
        note = "  (information)" if writer in INFORMATION_ONLY else ""
        print(f"{writer:<18} {wall:7.2f} {cpu:7.2f} {ratio:>18} {paired_text:>7} {cpu_ratio:>6} {rss:8.1f}{note}")
    setup = statistics.median(float(r["setup"]) for rs in results.values() for r in rs)  # type: ignore[arg-type]
    print(f"(not timed: building the {POOL_SIZE:,}-entry data pool, median {setup:.2f} s per process)")

    if "soar_ext" in results and base:
        ratio = median("soar_ext", "wall") / median(base, "wall")
        rss = max(float(r["rss_mib"]) for r in results["soar_ext"])  # type: ignore[arg-type]
        verdict_time = "met" if ratio <= GOAL_RATIO else "NOT MET"
        verdict_rss = "met" if rss <= GOAL_RSS_MIB else "NOT MET"
        print(
            f"\nGoal soar_ext ≤ {GOAL_RATIO} × XlsxWriter wall: {ratio:.2f} × — {verdict_time}; "
            f"peak RSS ≤ {GOAL_RSS_MIB:.0f} MiB: {rss:.1f} MiB — {verdict_rss} (median of {runs} run(s))"
        )


if __name__ == "__main__":
    sys.exit(main())
