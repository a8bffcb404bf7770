"""The readiness role (``bedrock-platform-staging-readiness``, ``ReadinessGateAccess``) allows every call the
readiness gate makes with it against staging, on the resources IAM authorizes each on; refuses the one call the
gate expects refused (a caller on the reviewer routes, the human review walk's step 3); and grants nothing no
call uses.

The gate runs as in the pipeline (``delivery.gates.readiness_deployed`` with a session of the role) against
staging played offline: moto's CloudWatch, SNS, SQS and STS; CloudFormation's two reads answered on the
session's own clients (moto's CloudFormation needs dependencies this project does not install); the API behind
a SigV4 stand-in (``tests.support.review_gateway``: the real orchestrator and review functions); the local
Bedrock endpoint. The two steps the gate runs as child processes with the role's credentials (the suites,
``python -m evaluation run --target staging``, and the human review walk, ``python -m human_review exercise
--target staging``) run in-process with those credentials, through the same code: ``DeployedTarget`` and
the harness (one case of each suite), ``DeployedClient`` and ``exercise``.

Every action the role is granted is exercised. What is not run as in the pipeline, and why: the delivery
account's role assuming this one (``delivery.gates.assumed_session``: that is the trust policy and the other
account's policy; here the session has the role's key outright); the two child processes themselves (their
argument parsing: the code they run is run here, with the credentials the gate gives them); CloudWatch
delivering an alarm's notification through SNS to the queue (service principals, not this role: played by
a handler, and checked by the gate's own policy evaluation, ``delivery.notifications.deliverability``); API
Gateway's and Bedrock's own authorization (evaluated here with ``compliance.policy_eval`` instead, on the
resources each documents); the queue's key policy (CDK's default trusts the account's identity policies)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from compliance.bedrock_rules import ALARM_TYPES
from compliance.cfn_values import as_list, resolve_value
from compliance.policy_eval import Request, evaluate
from delivery import gates
from delivery.notifications import ALARM_STATE, alarms_of, offline_probe_topic, stand_in_alarm
from platform_config import PlatformConfig
from platform_spec.delivery import Output, Verdict, readiness_role_name
from tests.support.calls import Call, CallRecorder
from tests.support.iam import role_statements
from tests.support.review_gateway import Signed, review_gateway
from tests.support.synth import Synthesized

ENVIRONMENT = "staging"
#: The access key id of the role's session: what tells its signed requests (to the API, to Bedrock) from
#: those of the reviewer role's sessions and of the platform's own functions.
ROLE_KEY = "ASIAREADINESSGATE"


class _Authorization(NamedTuple):
    """What IAM evaluates for (part of) one call: an action on a resource, with the request's context."""

    action: str
    resource: str
    context: Mapping[str, str] = {}


@dataclasses.dataclass(frozen=True)
class _Staging:
    """Staging's resources as the offline run names them, and as the synthesized policy names them."""

    stack_name: str
    alarms: frozenset[str]  # the alarms' logical IDs: the offline alarms are named so
    queue_url: str
    queue_arn: str
    key_arn: str
    reviewer_role: str  # offline
    reviewer_role_arn: str
    guardrails: Mapping[str, str]  # offline identifier -> guardrail ARN
    judges: Mapping[
        str, tuple[str, tuple[str, ...], tuple[str, ...]]
    ]  # offline ARN -> (profile, via, models)
    enforced_guardrail: str | None
    stage_arn: str  # arn:aws:execute-api:<region>:<account>:<api>/<stage>


