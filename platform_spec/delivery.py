"""The path to production, declared once: the delivery pipeline's configuration (``delivery/pipeline.yaml``)
and the facts its constructs, its gates (``python -m delivery.gates``) and the canary-bake Lambda share.

pydantic validates ``delivery/pipeline.yaml`` against :class:`DeliveryDocument` and generates its editor
schema (``platform_config/schemas/delivery.schema.json``); rules across files (the environments exist,
production comes last, the delivery account is its own) are ``platform_config.delivery``'s. The bake
Lambda reads :class:`BakeState` with :func:`platform_spec.fields.from_dict` (standard library only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from platform_spec.environment import NotificationTargets, RetentionDays
from platform_spec.fields import Spec, spec

T = TypeVar("T")

# ==================================================================== the canary and its limits

#: Share of the live alias's traffic a new orchestrator version gets during the bake.
CANARY_WEIGHT: Final = 0.10
#: The readiness gate load-tests at this multiple of each contract's declared peak rate.
LOAD_TEST_MULTIPLIER: Final = 2.0
#: The alias API Gateway invokes: every release of the orchestrator goes through it.
LIVE_ALIAS: Final = "live"

#: CodeDeploy: "AWS Lambda deployment run in hours: 50, not adjustable (48 hours for the maximum time
#: between the first and last traffic shift plus one hour for each of two possible lifecycle hooks)"
#: (https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html). A CodeDeploy canary cannot hold
#: 10 % for 72 h, which is why the bake is a Step Functions loop (README, Deploy).
CODEDEPLOY_MAX_SHIFT_MINUTES: Final = 48 * 60
#: CodePipeline's Step Functions invoke action times out after 7 days
#: (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html): the bake must end before it.
STEP_FUNCTIONS_ACTION_TIMEOUT_MINUTES: Final = 7 * 24 * 60
#: The longest bake allowed: the action's 7 days less 8 hours for the deploy-to-bake hand-over, the last
#: poll and the promotion.
MAX_BAKE_MINUTES: Final = STEP_FUNCTIONS_ACTION_TIMEOUT_MINUTES - 8 * 60
#: The bake's execution times out 30 minutes before the action does. When the action times out first, "the
#: action execution fails. The state machine might continue despite this failure"; when the execution
#: reaches TIMED_OUT, the action fails on that status
#: (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StepFunctions.html, Error
#: handling). So no bake outlives the pipeline's wait, and the half hour is left for its roll back (the
#: bake's EventBridge rule) before the stage rolls back.
BAKE_EXECUTION_TIMEOUT_MINUTES: Final = STEP_FUNCTIONS_ACTION_TIMEOUT_MINUTES - 30
#: Execution statuses after which nothing of the bake runs any more, so whatever share of the live alias
#: the canary still holds is cleared (``abort``): the execution timed out, was stopped, or failed, possibly
#: where no state of it could roll back (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
BAKE_STOPPED_STATUSES: Final = ("FAILED", "TIMED_OUT", "ABORTED")
#: How long an ``abort`` may wait to run (Lambda retries an asynchronous invocation that fails twice, and
#: one throttled by the bake's single reserved instance for up to this long); then it is given up and its
#: event is sent to the notification topic (the function's dead-letter topic).
ABORT_MAX_EVENT_AGE_MINUTES: Final = 60
#: A Standard Step Functions execution fails when its history reaches 25,000 events
#: (https://docs.aws.amazon.com/step-functions/latest/dg/limits.html). Each check of the bake loop adds 9
#: (Wait entered/exited, Task entered/scheduled/started/succeeded/exited, Choice entered/exited), so a bake
#: may check at most this often (with room for the first and last steps and retries).
MAX_BAKE_CHECKS: Final = 2500
#: "72 hours stable at 10 percent traffic with no critical alerts".
DEFAULT_BAKE_MINUTES: Final = 72 * 60
#: Rolling a canary back (the live alias back to its stable version alone) is retried on any error this many
#: times after the first attempt, waiting ROLL_BACK_FIRST_DELAY_SECONDS, then twice as long each time up to
#: ROLL_BACK_MAX_DELAY_SECONDS (about 23 minutes of waiting in all): long enough to outlast throttling or an
#: expired session, short enough that a person is told within the half hour when the attempts fail at once
#: (in the state machine each attempt is also bounded by its task timeout, ``constructs/delivery/bake.py``
#: TASK_TIMEOUT, 2 minutes: 9 hung attempts would add up to 18). Both the bake's state machine and
#: ``delivery.canary.run_bake`` use them; then the bake asks a person (:func:`stuck_canary_message`).
ROLL_BACK_RETRIES: Final = 8
ROLL_BACK_FIRST_DELAY_SECONDS: Final = 15
ROLL_BACK_MAX_DELAY_SECONDS: Final = 300
#: CodePipeline's manual approval: 7 days by default, configurable from 5 minutes to 60 days (same page).
MAX_APPROVAL_HOURS: Final = 60 * 24

#: Each check judges the new version by its own invocations in this many minutes before it (from the bake's
#: start at most): at least the longest poll (60 minutes), so every minute of the bake is in some check's
#: window, and Lambda's metrics that arrive late (their timestamp is the invocation's) are counted by the
#: next checks (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).
VERSION_ERROR_WINDOW_MINUTES: Final = 60
#: Default of ``BakePolicy.max_error_rate``: the orchestrator answers upstream faults, so a function error is
#: a bug; 1 % leaves room for a stray timeout.
DEFAULT_MAX_ERROR_RATE: Final = 0.01
#: Default of ``BakePolicy.min_errors``.
DEFAULT_MIN_ERRORS: Final = 3
#: Default of ``BakePolicy.min_invocations``: the fewest invocations the new version must serve through the
#: live alias during the whole bake before it may be promoted. Zero errors in n invocations bound the
#: version's error rate below 3 / n with 95 % confidence (the "rule of three", Hanley & Lippman-Hand, JAMA
#: 1983), so 300 = 3 / DEFAULT_MAX_ERROR_RATE is the fewest that show a quiet canary within the default
#: 1 %. A production canary reaches it easily: at 10 % for the default 72 hours, 300 invocations are 3,000
#: through live, one request every 86 seconds on average (prod's contracts declare a peak of 1.5 requests per
#: second together, which the canary's share reaches in under 34 minutes).
DEFAULT_MIN_INVOCATIONS: Final = 300
#: Default of ``BakePolicy.max_latency_increase``: the new version rolls back when its typical invocation took
#: more than half as long again as the stable version's in the same window (a release that makes
#: every answer slower: a longer prompt, a retry loop, a fallback taken every time) and at least
#: LATENCY_MIN_INCREASE_MS longer.
DEFAULT_MAX_LATENCY_INCREASE: Final = 0.5
#: Below this many invocations of either version in a check's window, their durations are no verdict: a
#: model's answer time varies by seconds from one request to the next.
LATENCY_MIN_INVOCATIONS: Final = 50
#: A difference in typical duration smaller than this never rolls a release back, whatever its ratio: a
#: version that answers in 300 ms where the stable one took 150 ms is not the regression this is about.
LATENCY_MIN_INCREASE_MS: Final = 1000.0
#: The bake counts the new version's invocations over its whole duration in one GetMetricData call with
#: this period: a multiple of 60 s, 300 s and 3600 s, so valid whatever the data's age (CloudWatch returns
#: no data points for a start more than 15 days ago with a period that is not a multiple of 300 s, or more
#: than 63 days ago of 3600 s), and at most MAX_BAKE_MINUTES / 60 data points a metric, far below
#: GetMetricData's 100,800 (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html,
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html). The sum over the
#: window is the same at any period.
BAKE_COUNT_PERIOD_SECONDS: Final = 3600

# ==================================================================== accounts, roles and names

#: The CDK bootstrap qualifier (the default of `cdk bootstrap`); the pipeline deploys through the roles
#: `cdk bootstrap --trust <delivery account>` creates in each environment's account and region.
BOOTSTRAP_QUALIFIER: Final = "hnb659fds"
#: The bootstrap roles a `cdk deploy` of an assembly without lookups assumes: deploy (CloudFormation)
#: and file-publishing (assets) (https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html).
BOOTSTRAP_ROLES: Final = ("deploy", "file-publishing")


def bootstrap_role_name(kind: str, account: str, region: str) -> str:
    """``cdk-hnb659fds-deploy-role-<account>-<region>``: the name `cdk bootstrap` gives a role."""
    return f"cdk-{BOOTSTRAP_QUALIFIER}-{kind}-role-{account}-{region}"


class DeliveryRole:
    """Fixed names of the delivery account's roles that the environments' roles trust (an environment's
    trust policy names the exact role through ``aws:PrincipalArn``, so it is written before that role exists)."""

    READINESS_GATE: Final = "bedrock-platform-readiness-gate"
    CANARY_BAKE: Final = "bedrock-platform-canary-bake"


def readiness_role_name(environment: str) -> str:
    """The role in an environment's account that the readiness gate assumes."""
    return f"bedrock-platform-{environment}-readiness"


