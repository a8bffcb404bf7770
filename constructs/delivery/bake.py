"""The canary bake controller: a Step Functions state machine in the delivery account that holds a new
orchestrator version at 10 % of production traffic for the bake time, then promotes it, or rolls it back
on the first critical alarm.

Why not a CodeDeploy canary: a CodeDeploy Lambda deployment runs at most 50 hours, 48 of them between the
first and last traffic shift (``platform_spec.delivery.CODEDEPLOY_MAX_SHIFT_MINUTES``), so it cannot hold
10 % for 72 hours. A Standard state machine may run for a year (its limit here is the 25,000-event history,
``MAX_BAKE_CHECKS``), and CodePipeline's Step Functions action waits up to 7 days for it; the execution
times out before that (``BAKE_EXECUTION_TIMEOUT_MINUTES``), and one that stops unfinished has its canary
share cleared (``stopped_rule``).
"""

from __future__ import annotations

import dataclasses
import json
import re

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from bedrock_constructs.assets import package_with_spec
from bedrock_constructs.lint import ignore_generated_depends_on
from bedrock_constructs.nag import (
    acknowledge,
    acknowledge_all,
    acknowledge_basic_execution_role,
    acknowledge_inline_policy,
    acknowledge_wildcards,
    logical_ref,
)
from bedrock_platform_lambdas import LAMBDAS_DIRECTORY
from constructs import Construct
from platform_spec.delivery import (
    ABORT_MAX_EVENT_AGE_MINUTES,
    BAKE_EXECUTION_TIMEOUT_MINUTES,
    BAKE_STOPPED_STATUSES,
    ROLL_BACK_FIRST_DELAY_SECONDS,
    ROLL_BACK_MAX_DELAY_SECONDS,
    ROLL_BACK_RETRIES,
    BakeDecision,
    BakePolicy,
    BakeState,
    DeliveryRole,
    stuck_canary_message,
)
from platform_spec.fields import to_dict

HANDLER = "canary_bake.handler.lambda_handler"
#: The error a Begin fails with while another execution of the bake runs (the handler's exception's name,
#: which Lambda reports as the error type and Step Functions as the error name).
BEGIN_REFUSED = "BakeAlreadyRunning"
RUNTIME = lambda_.Runtime.PYTHON_3_13
#: Each step makes a handful of AWS calls in the production account.
STEP_TIMEOUT = cdk.Duration.minutes(1)
#: How long each Task state of the bake waits for its answer: without ``TimeoutSeconds`` a Task state waits
#: for a response that may never come, and the execution is stuck
#: (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-stuck-execution.html); with it, the state
#: fails with ``States.Timeout``, which ``States.ALL`` matches, so the step's Retry and Catch handle a hung
#: invocation like any other failure
#: (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Longer than
#: STEP_TIMEOUT, so a step that Lambda itself times out fails with Lambda's error, not this one.
TASK_TIMEOUT = cdk.Duration.minutes(2)

_TOPIC_KEY_GRANT = (
    re.escape("Action::kms:GenerateDataKey*"),
    "aws-cdk-lib's publish grant on the notification topic: SNS encrypts each message under the topic's own "
    "key with a data key generated for it (GenerateDataKey*); that one key only.",
)
_NO_VPC = (
    "The bake step calls only AWS APIs over TLS with IAM: STS and Step Functions (its own state machine's "
    "executions) in the delivery account, Lambda, CloudWatch, SSM and CloudFormation in the production "
    "account; it reaches no private network resource."
)
_TRACED_BY_THE_STATE_MACHINE = (
    "Every step the state machine runs is recorded in its execution history and its X-Ray trace; the abort "
    "that EventBridge sends after an execution stopped unfinished runs outside any execution and is recorded "
    "only in the function's own KMS-encrypted log group, where every run is logged; tracing inside the "
    "function would add X-Ray permissions on Resource * only."
)


