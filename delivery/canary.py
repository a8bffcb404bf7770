"""Drive the canary bake (``lambdas/canary_bake/bake.py``) the way the delivery account's state machine does:
begin, then check every ``poll`` until the bake promotes or rolls back. The state machine waits with Step
Functions Wait states; this loop waits with the clock it is given (the real one, or a fake one offline).

Offline, production is played by moto: a function with its live alias on the stable version and the
release's version published, the live-version parameter, and a metric alarm for every critical alarm of the
synthesized production stack (moto implements no composite alarms, so each composite is played by a metric
alarm of its name; a test or ``--alarm`` sets one to ALARM). moto's CloudWatch keeps the metrics a test
publishes as Lambda would for invocations through the live alias (:meth:`OfflineProduction.record_invocations`),
which the bake reads with GetMetricData; :meth:`OfflineProduction.serve` sends requests through the alias as
its routing config splits them (the offline gate serves the production contracts' declared peak). The stack
outputs the bake reads come from a stand-in for DescribeStacks (:class:`StackOutputsStandIn`).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from compliance.assembly import StackTemplate
from compliance.cfn_values import ref_target
from delivery.notifications import stand_in_alarm
from evaluation.targets import stack_name as platform_stack_name
from lambdas.canary_bake import bake
from platform_spec.delivery import (
    LIVE_ALIAS,
    BakeDecision,
    BakePolicy,
    BakeState,
    Output,
    live_version_parameter,
    roll_back_delays,
    stuck_canary_message,
)

#: Decisions that end a bake.
FINAL = (BakeDecision.SKIP, BakeDecision.PROMOTED, BakeDecision.ROLLED_BACK)


def run_bake(
    clients: bake.Clients,
    *,
    environment: str,
    stack_name: str,
    bake_seconds: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    before_check: Callable[[float], None] | None = None,
    policy: BakePolicy | None = None,
) -> list[BakeState]:
    """Every state of one bake, from ``begin`` to its final decision. ``before_check(elapsed_seconds)`` runs
    before each check (the offline gate plants an alarm and serves traffic there); ``policy``'s limits (its
    defaults without) are what the checks judge by (its ``minutes`` and ``poll_minutes`` are not read:
    ``bake_seconds`` and ``poll_seconds`` are)."""
    state = bake.begin(
        clients,
        environment=environment,
        stack_name=stack_name,
        bake_seconds=bake_seconds,
        now=clock(),
        policy=policy,
    )
    trail = [state]
    try:
        while state.decision not in FINAL:
            sleep(poll_seconds)
            if before_check is not None:
                before_check(clock() - state.started_at)
            try:
                state = bake.check(clients, state, now=clock())
            except Exception as error:  # the state machine's catch: the bake no longer watches: roll back
                state = roll_back_or_raise(
                    clients, state, f"the bake could not check the release: {error}", sleep
                )
            trail.append(state)
    except (KeyboardInterrupt, SystemExit) as stopped:
        # Interrupted (Ctrl-C, an exit; ``python -m delivery.gates canary`` turns SIGTERM and SIGHUP into
        # SystemExit) with the canary's share on the release: no state machine or abort stands behind this
        # loop, so roll back here, as a stopped execution's abort clears its canary, then stop.
        if state.decision not in FINAL:
            roll_back_or_raise(clients, state, f"the bake was interrupted ({type(stopped).__name__})", sleep)
        raise
    return trail


class RollBackFailed(RuntimeError):
    """The canary could not be rolled back: the live alias still sends part of its traffic to the release."""


def roll_back_or_raise(
    clients: bake.Clients, state: BakeState, why: str, sleep: Callable[[float], None] = time.sleep
) -> BakeState:
    """Roll back as the state machine's ``RollBackOnError`` does: retried on any error after each of
    :func:`roll_back_delays`; then :class:`RollBackFailed`, which says how to roll back by hand."""
    delays = roll_back_delays()
    for delay in delays:
        try:
            return bake.roll_back(clients, state, why)
        except Exception:  # retried, as the state machine retries States.ALL
            sleep(delay)
    try:
        return bake.roll_back(clients, state, why)
    except Exception as error:
        raise RollBackFailed(
            stuck_canary_message(
                environment=state.environment,
                function_name=state.function_name,
                target_version=state.target_version,
                stable_version=state.stable_version,
                parameter_name=state.parameter_name,
                region=clients.lambda_.meta.region_name,
                error=f"{len(delays) + 1} attempts; the last: {error}",
            )
        ) from error


def critical_alarms_of(stack: StackTemplate) -> list[str]:
    """The logical IDs the production stack's ``CanaryCriticalAlarms`` output joins."""
    output = (stack.template.get("Outputs") or {}).get(Output.CRITICAL_ALARMS)
    if output is None:
        raise LookupError(
            f"{stack.name} has no output {Output.CRITICAL_ALARMS}: it is not a baked environment"
        )
    joined = output.get("Value", {}).get("Fn::Join", ["", []])[1]
    return [alarm for part in joined if (alarm := ref_target(part)) is not None]