def release_role_name(environment: str) -> str:
    """The role in the production account that the canary bake assumes."""
    return f"bedrock-platform-{environment}-release"


def live_version_parameter(environment: str) -> str:
    """The SSM parameter holding the version the live alias serves in a baked environment: the bake
    writes it on promotion, and CloudFormation resolves it on every deploy."""
    return f"/bedrock-platform/{environment}/orchestrator/live-version"


def manual_roll_back_command(function_name: str, region: str) -> str:
    """What a roll back does to the live alias, by hand (production credentials, e.g. the release role):
    the alias keeps its version and sends no traffic to any other. An empty map clears the routing
    (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html)."""
    return (
        f"aws lambda update-alias --region {region} --function-name {function_name} --name {LIVE_ALIAS} "
        "--routing-config AdditionalVersionWeights={}"
    )


def roll_back_delays() -> list[float]:
    """The waits before each retry of a roll back (see ROLL_BACK_RETRIES), in seconds."""
    return [
        min(ROLL_BACK_FIRST_DELAY_SECONDS * 2**attempt, ROLL_BACK_MAX_DELAY_SECONDS)
        for attempt in range(ROLL_BACK_RETRIES)
    ]


def manual_parameter_command(parameter_name: str, version: str, region: str) -> str:
    """What a roll back does to the live-version parameter, by hand (production credentials): it names
    ``version`` again, so the next deploy keeps the alias on it (quoted: ``$LATEST`` is a version too).
    https://docs.aws.amazon.com/cli/latest/reference/ssm/put-parameter.html"""
    return (
        f"aws ssm put-parameter --region {region} --name {parameter_name} --type String --overwrite "
        f"--value '{version}'"
    )


