"""Business days (Monday to Friday), which ACH settlement counts. Bank holidays are not
counted out: the sandbox settles on the Federal Reserve's weekdays, holidays included."""

from datetime import date, timedelta

SATURDAY = 5


def is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def add_business_days(day: date, days: int) -> date:
    """The `days`-th business day after `day` (`day` itself when `days` is 0, even at a
    weekend). Friday + 3 is the next Wednesday; Saturday + 1 is Monday. Raises ValueError for
    a negative count."""
    if days < 0:
        raise ValueError("business days are counted forward only")
    if days == 0:
        return day
    # Step back to the last business day on or before `day`: counting from it is the same.
    weekday = day.weekday()
    if weekday >= SATURDAY:
        day -= timedelta(days=weekday - SATURDAY + 1)
        weekday = 4
    weeks, rest = divmod(days, 5)
    day += timedelta(weeks=weeks)
    if weekday + rest >= SATURDAY:
        rest += 2  # jump the weekend
    return day + timedelta(days=rest)
