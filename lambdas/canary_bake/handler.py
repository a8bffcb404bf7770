"""One step of the canary bake, invoked by the delivery account's state machine (``CanaryBake``).

Event: ``{"action": "begin", "execution": <its execution ARN>, "stateMachine": <its ARN>}``,
``{"action": "check", "state": <BakeState>}`` or
``{"action": "roll_back", "state": <BakeState>, "error": <what failed>}``; the answer is the new
``BakeState`` (``platform_spec.delivery``), whose ``decision`` the state machine branches on. And, from the
EventBridge rule on the state machine's executions that stopped (failed, timed out, aborted),
``{"action": "abort", "execution": <execution ARN>, "status": <status>, "stateMachine": <its ARN>}``: the
live alias is cleared of any canary share and the live-version parameter names the version it serves
(``bake.clear_canary``), unless another execution of the bake is running (a later release's, begun before
this abort ran: Lambda retries a failed or throttled abort for up to an hour). That bake owns the alias:
clearing it would roll its canary back as "the live alias changed during the bake", and its Begin already
replaced the share and named the served version in the parameter. When the running executions cannot be
listed, the abort clears (a canary left on an unbaked version is the worse error). The answer says what
was done. An abort that fails tells the notification topic (``BAKE_NOTIFICATIONS``) what may be stuck and
the commands that clear it by hand, then fails, so Lambda retries it. For the reason an abort leaves a
running bake alone, a Begin does not start while another execution of the bake runs (one whose pipeline
action was abandoned, and a bake started again by hand, would each roll the other back as "the live alias
changed"): it fails with :class:`BakeAlreadyRunning`, naming that execution and the command that stops it.

The function works in the production account through the role it assumes there (``BAKE_ROLE_ARN``), and
reads the production stack's outputs (``BAKE_STACK_NAME``) for the function, the version to bake and the
critical alarms; ``BAKE_POLICY`` (``BakePolicy`` as JSON, from delivery/pipeline.yaml's ``bake``) says what
its checks judge by: when the new version's own errors or latency roll it back, and how many invocations
it must serve before it may be promoted. Standard library and the runtime's boto3 only; nothing runs at
import but reading the settings and creating the STS, Step Functions and SNS clients.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import boto3

from platform_spec.delivery import (
    LIVE_ALIAS,
    BakePolicy,
    BakeState,
    Output,
    live_version_parameter,
    uncleared_canary_message,
)
from platform_spec.fields import from_dict, to_dict

from . import bake


class Settings:
    """Set by the construct; read once."""

    ROLE_ARN = "BAKE_ROLE_ARN"
    STACK_NAME = "BAKE_STACK_NAME"
    REGION = "BAKE_REGION"
    ENVIRONMENT = "BAKE_ENVIRONMENT"
    BAKE_SECONDS = "BAKE_SECONDS"
    #: ``BakePolicy`` as JSON (``platform_spec.fields.to_dict``).
    POLICY = "BAKE_POLICY"
    #: The delivery notification topic: told when an abort could not clear the canary.
    NOTIFICATIONS = "BAKE_NOTIFICATIONS"


logger = logging.getLogger()
logger.setLevel(logging.INFO)
sts = boto3.client("sts")
#: The bake's own state machine, in this (the delivery) account: which of its executions run.
stepfunctions = boto3.client("stepfunctions")
#: The delivery notification topic's service (an abort that fails tells people, ``_abort``).
sns = boto3.client("sns")


class BakeAlreadyRunning(RuntimeError):
    """Another execution of the bake runs: it owns the live alias. The error name the state machine's Begin
    retries briefly (ListExecutions is eventually consistent: one that just ended may still be listed)."""


def _refuse_beside(event: dict[str, Any]) -> None:
    """Raise :class:`BakeAlreadyRunning` when an execution of the bake other than the event's runs.

    Two bakes at once undo each other: each check rolls back when the live alias is not as its Begin left
    it, so the older bake rolls the newer one's canary (or its promotion) back, and the newer one then rolls
    back too. CodePipeline's "stop and abandon" unlocks the stage without waiting for its in-progress
    actions and lets them be retried
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-stop.html), and nothing in it says
    the Step Functions action's execution is stopped, so a retried bake stage, or one started by hand, may
    begin beside a bake that still runs."""
    machine = event.get("stateMachine")
    if not machine:
        return
    running = bake.running_executions(stepfunctions, machine, besides=event.get("execution"))
    if running:
        region = running[0].split(":")[3]
        raise BakeAlreadyRunning(
            f"not started: execution {running[0]} of the bake is running and owns the {LIVE_ALIAS} alias; two "
            "bakes at once roll each other back. If this bake should replace it, stop it (delivery account: "
            f"aws stepfunctions stop-execution --region {region} --execution-arn {running[0]}; its stop clears "
            "its canary share), then retry this bake; otherwise let it finish"
        )


def production_clients(role_arn: str, region: str, session_name: str) -> bake.Clients:
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    return bake.Clients(
        cloudformation=session.client("cloudformation"),
        lambda_=session.client("lambda"),
        cloudwatch=session.client("cloudwatch"),
        ssm=session.client("ssm"),
    )


def _abort(event: dict[str, Any], env: Any, session_name: str) -> str:
    """The abort of a stopped execution (module docstring): what was done. One that fails (the release role
    refused, the alias not updated) tells people what may be stuck and the fix, then raises: Lambda retries
    the abort twice, then sends its event, raw JSON that says nothing of the alias, to the dead-letter
    topic."""
    parameter_name = live_version_parameter(env[Settings.ENVIRONMENT])
    clients: bake.Clients | None = None
    try:
        clients = production_clients(env[Settings.ROLE_ARN], env[Settings.REGION], session_name)
        return _clear_unless_running(clients, event, env, parameter_name)
    except Exception as error:
        _tell_uncleared(clients, event, env, parameter_name, f"{type(error).__name__}: {error}")
        raise


def _clear_unless_running(clients: bake.Clients, event: dict[str, Any], env: Any, parameter_name: str) -> str:
    machine = event.get("stateMachine")
    running: list[str] = []
    if machine:
        try:
            running = bake.running_executions(stepfunctions, machine, besides=event.get("execution"))
        except Exception as error:  # clear: a canary left on an unbaked version is the worse error
            logger.warning(
                json.dumps({"action": "abort", "listExecutionsFailed": f"{type(error).__name__}: {error}"})
            )
    if running:
        return (
            f"left alone: execution {running[0]} of the bake is running and owns the {LIVE_ALIAS} alias "
            "(its Begin replaced whatever canary share this one left and named the version live serves)"
        )
    return bake.clear_canary(clients, stack_name=env[Settings.STACK_NAME], parameter_name=parameter_name)


def _tell_uncleared(
    clients: bake.Clients | None, event: dict[str, Any], env: Any, parameter_name: str, error: str
) -> None:
    """Publish :func:`uncleared_canary_message` to the notification topic (best effort: the abort's own
    error is what Lambda retries on). ``clients`` None: the release role could not be assumed."""
    function_name = None  # unknown: the message then says how to find it
    if clients is not None:
        try:
            outputs = bake.stack_outputs(clients.cloudformation, env[Settings.STACK_NAME])
            function_name = outputs.get(Output.FUNCTION_NAME)
        except Exception as failed:
            logger.warning(json.dumps({"action": "abort", "describeStacksFailed": f"{failed}"}))
    message = uncleared_canary_message(
        environment=env[Settings.ENVIRONMENT],
        stack_name=env[Settings.STACK_NAME],
        function_name=function_name,
        parameter_name=parameter_name,
        region=env[Settings.REGION],
        execution=str(event.get("execution")),
        status=str(event.get("status")),
        error=error[:500],
    )
    try:
        sns.publish(
            TopicArn=env[Settings.NOTIFICATIONS],
            Subject=f"bedrock-platform: clear the canary in {env[Settings.ENVIRONMENT]} by hand"[:100],
            Message=message,
        )
    except Exception as failed:
        logger.error(json.dumps({"action": "abort", "notifyFailed": f"{failed}", "message": message}))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = os.environ
    session_name = f"canary-bake-{context.aws_request_id}"
    action = event.get("action")
    if action == "abort":
        done = {
            "action": action,
            "execution": event.get("execution"),
            "status": event.get("status"),
            "detail": _abort(event, env, session_name),
        }
        logger.info(json.dumps(done))
        return done
    clients = production_clients(env[Settings.ROLE_ARN], env[Settings.REGION], session_name)
    if action == "begin":
        _refuse_beside(event)
        state = bake.begin(
            clients,
            environment=env[Settings.ENVIRONMENT],
            stack_name=env[Settings.STACK_NAME],
            bake_seconds=float(env[Settings.BAKE_SECONDS]),
            now=time.time(),
            policy=from_dict(BakePolicy, json.loads(env[Settings.POLICY]), where=Settings.POLICY),
        )
    elif action == "check":
        state = bake.check(clients, from_dict(BakeState, event["state"]), now=time.time())
    elif action == "roll_back":
        error = event.get("error") or {}
        state = bake.roll_back(
            clients,
            from_dict(BakeState, event["state"]),
            f"the bake could not check the release: {error.get('Error', 'error')}: {error.get('Cause', '')}"[
                :1000
            ],
        )
    else:
        raise ValueError(f"unknown action {action!r}: use begin, check, roll_back or abort")
    document: dict[str, Any] = to_dict(state)
    logger.info(json.dumps({"action": action, **document}))
    return document