def stuck_canary_message(
    *,
    environment: str,
    function_name: str,
    target_version: str,
    stable_version: str,
    parameter_name: str,
    region: str,
    error: str,
) -> str:
    """What a person is told when a canary could not be rolled back: what is wrong, why, and the fix. Both
    halves of a roll back (``lambdas.canary_bake.bake.roll_back``): a promotion that stopped between its
    two writes may have named the new version in the live-version parameter already, and a deploy resolves
    the parameter, so the alias alone is half the fix."""
    return (
        f"The canary bake in {environment} could not roll back ({error}): the {LIVE_ALIAS} alias of "
        f"{function_name} still sends {CANARY_WEIGHT:.0%} of its traffic to version {target_version}, and "
        f"{parameter_name} (the version the next deploy serves) may name it too. Fix: in the production "
        f"account run {manual_parameter_command(parameter_name, stable_version, region)} and then "
        f"{manual_roll_back_command(function_name, region)}"
    )


def uncleared_canary_message(
    *,
    environment: str,
    stack_name: str,
    function_name: str | None,
    parameter_name: str,
    region: str,
    execution: str,
    status: str,
    error: str,
) -> str:
    """What a person is told when the clean-up of a bake that stopped unfinished (``abort``) failed: the live
    alias may still send the canary's share to a version that was never baked, and the parameter may name
    it. The version to keep is the one the alias serves (``FunctionVersion``; the canary is the one in its
    routing config), which only ``get-alias`` says at the time; ``function_name`` None: the stack's output
    names it."""
    function = function_name or "<function>"
    where = (
        ""
        if function_name
        else f" (<function>: aws cloudformation describe-stacks --region {region} --stack-name {stack_name} "
        f"--query \"Stacks[0].Outputs[?OutputKey=='{Output.FUNCTION_NAME}'].OutputValue\" --output text)"
    )
    return (
        f"The canary bake in {environment} stopped unfinished (execution {execution}, {status}) and clearing its "
        f"canary failed ({error}): the {LIVE_ALIAS} alias of {function} may still send {CANARY_WEIGHT:.0%} of "
        f"its traffic to a version that was not baked, and {parameter_name} (the version the next deploy "
        "serves) may name it. Lambda tries the clearing again twice, a few minutes apart (each failure sends "
        "this message); if none clears it, fix it by hand in the production account: "
        f"aws lambda get-alias --region {region} --function-name {function} --name {LIVE_ALIAS}{where} "
        "(its FunctionVersion is the version to keep; RoutingConfig names the canary), then "
        f"{manual_parameter_command(parameter_name, '<its FunctionVersion>', region)} and "
        f"{manual_roll_back_command(function, region)}"
    )


