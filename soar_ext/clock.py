"""Time as SOAR stores it: naive Beijing time (Oracle DATE carries no time zone)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")

Clock = Callable[[], dt.datetime]


def beijing_now() -> dt.datetime:
    """Current Beijing time without tzinfo, to the second."""
    return dt.datetime.now(BEIJING).replace(tzinfo=None, microsecond=0)


class FixedClock:
    """A clock that returns a set time; ``advance`` moves it (tests, replays)."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)
