"""Property tests of ID masking: an ID number embedded in any text never survives the filter."""

from __future__ import annotations

import datetime as dt
import logging
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from soar_ext.idnumber import check_char, mask_in_text, to_ascii_digits
from soar_ext.log_masking import IdMaskingFilter
from tests.id_guard import full_ids_in

_FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_LONG_RUN = re.compile(r"[0-9\uff10-\uff19]{17}")


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["330106", "330102", "110105", "440305", "510107"]))
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)))
    serial = draw(st.integers(min_value=0, max_value=999))
    body = f"{area}{birth:%Y%m%d}{serial:03d}"
    return body + check_char(body)


@st.composite
def written_forms(draw: st.DrawFn) -> tuple[str, str]:
    """(the ID as written in the text, the ID): ASCII, lowercase x, full-width or mixed digits."""
    idn = draw(id_numbers())
    form = draw(st.sampled_from(["ascii", "lower", "full", "mixed"]))
    if form == "lower":
        return idn.lower(), idn
    if form == "full":
        return idn.translate(_FULL), idn
    if form == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=18, max_size=18))
        return "".join(c.translate(_FULL) if f else c for c, f in zip(idn, flips, strict=True)), idn
    return idn, idn


any_text = st.text(max_size=40)
glue = st.sampled_from(["", "sfzh", "身份证号", "ID:", "x", "abc", "=", "\n", "Ｘ", "9", "１２"])


@settings(max_examples=200, deadline=None)
@given(before=any_text, left=glue, written=written_forms(), right=glue, after=any_text)
def test_no_embedded_id_survives_masking(before: str, left: str, written: tuple[str, str], right: str, after: str):
    text, idn = written
    masked = mask_in_text(before + left + text + right + after)
    ascii_masked = to_ascii_digits(masked).upper()
    assert idn not in ascii_masked
    assert idn[6:14] not in to_ascii_digits(mask_in_text(left + text + right))  # the birth date is hidden
    assert full_ids_in(masked) == []  # no valid ID number of any origin is left in the text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_text_without_long_digit_runs_is_unchanged(text: str):
    if not _LONG_RUN.search(text):
        assert mask_in_text(text) == text


@settings(max_examples=100, deadline=None)
@given(before=any_text, written=written_forms(), after=any_text)
def test_log_filter_masks_ids_in_message_and_arguments(before: str, written: tuple[str, str], after: str):
    text, idn = written
    record = logging.LogRecord(
        "soar_ext.t", logging.INFO, __file__, 1, "%s|" + before.replace("%", "%%"), (text + after,), None
    )
    IdMaskingFilter().filter(record)
    assert idn not in to_ascii_digits(record.getMessage()).upper()