#: What a new baked environment's live-version parameter starts as: Lambda aliases may point at $LATEST
#: (https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html); the first bake promotes from it.
INITIAL_LIVE_VERSION: Final = "$LATEST"


#: Where the delivery pipeline's artifact bucket keeps each candidate's review pack
#: (``review/<execution id>/``) and the last release to each environment (``releases/<env>/cdk.out/``).
REVIEW_PREFIX: Final = "review"
RELEASES_PREFIX: Final = "releases"


#: Where ``python -m delivery.gates`` writes its results by default (``--out``), relative to the checkout.
GATE_RESULTS: Final = "gate-results"


def readiness_evaluation(environment: str) -> str:
    """The folder, under a gate's results, of the readiness gate's evaluation run against ``environment``
    (its ``results.json``: every suite's scores through the deployed API and guardrail). The delivery
    pipeline carries it from the readiness step to the production review pack (ReleaseDiff), so the
    approver sees what was measured on the candidate, not the offline emulator run."""
    return f"eval-{environment}"


def readiness_and_production(order: Sequence[T]) -> tuple[T, T]:
    """Of a release order (``delivery/pipeline.yaml``'s ``environments``, at least two): the environment
    whose deployment ends with the readiness gate (the one before production) and production (the last,
    approval and canary bake)."""
    return order[-2], order[-1]


#: The environment variable every step of the delivery pipeline gets with the commit the pipeline execution
#: carries (the source action's ``CommitId`` variable): the pipeline's checkout is the source artifact,
#: which has no ``.git`` (CodePipeline's default CODE_ZIP output), so the commit a run measured and a review
#: pack describes come from it there (``platform_config.checkout.revision``).
SOURCE_COMMIT_VARIABLE: Final = "SOURCE_COMMIT"


def readiness_results_file(environment: str) -> str:
    """The readiness gate's ``results.json`` against ``environment``, relative to the checkout where the
    gate ran with its default ``--out`` (the pipeline's readiness step)."""
    return f"{GATE_RESULTS}/{readiness_evaluation(environment)}/results.json"


def release_prefix(environment: str) -> str:
    """Where the last release's assembly to ``environment`` lies: ``python -m delivery.release record``
    replaces the objects under it (deleting those the new assembly does not have), and only that step
    may delete there."""
    return f"{RELEASES_PREFIX}/{environment}/cdk.out/"


class Output:
    """Outputs of an environment's stack that the gates and the bake read (``cdk deploy --outputs-file``
    or CloudFormation DescribeStacks)."""

    API_URL: Final = "ApiUrl"
    TOPIC_ARN: Final = "NotificationTopicArn"
    PROBE_QUEUE_URL: Final = "ReadinessProbeQueueUrl"
    FUNCTION_NAME: Final = "OrchestratorFunctionName"
    RELEASE_VERSION: Final = "ReleaseVersion"
    CRITICAL_ALARMS: Final = "CanaryCriticalAlarms"
    #: The human review path's reviewer role: the gate settles the answers it made a holding use case hold.
    REVIEWER_ROLE_ARN: Final = "ReviewerRoleArn"


# ==================================================================== gates


class Gate(StrEnum):
    """The three readiness gates (``python -m delivery.gates <gate>``)."""

    GOVERNANCE = "governance"
    READINESS = "readiness"
    CANARY = "canary"


class Verdict(StrEnum):
    PASS = "PASS"
    HOLD = "HOLD"
    #: The check could not run (a missing command, a missing contract section): the gate holds.
    NOT_RUN = "NOT RUN"


#: The human review path, exercised once by the readiness gate (issue 13's command).
HUMAN_REVIEW_MODULE: Final = "human_review"
#: The contract section that states the review policy (issue 13); the governance gate requires it.
REVIEW_POLICY_FIELD: Final = "review"
#: What the governance gate requires every contract to state (``review`` is issue 13's section).
GOVERNANCE_FIELDS: Final = (
    "purpose",
    "boundary",
    "owner_team",
    "daily_budget_usd",
    "risk_tier",
    REVIEW_POLICY_FIELD,
)