def _authorized_on(call: Call, staging: _Staging) -> list[_Authorization]:
    """What IAM evaluates ``call`` on: each action on each resource it may be authorized on. A call this
    does not know fails the test: whoever adds one to the gate says here what IAM evaluates it on.

    - CloudFormation: DescribeStacks and ListStackResources on the stack's ID (``AWS::StackId``)
      (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html).
    - CloudWatch: DescribeAlarms returns composite alarms only when granted on ``*`` (API_DescribeAlarms);
      SetAlarmState on the alarm's ARN
      (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
    - SQS: ReceiveMessage and DeleteMessage on the queue's ARN
      (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html); a consumer of
      a queue encrypted with a KMS key also needs ``kms:Decrypt`` on that key
      (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
    - STS: AssumeRole on the role's ARN, and with a ``SourceIdentity`` also ``sts:SetSourceIdentity`` on it
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
    - Bedrock: ApplyGuardrail on the guardrail's ARN
      (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html). Converse
      is authorized as ``bedrock:InvokeModel`` (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html);
      through an application inference profile, on the profile, and with ``bedrock:InferenceProfileArn`` on
      the system-defined profile it copies and the foundation model in every Region that profile may route
      to (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html); under an
      account's enforced guardrail, every Invoke or Converse caller without ``bedrock:ApplyGuardrail`` on it
      is refused (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-resource-based-policies.html).
    - API Gateway: ``execute-api:Invoke`` on ``<api>/<stage>/<METHOD>/<path>``
      (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html).
    """
    service, operation, params = call
    if service == "cloudformation" and operation in ("DescribeStacks", "ListStackResources"):
        assert params["StackName"] == staging.stack_name, params
        return [_Authorization(f"cloudformation:{operation}", "<AWS::StackId>")]
    if service == "cloudwatch" and operation == "DescribeAlarms":
        return [_Authorization("cloudwatch:DescribeAlarms", "*")]
    if service == "cloudwatch" and operation == "SetAlarmState":
        assert params["AlarmName"] in staging.alarms, params
        return [_Authorization("cloudwatch:SetAlarmState", f"<{params['AlarmName']}.Arn>")]
    if service == "sqs" and operation in ("ReceiveMessage", "DeleteMessage"):
        assert params["QueueUrl"] == staging.queue_url, params
        queue = [_Authorization(f"sqs:{operation}", staging.queue_arn)]
        return queue + (
            [_Authorization("kms:Decrypt", staging.key_arn)] if operation == "ReceiveMessage" else []
        )
    if service == "sts" and operation == "AssumeRole":
        assert params["RoleArn"] == staging.reviewer_role and "Tags" not in params, params
        assumed = [_Authorization("sts:AssumeRole", staging.reviewer_role_arn)]
        if "SourceIdentity" in params:
            assumed.append(_Authorization("sts:SetSourceIdentity", staging.reviewer_role_arn))
        return assumed
    if service == "bedrock-runtime" and operation == "ApplyGuardrail":
        return [_Authorization("bedrock:ApplyGuardrail", staging.guardrails[params["guardrailIdentifier"]])]
    if service == "bedrock-runtime" and operation == "Converse":
        profile, via, models = staging.judges[params["modelId"]]
        through = {"bedrock:InferenceProfileArn": profile}
        return [
            _Authorization("bedrock:InvokeModel", profile),
            *(_Authorization("bedrock:InvokeModel", arn, through) for arn in (*via, *models)),
            *(
                [_Authorization("bedrock:ApplyGuardrail", staging.enforced_guardrail)]
                if staging.enforced_guardrail
                else []
            ),
        ]
    if service == "execute-api" and operation == "Invoke":
        return [
            _Authorization("execute-api:Invoke", f"{staging.stage_arn}/{params['method']}{params['path']}")
        ]
    raise AssertionError(
        f"the gate calls {service}:{operation}: say above which resource IAM authorizes it on"
    )


# ==================================================================== staging, offline


def _staging_cloudformation(session: Any, outputs: Mapping[str, str], alarms: Mapping[str, str]) -> None:
    """CloudFormation's DescribeStacks (``outputs``) and ListStackResources (``alarms``: logical ID -> type)
    of the staging stack, answered on ``session``'s clients before botocore sends them (a ``before-call``
    handler that returns a response, as botocore's Stubber does): the calls are botocore's own, their
    parameters recorded and validated like any other."""

    def answer(model: Any, **_: Any) -> Any:
        if model.name == "DescribeStacks":
            stack = {"StackName": "Staging-Platform", "StackStatus": "UPDATE_COMPLETE"}
            stack["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]  # type: ignore[assignment]
            return AWSResponse(None, 200, {}, None), {"Stacks": [stack]}
        if model.name == "ListStackResources":
            summaries = [
                {
                    "LogicalResourceId": n,
                    "PhysicalResourceId": n,
                    "ResourceType": t,
                    "ResourceStatus": "CREATE_COMPLETE",
                }
                for n, t in alarms.items()
            ]
            return AWSResponse(None, 200, {}, None), {"StackResourceSummaries": summaries}
        raise AssertionError(f"no offline answer for cloudformation:{model.name}")

    session.events.register("before-call.cloudformation", answer)


def _alarm_actions(session: Any, cloudwatch: Any, sns: Any, topic: str) -> None:
    """CloudWatch's alarm action on ``session``'s clients: a SetAlarmState that changes an alarm to ALARM
    publishes its notification to ``topic`` (moto's CloudWatch runs no actions; test_alarm_probe.py)."""

    def act(params: Mapping[str, Any], **_: Any) -> None:
        if params.get("StateValue") != ALARM_STATE:
            return
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[params["AlarmName"]])["MetricAlarms"]
        if alarm["StateValue"] != ALARM_STATE:
            message = {"AlarmName": params["AlarmName"], "NewStateValue": ALARM_STATE}
            sns.publish(TopicArn=topic, Message=json.dumps(message))

    session.events.register("provide-client-params.cloudwatch.SetAlarmState", act)


