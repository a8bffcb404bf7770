"""Retention periods in days, mapped to the CloudWatch Logs values CDK accepts.

Constructs take ``logs.RetentionDays`` (as aws-cdk's own do); the stack converts the environment file's
``log_retention_days`` once, with :func:`log_retention`.
"""

from __future__ import annotations

from aws_cdk import aws_logs as logs

RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int, *, owner: str) -> logs.RetentionDays:
    """The CloudWatch Logs retention for ``days``, or a clear error naming ``owner``."""
    try:
        return RETENTION_BY_DAYS[days]
    except KeyError:
        raise ValueError(
            f"{owner}: retention_days {days!r} is not a CloudWatch Logs retention period; "
            f"use one of {sorted(RETENTION_BY_DAYS)}"
        ) from None


def retention_days(retention: logs.RetentionDays, *, owner: str) -> int:
    """The number of days ``retention`` keeps data: what an S3 lifecycle rule that must expire objects
    with the logs needs. ``RetentionDays.INFINITE`` has no such number and is refused, naming ``owner``."""
    for days, value in RETENTION_BY_DAYS.items():
        if value == retention:
            return days
    raise ValueError(
        f"{owner}: log_retention {retention} has no number of days for the S3 lifecycle that expires "
        f"objects with the logs; use a finite period, e.g. logs.RetentionDays.ONE_YEAR"
    )