# ==================================================================== the bake


class BakeDecision(StrEnum):
    #: Nothing to bake: the live alias already serves the release version, or the release version is the
    #: live version's code and configuration published again (a stage rollback redeploying the last
    #: release), which then serves 100 % of live traffic at once.
    SKIP = "SKIP"
    #: The canary is at CANARY_WEIGHT and every critical alarm is quiet: wait and check again.
    HOLD = "HOLD"
    PROMOTED = "PROMOTED"
    ROLLED_BACK = "ROLLED_BACK"


@spec
class BakeState:
    """What the bake carries from one check to the next (the state machine's payload)."""

    environment: str
    function_name: str
    stable_version: str
    target_version: str
    parameter_name: str
    critical_alarms: tuple[str, ...]
    started_at: float
    bake_seconds: float
    #: ``BakePolicy.max_error_rate`` and ``min_errors``: when the new version's own errors roll it back.
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    min_errors: int = DEFAULT_MIN_ERRORS
    #: ``BakePolicy.min_invocations``: fewer invocations of the new version through live during the whole
    #: bake roll it back instead of promoting it.
    min_invocations: int = DEFAULT_MIN_INVOCATIONS
    #: ``BakePolicy.max_latency_increase``: how much longer the new version's typical invocation may
    #: take than the stable version's (None: latency is not judged).
    max_latency_increase: float | None = DEFAULT_MAX_LATENCY_INCREASE
    decision: BakeDecision = BakeDecision.HOLD
    detail: str = ""


# ==================================================================== delivery/pipeline.yaml


@spec
class SourceRepository:
    """Where the pipeline takes the code from: a CodeConnections (CodeStar) connection to the repository."""

    connection_arn: Annotated[
        str,
        Spec(
            "The ARN of an AVAILABLE CodeConnections connection in the delivery account and region "
            "(created in the console and authorized there once).",
            pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$",
            fix="copy the connection's ARN from the console (Developer Tools > Settings > Connections)",
        ),
    ]
    repository: Annotated[
        str,
        Spec(
            "The repository as owner/name.",
            pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
            fix="write owner/name, e.g. example-org/bedrock-platform",
        ),
    ]
    branch: Annotated[
        str,
        Spec("The branch every release comes from.", pattern=r"^[A-Za-z0-9._/-]{1,255}$"),
    ] = "main"


