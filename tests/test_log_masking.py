"""No full ID number reaches a log record."""

from __future__ import annotations

import logging

import pytest

from soar_ext.log_masking import get_logger, install_id_masking

ID = "11010519491231002X"


def test_logger_masks_ids_in_message_and_args(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("soar_ext.test_masking")
    with caplog.at_level(logging.DEBUG, logger="soar_ext.test_masking"):
        log.info("checking %s", ID)
        log.warning(f"inline {ID.lower()} here")
    assert caplog.records
    for record in caplog.records:
        assert ID not in record.getMessage()
        assert ID.lower() not in record.getMessage()
    assert "110105********002X" in caplog.records[0].getMessage()


def test_exception_text_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("soar_ext.test_masking_exc")
    with caplog.at_level(logging.ERROR, logger="soar_ext.test_masking_exc"):
        try:
            raise ValueError(f"bad person {ID}")
        except ValueError:
            log.exception("failed for %s", ID)
    record = caplog.records[0]
    assert ID not in record.getMessage()
    text = caplog.text
    assert "Traceback" in text and "bad person 110105********002X" in text
    assert ID not in text


def test_traceback_rendered_by_any_handler_is_masked() -> None:
    log = get_logger("soar_ext.test_masking_handler")
    seen: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit = lambda record: seen.append(handler.format(record))  # type: ignore[method-assign]
    log.addHandler(handler)
    try:
        try:
            raise KeyError(ID)
        except KeyError:
            log.error("lookup failed", exc_info=True, stack_info=True)
    finally:
        log.removeHandler(handler)
    assert seen and "KeyError" in seen[0]
    assert ID not in seen[0]


def test_install_masks_root_handlers() -> None:
    root = logging.getLogger()
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    root.addHandler(handler)
    try:
        install_id_masking()
        logging.getLogger("thirdparty.lib").warning("id %s", ID)
    finally:
        root.removeHandler(handler)
    assert seen and ID not in seen[0]