def _role_session(recorder: CallRecorder, credentials: Mapping[str, str] | None = None) -> Any:
    """A session of the readiness role (its access key ``ROLE_KEY``), or of ``credentials`` (the variables
    the gate gives its child processes), whose calls ``recorder`` records."""
    values = credentials or {
        "AWS_ACCESS_KEY_ID": ROLE_KEY,
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_SESSION_TOKEN": "t",
    }
    session = boto3.Session(
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=values.get("AWS_SESSION_TOKEN") or None,
        region_name=values.get("AWS_REGION", "us-east-1"),
    )
    recorder.watch_session(session)
    return session


@contextmanager
def _credentials(env: Mapping[str, str]) -> Iterator[None]:
    """The child process's credentials in this process's environment (inspect-ai's Bedrock client, the
    judge's, takes them from there), then the previous ones again."""
    import os

    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: env[n] for n in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _argument(argv: Sequence[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def _suites_in_process(config: PlatformConfig, recorder: CallRecorder, platform: Any, log_dir: Path) -> Any:
    """``delivery.gates.suites_check`` without the child process: what ``python -m evaluation run --target
    staging --outputs-file ...`` does with the child's credentials (``evaluation.__main__._deployed_target``,
    ``harness.run_suites``), on the first case of every suite."""
    from evaluation import harness
    from evaluation.targets import DeployedTarget, deployment_from_outputs, read_outputs_file

    def suites_check(
        report: gates.GateReport,
        config: PlatformConfig,
        root: Path,
        environment: str,
        *,
        out: Path,
        use_cases: Sequence[str],
        argv: Sequence[str] = (),
        env: Any = None,
    ) -> None:
        assert env is not None, "the deployed gate runs the suites with the role's credentials"
        outputs = read_outputs_file(Path(_argument(argv, "--outputs-file")[0]), environment)
        deployment = deployment_from_outputs(environment, env["AWS_REGION"], outputs, use_cases)
        target = DeployedTarget(
            config,
            deployment,
            session=_role_session(recorder, env),
            bedrock_endpoint_url=platform.stub.endpoint_url,  # --bedrock-endpoint-url
        )
        runs = [
            dataclasses.replace(
                run,
                suite=dataclasses.replace(
                    run.suite,
                    document=dataclasses.replace(run.suite.document, cases=run.suite.document.cases[:1]),
                ),
            )
            for run in harness.suite_runs(config, use_cases)
        ]
        with _credentials(env):
            for run in runs:  # one suite at a time: the functions behind the stand-in run in this process
                harness.run_suites([run], target, log_dir=log_dir, max_samples=1, live=False)
        report.add("suites (golden, adversarial)", Verdict.PASS, f"{len(runs)} suites, one case each")

    return suites_check


def _walk_in_process(config: PlatformConfig, recorder: CallRecorder, platform: Any) -> Any:
    """``delivery.gates.human_review_check`` without the child process: what ``python -m human_review
    exercise --target staging --outputs-file ...`` does with the child's credentials
    (``human_review.__main__._deployed_client``, ``exercise``), the scoring function run on each poll."""
    from evaluation.targets import read_outputs_file
    from human_review.exercise import DeployedClient, choose_use_case, exercise

    def human_review_check(
        report: gates.GateReport, root: Path, target: str, *, env: Any = None, args: Sequence[str] = ()
    ) -> None:
        assert env is not None, "the deployed gate walks the review path with the role's credentials"
        outputs = read_outputs_file(Path(_argument(args, "--outputs-file")[0]), target)
        client = DeployedClient(
            api_url=outputs[Output.API_URL],
            region=env["AWS_REGION"],
            reviewer_role_arn=outputs[Output.REVIEWER_ROLE_ARN],
            session=_role_session(recorder, env),
        )
        contracts = {c.id: c for c in config.contracts_for(target)}
        polls: list[float] = []

        def sleep(seconds: float) -> None:  # the deployed scoring function's turn
            polls.append(seconds)
            platform.drain()

        walk = exercise(
            client,
            config,
            contracts[choose_use_case(contracts)],
            wait_s=60,
            poll_s=5,
            clock=lambda: 5.0 * len(polls),
            sleep=sleep,
        )
        report.add("human review path", Verdict.PASS, f"{len(walk.steps)} steps")

    return human_review_check


def _pascal(use_case: str) -> str:
    from platform_config.naming import pascal

    return pascal(use_case)


def _judge_arns(judge: Any, arn: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A judge profile's ARN, the system-defined profile it copies (if any) and the foundation models that
    profile may route to, as the template names them."""
    from platform_spec.contract import ModelSourceKind

    via = (arn(judge.source_arn),) if judge.source.kind is ModelSourceKind.CROSS_REGION_PROFILE else ()
    return arn(judge.profile_arn), via, tuple(arn(m) for m in judge.foundation_model_arns)


# ==================================================================== the test


@pytest.mark.slow  # ~8 CPU-s: the whole readiness gate against staging offline (functions, suites, judge)
def test_the_readiness_role_allows_every_call_the_gate_makes_and_nothing_it_does_not(
    example_synthesized: Synthesized,
    example_config: PlatformConfig,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from bedrock_platform_devtools.samples import REVIEWER_ROLE_ARN
    from evaluation.targets import offline_arns, stack_name
    from tests.support.contracts import examples_root

    # the examples' app: every step of the gate has calls to make (the held load-test answers need a
    # use case that holds them in staging), whichever examples the repository still ships
    synthesized, config = example_synthesized, example_config
    # GIVEN the readiness role's identity policy as staging's template has it
    platform = synthesized.stages[ENVIRONMENT].platform
    access = platform.readiness_access
    assert access is not None and platform.review is not None
    template = next(s for s in synthesized.stacks if s.name == f"{ENVIRONMENT.capitalize()}/Platform")
    account, region = platform.account, platform.region
    statements = role_statements(template.template, platform.get_logical_id(access.role.node.default_child))
    document = resolve_value({"Statement": statements}, account=account, region=region)
    me = ("AWS", f"arn:aws:iam::{account}:role/{readiness_role_name(ENVIRONMENT)}")

    def arn(token: Any) -> str:
        return str(resolve_value(platform.resolve(token), account=account, region=region))

    rest_api = platform.api.rest_api
    alarms = {a: template.resources[a]["Type"] for a in alarms_of(template)}
    assert set(alarms.values()) <= set(ALARM_TYPES)
    contracts = {c.id: c for c in config.contracts_for(ENVIRONMENT)}
    _, guardrails, judges = offline_arns(contracts)
    signed: list[Signed] = []
    recorder = CallRecorder(on=True)
    monkeypatch.setattr(gates, "NOTIFICATION_WAIT_S", 0.0)  # the stand-in's notification is there at once
    with (
        review_gateway(config, ENVIRONMENT, caller_key=ROLE_KEY, signed=signed) as (offline, url, _),
        offline_probe_topic(region) as probe,
    ):
        for name in alarms:  # moto keeps metric alarms only: a composite is played by one of its name
            stand_in_alarm(probe.cloudwatch, name, namespace="BedrockPlatform/ReadinessProbe")
        outputs = {
            Output.API_URL: url,
            Output.PROBE_QUEUE_URL: probe.queue_url,
            Output.REVIEWER_ROLE_ARN: REVIEWER_ROLE_ARN,
            **{f"{_pascal(uc)}GuardrailId": guardrails[uc] for uc in contracts},
            **{f"{_pascal(uc)}GuardrailVersion": "1" for uc in contracts},
            **{f"{_pascal(uc)}JudgeProfileArn": judge for uc, judge in judges.items()},
        }
        session = _role_session(recorder)
        _staging_cloudformation(session, outputs, alarms)
        _alarm_actions(session, probe.cloudwatch, probe.sns, probe.topic)
        monkeypatch.setattr(
            gates, "suites_check", _suites_in_process(config, recorder, offline, tmp_path / "logs")
        )
        monkeypatch.setattr(gates, "human_review_check", _walk_in_process(config, recorder, offline))
        # WHEN the readiness gate runs against staging with a session of the role
        report = gates.readiness_deployed(
            examples_root(),
            ENVIRONMENT,
            synthesized.outdir,
            session=session,
            out=tmp_path / "out",
            load_seconds=1,
        )
        judged = [
            Call("bedrock-runtime", "Converse", {"modelId": c.target})
            for c in offline.stub.calls
            if c.operation == "Converse" and f"Credential={ROLE_KEY}/" in c.headers.get("authorization", "")
        ]
    # (every step ran: a step that did not would leave its calls out)
    steps = {c.name: c for c in report.checks}
    assert {"smoke", "alarm notifications", "suites (golden, adversarial)", "human review path"} <= set(steps)
    assert all(steps[n].verdict is Verdict.PASS for n in ("smoke", "alarm notifications")), report.render()
    assert any(n.startswith("load ") for n in steps) and "held load-test answers" in steps, report.render()
    # (each call with whether it was refused: the API answers 403 where IAM refuses a signed request)
    calls = [(c, False) for c in [*recorder.calls, *judged]] + [
        (Call("execute-api", "Invoke", {"method": s.method, "path": s.path}), s.status == 403)
        for s in signed
        if s.access_key == ROLE_KEY
    ]
    staging = _Staging(
        stack_name=stack_name(ENVIRONMENT),
        alarms=frozenset(alarms),
        queue_url=probe.queue_url,
        queue_arn=arn(access.probe_queue.queue_arn),
        key_arn=arn(access.probe_key.key_arn),
        reviewer_role=REVIEWER_ROLE_ARN,
        reviewer_role_arn=arn(platform.review.reviewer.role.role_arn),
        guardrails={guardrails[uc]: arn(platform.use_cases[uc].guardrail.guardrail_arn) for uc in contracts},
        judges={
            judges[uc]: _judge_arns(platform.use_cases[uc].judge, arn)
            for uc in judges
            if platform.use_cases[uc].judge is not None
        },
        enforced_guardrail=(
            arn(platform.enforced_guardrail.guardrail.guardrail_arn) if platform.enforced_guardrail else None
        ),
        stage_arn=arn(
            rest_api.api.arn_for_execute_api(method="GET", path="/", stage=rest_api.stage.stage_name)
        ).removesuffix("/GET/"),
    )
    authorized = [(_authorized_on(call, staging), refused) for call, refused in calls]

    def allowed(authorization: _Authorization, policy: Mapping[str, Any] = document) -> bool:
        action, resource, context = authorization
        return evaluate(policy, Request(me, action, resource, context)).allowed

    # THEN IAM allows each call on each resource it may be authorized on, but for what the API refused
    denied = sorted(
        {
            f"{a.action} on {a.resource}"
            for auth, refused in authorized
            if not refused
            for a in auth
            if not allowed(a)
        }
    )
    assert not denied, f"the readiness role does not allow: {denied}"
    # AND what the API refused (the walk's step 3: a caller on the reviewer routes) the role does not allow
    assert any(refused for _, refused in authorized), (
        "the walk's step 3 (a caller on the reviewer routes) did not run"
    )
    let_through = sorted({a.resource for auth, refused in authorized if refused for a in auth if allowed(a)})
    assert not let_through, f"the readiness role may invoke the reviewer routes: {let_through}"
    # AND every action on every resource the role is granted is what some call was allowed
    used = [a for auth, refused in authorized if not refused for a in auth]
    unused = sorted(
        f"{action} on {resource}"
        for statement in document["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if not any(
            a.action.lower() == action.lower()
            and allowed(a, {"Statement": [{**statement, "Action": action, "Resource": resource}]})
            for a in used
        )
    )
    assert not unused, f"granted, never used by the gate: {unused}"