@spec
class BakePolicy:
    """The production canary: CANARY_WEIGHT of the traffic on the new version, watched for ``minutes``."""

    minutes: Annotated[
        int,
        Spec(
            "(4320 = 72 h) How long the new version serves 10 % of production traffic with every critical alarm "
            f"quiet before it is promoted to 100 %. At most {MAX_BAKE_MINUTES} (CodePipeline's Step Functions "
            "action times out after 7 days).",
            ge=1,
            le=MAX_BAKE_MINUTES,
        ),
    ] = DEFAULT_BAKE_MINUTES
    poll_minutes: Annotated[
        int,
        Spec("(5) How often the bake checks the critical alarms and the new version's errors.", ge=1, le=60),
    ] = 5
    max_error_rate: Annotated[
        float,
        Spec(
            "(0.01) The share of the new version's own invocations (Lambda's Errors / Invocations with "
            f"ExecutedVersion = that version) in the {VERSION_ERROR_WINDOW_MINUTES} minutes before a check that "
            "may end in a function error (or a 5xx the orchestrator answers). Above it, and above the stable "
            "version's share in the same minutes (beyond chance where the stable version fails too), the bake "
            "rolls back.",
            ge=0,
            lt=1,
        ),
    ] = DEFAULT_MAX_ERROR_RATE
    min_errors: Annotated[
        int,
        Spec(
            f"(3) Fewer function errors of the new version than this in {VERSION_ERROR_WINDOW_MINUTES} minutes "
            "never roll it back, whatever their share (one stray error in a quiet hour is no verdict).",
            ge=1,
            le=1000,
        ),
    ] = DEFAULT_MIN_ERRORS
    min_invocations: Annotated[
        int,
        Spec(
            "(300) The fewest invocations the new version must serve through the live alias during the whole "
            "bake (Lambda's Invocations with ExecutedVersion = that version). Fewer when the bake's minutes are "
            "over, and it is rolled back instead of promoted: a canary that served almost nothing (no traffic, "
            "a routing or metric dimension mismatch) is untested. 300 = 3 / 0.01: zero errors in 300 "
            "invocations put the error rate below 1 % with 95 % confidence (the rule of three). At most what "
            "the canary's 10 % would serve in bake.minutes at production's declared peaks (release.peak_rps). "
            "While no use case is enabled in production nothing can send that traffic, and the loader sets it "
            "to 0 (the alarms still watch the bake).",
            ge=1,
        ),
    ] = DEFAULT_MIN_INVOCATIONS
    max_latency_increase: Annotated[
        float | None,
        Spec(
            "(0.5) How much longer the new version's typical invocation may take than the stable version's in "
            f"the {VERSION_ERROR_WINDOW_MINUTES} minutes before a check (the median of its minutes' mean "
            "Duration, Lambda's Sum / SampleCount with ExecutedVersion = each version, so a few slow "
            "invocations are not a verdict): above this share (0.5: half as long again) and "
            f"at least {LATENCY_MIN_INCREASE_MS:g} ms longer, with at least {LATENCY_MIN_INVOCATIONS} "
            "invocations of each version in those minutes, the bake rolls back. null: latency is not judged "
            "(the release-wide latency alarms still are).",
            gt=0,
            le=10,
        ),
    ] = DEFAULT_MAX_LATENCY_INCREASE

    def limits(self) -> dict[str, Any]:
        """What the bake's checks judge by (``BakeState``'s fields of the same names)."""
        return {
            "max_error_rate": self.max_error_rate,
            "min_errors": self.min_errors,
            "min_invocations": self.min_invocations,
            "max_latency_increase": self.max_latency_increase,
        }


@spec
class LoadTestPolicy:
    """The staging load test: twice each contract's peak rate, bounded in time and in requests."""

    duration_seconds: Annotated[int, Spec("(120) How long each use case is load-tested.", ge=10, le=3600)] = (
        120
    )
    max_requests: Annotated[
        int, Spec("(5000) The most requests sent to one use case, whatever the rate.", ge=1, le=200_000)
    ] = 5000
    timeout_seconds: Annotated[
        float,
        Spec(
            "(30) A request unanswered after this counts as failed (API Gateway gives up at 29 s).",
            gt=0,
            le=60,
        ),
    ] = 30.0


@spec
class DeliveryDocument:
    """The delivery pipeline (``delivery/pipeline.yaml``): where it runs, where the code comes from, the
    environments it releases to in order, who is told, and how the gates hold a release."""

    account: Annotated[
        str,
        Spec(
            "The delivery account: the pipeline, its artifacts and the bake run here, apart from every "
            "environment's account. Quote it in YAML.",
            pattern=r"^[0-9]{12}$",
            fix='write the 12-digit account id in quotes, e.g. account: "444444444444"',
        ),
    ]
    region: Annotated[
        str,
        Spec(
            "The delivery region, e.g. us-east-1.",
            pattern=r"^(us|eu|ap|ca|sa|me|af|il|mx)-(gov-)?[a-z]+-[0-9]$",
            fix="write a region name such as us-east-1",
        ),
    ]
    source: SourceRepository
    environments: Annotated[
        tuple[str, ...],
        Spec(
            "The environments (files in environments/) in release order: the first after the governance gate, "
            "the one before production ends with the readiness gate, production last (canary bake, after a "
            "manual approval). Every one but the last is production: false.",
            min_length=2,
            unique=True,
        ),
    ]
    notifications: Annotated[
        NotificationTargets,
        Spec("Who hears of approvals waiting and of failed or held releases."),
    ] = field(default_factory=NotificationTargets)
    approval_timeout_hours: Annotated[
        int,
        Spec(
            "(72) How long the manual approval before production waits for a reviewer.",
            ge=1,
            le=MAX_APPROVAL_HOURS,
        ),
    ] = 72
    bake: BakePolicy = field(default_factory=BakePolicy)
    load_test: LoadTestPolicy = field(default_factory=LoadTestPolicy)
    log_retention_days: Annotated[
        RetentionDays,
        Spec(
            "(365) Retention of the pipeline's build and bake logs; one of CloudWatch Logs' allowed values."
        ),
    ] = 365
