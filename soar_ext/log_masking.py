"""Logging filter that masks resident ID numbers in every record."""

from __future__ import annotations

import logging

from soar_ext.idnumber import mask_in_text


class IdMaskingFilter(logging.Filter):
    """Rewrites a record's message so no full ID number reaches any handler.

    The message is rendered once (``msg % args``), masked, and stored back with no
    args, so handlers, formatters and log captures all see the masked text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = mask_in_text(message)
        record.args = None
        # Tracebacks are rendered by the formatter after filtering: render them here, masked,
        # and drop exc_info so no handler can render the raw exception text again.
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_in_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_in_text(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


def install_id_masking(logger_name: str = "soar_ext") -> None:
    """Attach the masking filter to the ``soar_ext`` logger and to the root handlers.

    Filters on a logger apply only to records created on that logger, so the filter is
    also attached to the root logger's handlers (records from child loggers pass them).
    Idempotent.
    """
    flt = IdMaskingFilter()
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, IdMaskingFilter) for f in logger.filters):
        logger.addFilter(flt)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, IdMaskingFilter) for f in handler.filters):
            handler.addFilter(flt)


def mask_logger(name: str) -> logging.Logger:
    """Attach the masking filter to a (third-party) logger, e.g. ``httpx``, which logs request URLs."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, IdMaskingFilter) for f in logger.filters):
        logger.addFilter(IdMaskingFilter())
    return logger


def get_logger(name: str) -> logging.Logger:
    """A logger under ``soar_ext`` whose records are masked before any handler sees them."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, IdMaskingFilter) for f in logger.filters):
        logger.addFilter(IdMaskingFilter())
    return logger