class CanaryBake(Construct):
    """Bakes a release of the orchestrator in ``environment`` (production), in its account and region,
    through the role ``release_role_arn`` there (``CanaryReleaseAccess``).

    - ``function``: one bake step per invocation (``lambdas/canary_bake``: begin, check, roll back); its
      role is named ``bedrock-platform-canary-bake`` (the production role trusts exactly that name) and may
      only assume ``release_role_arn``.
    - ``state_machine`` (Standard): Begin; then, until the bake ends, wait ``bake.poll_minutes`` and Check.
      SKIP (live already serves the release) and PROMOTED succeed; ROLLED_BACK fails with the reason; a
      check that keeps failing rolls back (the alias serves only the stable version) and fails. A roll back
      is retried on any error (``platform_spec.delivery.ROLL_BACK_RETRIES``); one that still fails is
      published to ``notifications`` with the command that rolls back by hand, and the execution fails
      with that text (``CanaryRollBackFailed``). It times out (``BAKE_EXECUTION_TIMEOUT_MINUTES``) before
      CodePipeline's action stops waiting for it. Every Task state times out after TASK_TIMEOUT (a hung
      step fails, and is retried or caught, instead of holding the execution). Logs every event to
      ``logs`` (KMS) and traces with X-Ray.
    - ``stopped_rule``: an execution that failed, timed out or was aborted (``BAKE_STOPPED_STATUSES``)
      invokes ``function`` with ``{"action": "abort"}``, which clears whatever share of the live alias the
      canary still holds, unless another execution of the bake runs (it owns the alias then). An ``abort``
      that still fails after Lambda's retries, or waits longer than ``ABORT_MAX_EVENT_AGE_MINUTES``, goes to
      ``notifications`` (the function's dead-letter topic).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        stack_name: str,
        region: str,
        release_role_arn: str,
        bake: BakePolicy,
        notifications: sns.ITopic,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.environment = environment
        self.region = region
        self.bake = bake
        self.notifications = notifications
        self.function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.logs = logs.LogGroup(
            self,
            "Logs",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=DeliveryRole.CANARY_BAKE,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The canary bake's steps: may only assume the release role in {environment}",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
            ],
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeTheReleaseRole", actions=["sts:AssumeRole"], resources=[release_role_arn]
            )
        )
        acknowledge_basic_execution_role(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"bedrock-platform: one step of the canary bake in {environment}",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(package_with_spec(LAMBDAS_DIRECTORY / "canary_bake", "canary_bake"))
            ),
            role=self.role,
            memory_size=256,
            timeout=STEP_TIMEOUT,
            # One bake at a time per production environment: the pipeline's stage runs one execution.
            reserved_concurrent_executions=1,
            log_group=self.function_logs,
            logging_format=lambda_.LoggingFormat.JSON,
            # Only the abort (EventBridge) is asynchronous; the state machine's steps are synchronous.
            dead_letter_topic=notifications,
            max_event_age=cdk.Duration.minutes(ABORT_MAX_EVENT_AGE_MINUTES),
            retry_attempts=2,
            environment={
                "BAKE_ROLE_ARN": release_role_arn,
                "BAKE_STACK_NAME": stack_name,
                "BAKE_REGION": region,
                "BAKE_ENVIRONMENT": environment,
                "BAKE_SECONDS": str(bake.minutes * 60),
                "BAKE_POLICY": json.dumps(to_dict(bake), sort_keys=True),
                # told when an abort cannot clear the canary (with the fix), beside the raw dead letter
                "BAKE_NOTIFICATIONS": notifications.topic_arn,
            },
        )
        # Lambda publishes a dead letter with the function's role: the topic and its key.
        notifications.grant_publish(self.function)
        acknowledge_all(
            self.function,
            {
                "NIST.800.53.R5-LambdaInsideVPC": _NO_VPC,
                "HIPAA.Security-LambdaInsideVPC": _NO_VPC,
                "PCI.DSS.321-LambdaInsideVPC": _NO_VPC,
                "Serverless-LambdaTracing": _TRACED_BY_THE_STATE_MACHINE,
            },
        )
        acknowledge(
            self.function,
            "Serverless-LambdaAsyncFailureDestination",
            "The function's one asynchronous event (abort, from EventBridge) that fails Lambda's retries or "
            "expires goes to its dead-letter topic, the notification topic people subscribe to; a failure "
            "destination on the same topic would send each one twice.",
        )
        if RUNTIME.name != "python3.14":
            pinned = (
                "Pinned to python3.13 like the orchestrator, whose runtime the project moves in one step."
            )
            acknowledge(self.function, "AwsSolutions-L1", pinned)
            acknowledge(self.function, "Serverless-LambdaLatestVersion", pinned)
        self._acknowledge_role_policy()
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment=f"Bake a release of the orchestrator in {environment}: 10 % for {bake.minutes} minutes",
            logs=sfn.LogOptions(destination=self.logs, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=cdk.Duration.minutes(BAKE_EXECUTION_TIMEOUT_MINUTES),
        )
        self.stopped_rule = events.Rule(
            self,
            "StoppedRule",
            description=f"A canary bake in {environment} that stopped unfinished: clear the live alias's canary share",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                    "status": list(BAKE_STOPPED_STATUSES),
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    event=events.RuleTargetInput.from_object(
                        {
                            "action": "abort",
                            "execution": events.EventField.from_path("$.detail.executionArn"),
                            "status": events.EventField.from_path("$.detail.status"),
                            "stateMachine": events.EventField.from_path("$.detail.stateMachineArn"),
                        }
                    ),
                )
            ],
        )
        # The abort leaves the alias to a running execution (lambdas/canary_bake/handler.py): the function
        # lists this state machine's executions (ListExecutions acts on the stateMachine resource,
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
        # A policy of its own: on the role's default policy, the state machine's ARN would make the function
        # (which depends on its role) depend on the state machine, which invokes the function: a cycle.
        self.list_executions_policy = iam.Policy(
            self,
            "ListExecutionsPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ListTheBakesExecutions",
                    actions=["states:ListExecutions"],
                    resources=[self.state_machine.state_machine_arn],
                )
            ],
        )
        acknowledge_inline_policy(
            self.list_executions_policy,
            "The bake step's one read of the delivery account: whether another execution of its own state "
            "machine runs, so an abort leaves that bake's canary alone. It belongs to this one role; an "
            "inline policy cannot be attached elsewhere.",
        )
        # SnsPublish grants sns:Publish; the topic's grant adds its key (an encrypted topic needs both).
        notifications.grant_publish(self.state_machine)
        acknowledge(
            self.stopped_rule,
            "Serverless-EventBusDLQ",
            "EventBridge retries delivering to the function for 24 hours; a delivered event is Lambda's, whose "
            "retries and dead-letter topic (the notification topic) keep an abort that fails. Only a deleted "
            "function or permission could lose one, and the stopped execution has already failed the pipeline's "
            "action, which the notification rule reports to the same topic.",
        )
        self._acknowledge_state_machine_policy()
        ignore_generated_depends_on(self.function, self.state_machine)

    # ------------------------------------------------------------------ the loop

    def _step(
        self, id: str, action: str, payload: dict[str, object] | None = None, *, lambda_retry: bool = True
    ) -> tasks.LambdaInvoke:
        """One invocation of the bake step; ``lambda_retry``: aws-cdk-lib's retry of Lambda's service errors
        (6 attempts, 2 s doubling), which runs before, and instead of, any retry the step adds for them."""
        return tasks.LambdaInvoke(
            self,
            id,
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object({"action": action, **(payload or {})}),
            payload_response_only=True,
            retry_on_service_exceptions=lambda_retry,
            task_timeout=sfn.Timeout.duration(TASK_TIMEOUT),
        )

    def _stuck_canary(self) -> str:
        """:func:`stuck_canary_message` as a ``States.Format`` call on a roll back's input (a ``BakeState``
        with the error of the check at ``$.error`` and that of the roll back at ``$.rollBackError``)."""
        paths = {
            "function_name": "$.function_name",
            "target_version": "$.target_version",
            "stable_version": "$.stable_version",
            "parameter_name": "$.parameter_name",
            "error": "$.rollBackError.Error",
        }
        text = stuck_canary_message(
            environment=self.environment, region=self.region, **{name: f"\x00{name}\x00" for name in paths}
        )
        # States.Format: {} is an argument; literal braces are escaped (aws-cdk-lib escapes quotes).
        text = text.replace("{", "\\{").replace("}", "\\}")
        sentinel = re.compile("\x00(\\w+)\x00")
        arguments = [sfn.JsonPath.string_at(paths[name]) for name in sentinel.findall(text)]
        return sfn.JsonPath.format(sentinel.sub("{}", text), *arguments)

    def _definition(self) -> sfn.IChainable:
        decision = "$.decision"
        promoted = sfn.Succeed(self, "Promoted", comment="The new version serves 100 % of live traffic")
        nothing = sfn.Succeed(
            self,
            "NothingToBake",
            comment="The live alias already serves this version, or its code and configuration",
        )
        rolled_back = sfn.Fail(self, "RolledBack", error="CanaryRolledBack", cause_path="$.detail")
        # The step's error output ({"Error", "Cause"}: Cause holds the function's errorMessage) as the cause, so
        # the execution's failure says why it did not start and what to do; the whole output, since a task
        # timeout may come without a Cause, which a "$.Cause" path would turn into a States.Runtime error.
        not_started = sfn.Fail(
            self, "NotStarted", error="CanaryNotStarted", cause_path="States.JsonToString($)"
        )
        # Begin names its execution and state machine: it does not start beside another running execution
        # of the bake (lambdas/canary_bake/handler.py, BakeAlreadyRunning). Context object:
        # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
        begin = self._step(
            "Begin",
            "begin",
            {
                "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
                "stateMachine": sfn.JsonPath.string_at("$$.StateMachine.Id"),
            },
        )
        # The function runs one invocation at a time, and the abort of an execution that ended may run beside
        # this one's Begin: a throttled invocation never ran, so it is tried again (over a minute, the
        # function's timeout) instead of failing the bake; aws-cdk-lib's service-exception retrier does not
        # name throttling (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
        begin.add_retry(
            errors=["Lambda.TooManyRequestsException"],
            max_attempts=6,
            interval=cdk.Duration.seconds(2),
            backoff_rate=2,
        )
        # Another bake runs: ListExecutions is eventually consistent, so one that ended moments ago may still be
        # listed; asked again over ~70 s, then the bake fails with the execution to stop.
        begin.add_retry(
            errors=[BEGIN_REFUSED], max_attempts=3, interval=cdk.Duration.seconds(10), backoff_rate=2
        )
        # Any other failure, a hung read included (the function's timeout is Lambda.Unknown, the task's
        # States.Timeout: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html),
        # is tried again: Begin reads, and writes the alias's share and the parameter the same way each time.
        begin.add_retry(
            errors=["States.ALL"], max_attempts=2, interval=cdk.Duration.seconds(30), backoff_rate=2
        )
        begin.add_catch(not_started, errors=["States.ALL"])
        check = self._step("Check", "check", {"state": sfn.JsonPath.entire_payload})
        # A check that fails (throttling, an expired session) is retried; one that keeps failing means the
        # bake can no longer watch the alarms, so the release is rolled back.
        check.add_retry(
            errors=["States.ALL"], max_attempts=3, interval=cdk.Duration.seconds(30), backoff_rate=2
        )
        # The handler's roll_back event: the BakeState alone (the check's error sits beside it, at $.error).
        state = {f.name: sfn.JsonPath.string_at(f"$.{f.name}") for f in dataclasses.fields(BakeState)}
        roll_back = self._step(
            "RollBackOnError",
            "roll_back",
            {"state": state, "error": sfn.JsonPath.object_at("$.error")},
            lambda_retry=False,
        )
        check.add_catch(roll_back, errors=["States.ALL"], result_path="$.error")
        # Part of the traffic is on the release until the roll back succeeds: retry it on any error (Lambda's
        # service errors included), then tell a person how to do it by hand.
        roll_back.add_retry(
            errors=["States.ALL"],
            max_attempts=ROLL_BACK_RETRIES,
            interval=cdk.Duration.seconds(ROLL_BACK_FIRST_DELAY_SECONDS),
            backoff_rate=2,
            max_delay=cdk.Duration.seconds(ROLL_BACK_MAX_DELAY_SECONDS),
        )
        roll_back.next(rolled_back)
        stuck = self._stuck_canary()
        roll_back_failed = sfn.Fail(self, "RollBackFailed", error="CanaryRollBackFailed", cause_path=stuck)
        alert = tasks.SnsPublish(
            self,
            "AlertRollBackFailed",
            topic=self.notifications,
            subject=f"bedrock-platform: roll the canary in {self.environment} back by hand",
            message=sfn.TaskInput.from_text(stuck),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(TASK_TIMEOUT),
        )
        alert.add_retry(
            errors=["States.ALL"], max_attempts=3, interval=cdk.Duration.seconds(10), backoff_rate=2
        )
        alert.add_catch(roll_back_failed, errors=["States.ALL"], result_path="$.alertError")
        alert.next(roll_back_failed)
        roll_back.add_catch(alert, errors=["States.ALL"], result_path="$.rollBackError")
        wait = sfn.Wait(
            self, "WaitForNextCheck", time=sfn.WaitTime.duration(cdk.Duration.minutes(self.bake.poll_minutes))
        )
        wait.next(check)
        after_begin = (
            sfn.Choice(self, "Started?")
            .when(sfn.Condition.string_equals(decision, BakeDecision.HOLD), wait)
            .when(sfn.Condition.string_equals(decision, BakeDecision.SKIP), nothing)
            .when(sfn.Condition.string_equals(decision, BakeDecision.PROMOTED), promoted)
            .otherwise(rolled_back)
        )
        after_check = (
            sfn.Choice(self, "Baked?")
            .when(sfn.Condition.string_equals(decision, BakeDecision.HOLD), wait)
            .when(sfn.Condition.string_equals(decision, BakeDecision.PROMOTED), promoted)
            .otherwise(rolled_back)
        )
        check.next(after_check)
        return begin.next(after_begin)

    # ------------------------------------------------------------------ acknowledgments

    def _acknowledge_role_policy(self) -> None:
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        acknowledge_inline_policy(
            policy,
            "The bake step's permissions (assume the production release role; publish a dead letter to the "
            "notification topic) belong to this one role, whose name the production role's trust policy names; "
            "an inline policy cannot be attached elsewhere.",
        )
        acknowledge_wildcards(policy, [_TOPIC_KEY_GRANT])

    def _acknowledge_state_machine_policy(self) -> None:
        policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        acknowledge_inline_policy(
            policy,
            "The state machine's permissions (invoke its bake step, deliver its logs, send traces) are generated "
            "by aws-cdk-lib for this one role; an inline policy cannot be attached elsewhere.",
        )
        acknowledge_wildcards(
            policy,
            [
                (
                    re.escape(f"Resource::<{logical_ref(self.function)}.Arn>:*"),
                    "Step Functions invokes the bake step by its ARN; aws-cdk-lib also names the function's "
                    "versions and aliases (ARN:*) so the grant holds for a qualified invoke. This one function only.",
                ),
                _TOPIC_KEY_GRANT,
                (
                    re.escape("Resource::*"),
                    "CloudWatch Logs' log-delivery actions (CreateLogDelivery, ...) that a state machine needs to log "
                    "to a log group, and X-Ray's PutTraceSegments/PutTelemetryRecords, have no resource-level "
                    "permissions.",
                ),
            ],
        )
