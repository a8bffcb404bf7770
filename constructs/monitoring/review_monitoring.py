"""Alarms and the dashboard row of the review path (:class:`~bedrock_constructs.human_review.HumanReview`)."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns

from bedrock_constructs.human_review import HumanReview
from bedrock_constructs.monitoring.alarms import notifying_alarm
from bedrock_constructs.monitoring.dashboard import PlatformDashboard
from bedrock_constructs.orchestration_api import OrchestratorFunction
from constructs import Construct
from platform_spec.api import Metric, ReviewMetric
from platform_spec.review import MAX_RECEIVE_COUNT, QUEUE_VISIBILITY_TIMEOUT_S

#: The period of the backlog alarms: the backlog function publishes every BACKLOG_INTERVAL_MINUTES.
BACKLOG_PERIOD = cdk.Duration.minutes(5)
#: The ``QueueAge`` alarm's threshold: the longest an output can wait in the review queue while the scoring
#: function consumes it. A message whose scoring keeps failing is received ``MAX_RECEIVE_COUNT`` times, each
#: after the visibility timeout, and then moves to the dead-letter queue (the ``DeadLetters`` alarm), so it
#: leaves the queue within about ``MAX_RECEIVE_COUNT`` x the visibility timeout (5 x 720 s = 1 h) of being
#: sent. An older one has not been received that often: the queue is not consumed (event source disabled,
#: the key refused to the function) or scoring is that far behind. Nothing reaches the dead-letter
#: queue then, and the outputs expire unscored after the queue's 4-day retention. (The redrive policy also
#: keeps a message that can never be scored from holding the metric up: https://docs.aws.amazon.com/
#: AWSSimpleQueueService/latest/SQSDeveloperGuide/capturing-problematic-messages.html)
QUEUE_AGE_THRESHOLD_S = MAX_RECEIVE_COUNT * QUEUE_VISIBILITY_TIMEOUT_S
#: The period of the rate alarms (reject rate, low-score rate): decisions are sparse, an hour collects
#: enough of them for a rate to mean something (each contract's review.alarms.min_events).
RATE_PERIOD = cdk.Duration.hours(1)


def _rate(
    label: str, *, part: cloudwatch.IMetric, whole: cloudwatch.IMetric, minimum: int
) -> cloudwatch.MathExpression:
    """100 * part / whole over the rate period, 0 while ``whole`` is below ``minimum`` (no flapping on a
    handful of events)."""
    return cloudwatch.MathExpression(
        label=label,
        period=RATE_PERIOD,
        using_metrics={"w": whole, "p": part},
        expression=f"IF(FILL(w, 0) >= {minimum}, 100 * FILL(p, 0) / w, 0)",
    )


class HumanReviewMonitoring(Construct):
    """The review path's alarms, each notifying ``topic`` on ALARM and OK, and its dashboard row.

    Per use case (construct ID ``<UseCase>``, thresholds from its contract's ``review``):

    - ``Backlog``: more than ``alarms.max_pending`` items pending;
    - ``OldestPending``: the oldest pending item is older than ``sla_hours`` (the review SLA);
    - ``RejectRate``: more than ``alarms.reject_rate_percent`` of the hour's decisions rejected (quiet below
      ``alarms.min_events`` decisions);
    - ``LowScoreRate``: more than ``alarms.low_score_rate_percent`` of the hour's scored outputs below the
      low-score threshold (quiet below ``alarms.min_events`` outputs).

    For the path: ``DeadLetters`` (any message the scoring function gave up on), ``QueueAge`` (an output
    waited in the review queue longer than ``QUEUE_AGE_THRESHOLD_S``: the queue is not consumed),
    ``EnqueueFailures`` (the orchestrator could not queue an output), ``BacklogFunctionErrors`` (without
    the backlog function the SLA alarm would go quiet).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        review: HumanReview,
        orchestrator: OrchestratorFunction,
        topic: sns.ITopic,
        dashboard: PlatformDashboard | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.use_case_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {}
        for use_case in review.use_cases:
            contract = use_case.contract
            policy = contract.review
            uc = contract.id
            scope_uc = Construct(self, use_case.node.id)
            decisions = review.metric(ReviewMetric.DECISIONS, uc, period=RATE_PERIOD)
            rejected = review.metric(ReviewMetric.REJECTED, uc, period=RATE_PERIOD)
            scored = review.metric(ReviewMetric.SCORED, uc, period=RATE_PERIOD)
            low = review.metric(ReviewMetric.LOW_SCORE, uc, period=RATE_PERIOD)
            minimum = policy.alarms.min_events
            threshold = policy.flags.low_score if policy.flags.low_score is not None else 0.5
            specs: dict[str, tuple[cloudwatch.IMetric, float, str]] = {
                "Backlog": (
                    review.metric_pending(uc, period=BACKLOG_PERIOD),
                    policy.alarms.max_pending,
                    f"{uc}: more than {policy.alarms.max_pending} outputs wait for a reviewer",
                ),
                "OldestPending": (
                    review.metric_oldest_pending_age(uc, period=BACKLOG_PERIOD),
                    policy.sla_hours * 3600,
                    f"{uc}: an output has waited for a reviewer longer than the contract's {policy.sla_hours} h "
                    "review SLA",
                ),
                "RejectRate": (
                    _rate("Reject rate (%)", part=rejected, whole=decisions, minimum=minimum),
                    policy.alarms.reject_rate_percent,
                    f"{uc}: reviewers rejected more than {policy.alarms.reject_rate_percent:g}% of the hour's "
                    "decided outputs",
                ),
                "LowScoreRate": (
                    _rate("Low-score rate (%)", part=low, whole=scored, minimum=minimum),
                    policy.alarms.low_score_rate_percent,
                    f"{uc}: more than {policy.alarms.low_score_rate_percent:g}% of the hour's outputs scored below "
                    f"{threshold:g}",
                ),
            }
            self.use_case_alarms[uc] = {
                name: notifying_alarm(
                    scope_uc,
                    name,
                    metric=metric,
                    threshold=value,
                    description=description,
                    topic=topic,
                    evaluation_periods=1,
                )
                for name, (metric, value, description) in specs.items()
            }
        failures = [
            orchestrator.metric_use_case(Metric.REVIEW_ENQUEUE_FAILURES, u.contract.id, period=BACKLOG_PERIOD)
            for u in review.use_cases
        ]
        path_specs: dict[str, tuple[cloudwatch.IMetric, float, str]] = {
            "DeadLetters": (
                review.metric_dead_letters(period=BACKLOG_PERIOD),
                0,
                "review: outputs the scoring function gave up on are in the dead-letter queue (redrive them "
                "after fixing the cause)",
            ),
            "QueueAge": (
                review.metric_queue_age(period=BACKLOG_PERIOD),
                QUEUE_AGE_THRESHOLD_S,
                f"review: an output has waited in the review queue longer than {QUEUE_AGE_THRESHOLD_S} s, the "
                f"time {MAX_RECEIVE_COUNT} failed deliveries take to reach the dead-letter queue: the scoring "
                "function is not consuming the queue (event source disabled, key access denied) or is that far "
                "behind; unscored outputs expire after the queue's retention",
            ),
            "EnqueueFailures": (
                cloudwatch.MathExpression(
                    label="Outputs not queued for review",
                    period=BACKLOG_PERIOD,
                    using_metrics={f"f{i}": m for i, m in enumerate(failures)},
                    expression=" + ".join(f"FILL(f{i}, 0)" for i in range(len(failures))),
                ),
                0,
                "review: the orchestrator could not queue answered outputs for scoring (the callers got their "
                "answers; held answers were not released)",
            ),
            "BacklogFunctionErrors": (
                review.metric_backlog_failures(period=BACKLOG_PERIOD),
                0,
                "review: the backlog function failed or was not started, so the backlog and SLA alarms have no "
                "data",
            ),
        }
        self.alarms = {
            name: notifying_alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                description=description,
                topic=topic,
                evaluation_periods=1,
            )
            for name, (metric, threshold, description) in path_specs.items()
        }
        if dashboard is not None:
            self._dashboard_row(review, failures, dashboard)

    def all_alarms(self) -> list[cloudwatch.Alarm]:
        return [
            *self.alarms.values(),
            *(a for alarms in self.use_case_alarms.values() for a in alarms.values()),
        ]

    def _dashboard_row(
        self, review: HumanReview, failures: Sequence[cloudwatch.IMetric], dashboard: PlatformDashboard
    ) -> None:
        p = dashboard.period
        ids = [u.contract.id for u in review.use_cases]

        def per_use_case(name: str, statistic: str, period: cdk.Duration = p) -> list[cloudwatch.IMetric]:
            return [review.metric(name, uc, period=period, statistic=statistic, label=uc) for uc in ids]

        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Pending review items", left=per_use_case(ReviewMetric.PENDING, "Maximum"), width=6
            ),
            cloudwatch.GraphWidget(
                title="Oldest pending item (s) and review SLAs",
                left=per_use_case(ReviewMetric.OLDEST_PENDING_AGE, "Maximum"),
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=u.contract.review.sla_hours * 3600, label=f"{u.contract.id} SLA"
                    )
                    for u in review.use_cases
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Quality score (mean) and rubric score",
                left=per_use_case(ReviewMetric.QUALITY_SCORE, "Average"),
                right=per_use_case(ReviewMetric.RUBRIC_SCORE, "Average"),
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Low-score share, sent to people (share of scored)",
                left=per_use_case(ReviewMetric.LOW_SCORE, "Average"),
                right=per_use_case(ReviewMetric.SENT_TO_REVIEW, "Average"),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Decisions and rejected",
                left=per_use_case(ReviewMetric.DECISIONS, "Sum", RATE_PERIOD),
                right=per_use_case(ReviewMetric.REJECTED, "Sum", RATE_PERIOD),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Caller rating (mean, 1-5) and negative feedback",
                left=per_use_case(ReviewMetric.FEEDBACK_RATING, "Average"),
                right=per_use_case(ReviewMetric.NEGATIVE_FEEDBACK, "Sum"),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Dead letters, outputs not queued",
                left=[review.metric_dead_letters(period=p)],
                right=list(failures),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Review queue: oldest message (s)",
                left=[review.metric_queue_age(period=p)],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=QUEUE_AGE_THRESHOLD_S, label="QueueAge alarm")
                ],
                width=6,
            ),
            cloudwatch.AlarmStatusWidget(title="Review alarms", alarms=list(self.all_alarms()), width=24),
        ]
        dashboard.add_section("Human review and continuous scoring", widgets)