class StackOutputsStandIn:
    """CloudFormation's DescribeStacks for one stack's outputs: moto's CloudFormation needs optional
    dependencies (its API Gateway models) this project does not install, and the bake only reads outputs."""

    def __init__(self, stack_name: str, outputs: Mapping[str, str]) -> None:
        self.stack_name = stack_name
        self.outputs = dict(outputs)

    def describe_stacks(self, *, StackName: str) -> dict[str, Any]:
        if StackName != self.stack_name:
            raise LookupError(f"Stack with id {StackName} does not exist")
        return {
            "Stacks": [
                {
                    "StackName": StackName,
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
                }
            ]
        }


#: How long each invocation :meth:`OfflineProduction.serve` records takes: a model's answer of a few seconds,
#: the same on both versions (a release no slower than the live one).
SERVED_DURATION_MS = 2000.0


@dataclass
class OfflineProduction:
    """Production as moto plays it, and the bake's clients into it."""

    clients: bake.Clients
    stack_name: str
    function_name: str
    alarms: list[str]

    def set_alarm(self, name: str, state: str) -> None:
        self.clients.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="planted by the gate"
        )

    def record_invocations(
        self, version: str, *, invocations: int, errors: int, at: float, duration_ms: float | None = None
    ) -> None:
        """Publish what Lambda publishes for ``invocations`` through the live alias that ran ``version`` in
        the minute of ``at`` (epoch seconds), ``errors`` of them failed, each taking ``duration_ms`` if given:
        ``Invocations`` and ``Errors``, and ``Duration`` as a statistic set (its SampleCount and Sum), with the
        dimensions FunctionName, Resource and ExecutedVersion (``bake.version_errors``,
        ``bake.version_latencies``)."""
        dimensions = [
            {"Name": "FunctionName", "Value": self.function_name},
            {"Name": "Resource", "Value": f"{self.function_name}:{LIVE_ALIAS}"},
            {"Name": "ExecutedVersion", "Value": version},
        ]
        timestamp = datetime.fromtimestamp(at, UTC)
        data: list[dict[str, Any]] = [
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": timestamp, "Value": value}
            for name, value in (("Invocations", invocations), ("Errors", errors))
        ]
        if duration_ms is not None and invocations:
            statistics = {
                "SampleCount": invocations,
                "Sum": invocations * duration_ms,
                "Minimum": duration_ms,
                "Maximum": duration_ms,
            }
            data.append(
                {
                    "MetricName": "Duration",
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "StatisticValues": statistics,
                    "Unit": "Milliseconds",
                }
            )
        self.clients.cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data)

    def publish_emf(self, documents: Sequence[Mapping[str, Any]], *, at: float) -> int:
        """Put the metrics of EMF ``documents`` (a function's log lines) into CloudWatch in the minute of
        ``at``, as CloudWatch Logs extracts them: for each directive of ``_aws.CloudWatchMetrics``, each of
        its dimension sets and each metric, one data point whose dimension values come from the document's
        root (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
        How many data points were put."""
        timestamp = datetime.fromtimestamp(at, UTC)
        put = 0
        for document in documents:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for dimension_set in directive["Dimensions"]:
                    dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
                    for metric in directive["Metrics"]:
                        values = document[metric["Name"]]
                        for value in values if isinstance(values, list) else [values]:
                            self.clients.cloudwatch.put_metric_data(
                                Namespace=directive["Namespace"],
                                MetricData=[
                                    {
                                        "MetricName": metric["Name"],
                                        "Dimensions": dimensions,
                                        "Timestamp": timestamp,
                                        "Value": float(value),
                                    }
                                ],
                            )
                            put += 1
        return put

    def serve(self, requests: int, *, at: float, duration_ms: float = SERVED_DURATION_MS) -> dict[str, int]:
        """``requests`` through the live alias in the minute of ``at``, split as its routing config splits
        them (each other version's share rounded, the alias's version the rest), none failing, each taking
        ``duration_ms``, recorded as Lambda records them (:meth:`record_invocations`): the bake's error,
        latency and invocation checks all read them. How many each version served."""
        live = self.live()
        served = {str(version): round(requests * weight) for version, weight in live["routing"].items()}
        served[str(live["version"])] = requests - sum(served.values())
        for version, count in served.items():
            if count:
                self.record_invocations(version, invocations=count, errors=0, at=at, duration_ms=duration_ms)
        return served

    def live(self) -> Mapping[str, Any]:
        alias = self.clients.lambda_.get_alias(FunctionName=self.function_name, Name=LIVE_ALIAS)
        return {
            "version": alias["FunctionVersion"],
            "routing": (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {},
        }


#: The offline orchestrator's code of each version.
STABLE_SOURCE = "def lambda_handler(event, context):\n    return 'stable'\n"
RELEASE_SOURCE = "def lambda_handler(event, context):\n    return 'release'\n"


def deployment_package(source: str) -> bytes:
    """``source`` as ``handler.py`` in a zip whose bytes depend on ``source`` alone (a fixed entry time): the
    same code gives the same CodeSha256, as a redeployed asset does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("handler.py", date_time=(1980, 1, 1, 0, 0, 0)), source)
    return buffer.getvalue()


@contextmanager
def offline_production(
    environment: str, alarms: Sequence[str], *, region: str = "us-east-1"
) -> Iterator[OfflineProduction]:
    """Production in moto: the orchestrator with versions 1 (live) and 2 (the release), the live-version
    parameter naming 1, the stack outputs the bake reads and a metric alarm per critical alarm, all OK."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="offline", aws_secret_access_key="offline", region_name=region
        )
        role = session.client("iam").create_role(
            RoleName="orchestrator",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        functions = session.client("lambda")
        name = f"{environment}-orchestrator"
        functions.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": deployment_package(STABLE_SOURCE)},
        )
        stable = functions.publish_version(FunctionName=name)["Version"]
        functions.update_function_code(FunctionName=name, ZipFile=deployment_package(RELEASE_SOURCE))
        release = functions.publish_version(FunctionName=name)["Version"]
        functions.create_alias(FunctionName=name, Name=LIVE_ALIAS, FunctionVersion=stable)
        session.client("ssm").put_parameter(
            Name=live_version_parameter(environment), Value=stable, Type="String"
        )
        cloudwatch = session.client("cloudwatch")
        for alarm in alarms:
            stand_in_alarm(cloudwatch, alarm, namespace="BedrockPlatform/CanaryProbe")
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="offline production")
        stack_name = platform_stack_name(environment)
        outputs = {
            Output.FUNCTION_NAME: name,
            Output.RELEASE_VERSION: release,
            Output.CRITICAL_ALARMS: ",".join(alarms),
        }
        clients = bake.Clients(
            cloudformation=StackOutputsStandIn(stack_name, outputs),
            lambda_=functions,
            cloudwatch=cloudwatch,
            ssm=session.client("ssm"),
        )
        yield OfflineProduction(clients, stack_name, name, list(alarms))
