"""The review path's resources in every environment's template: what a reviewer, a caller and an operator
rely on (encrypted storage that outlives a bad deploy, a queue that never loses an output, permissions
that let reviewers and only reviewers decide, alarms that reach the environment's topic)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from bedrock_constructs.human_review import (
    REQUIRED_SOURCE_IDENTITY,
    SCORING_CONCURRENCY_MAX,
    SCORING_CONCURRENCY_MIN,
    SET_SOURCE_IDENTITY,
    HumanReview,
)
from bedrock_constructs.orchestration_api.rest_api import CALLER_ROUTES, REVIEWER_ROUTES
from bedrock_platform_lambdas import REVIEW_CODE_DIRECTORY
from compliance.cfn_values import resolve_value
from compliance.policy_eval import Request, evaluate
from platform_config import PlatformConfig
from platform_spec.api import API_GATEWAY_TIMEOUT_S, store_call_max_s
from platform_spec.review import (
    BACKLOG_INTERVAL_MINUTES,
    BACKLOG_MARGIN_S,
    CALLER_ROUTES_SHARE,
    CORRECTION_READ_TIMEOUT_S,
    MAX_RECEIVE_COUNT,
    REVIEW_API_TIMEOUT_S,
    REVIEW_READ_BUDGET_S,
    AuditTable,
    ReviewEnv,
    ReviewTable,
    correction_read_timeout_s,
)
from tests.infra.conftest import Stages, Synthesized
from tests.support.synth import probe_stack

ENVS = ("dev", "staging", "prod")


def _resources(synthesized: Synthesized, env: str, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synthesized.platform_json(env)["Resources"].items() if v["Type"] == kind}


def _ref(stages: Stages, env: str, construct: Any) -> str:
    stack = stages[env].platform
    return str(stack.get_logical_id(construct.node.default_child))


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _role_policies(synthesized: Synthesized, stages: Stages, env: str, role: Any) -> list[dict[str, Any]]:
    """Every statement of the policies attached to ``role``: its DefaultPolicy and, once the grants outgrow
    a role's inline limit, the ManagedPolicy overflow aws-cdk-lib splits off (OverflowPolicy1, ...)."""
    role_id = _ref(stages, env, role)
    return [
        s
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in _resources(synthesized, env, kind).values()
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
        for s in _statements(p)
    ]


@pytest.mark.parametrize("env", ENVS)
def test_the_queue_is_encrypted_tls_only_and_dead_letters_after_its_retries(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    review = stages[env].platform.review
    key, queue, dead = (_ref(stages, env, c) for c in (review.key, review.queue, review.dead_letters))
    template = synthesized.platform(env)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dead, "Arn"]},
                "maxReceiveCount": MAX_RECEIVE_COUNT,
            },
        },
    )
    queues = _resources(synthesized, env, "AWS::SQS::Queue")
    assert queues[dead]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    # both queues refuse anything but TLS (a Deny on aws:SecureTransport false)
    for queue_id in (queue, dead):
        (policy,) = [
            p
            for p in _resources(synthesized, env, "AWS::SQS::QueuePolicy").values()
            if {"Ref": queue_id} in p["Properties"]["Queues"]
        ]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in _statements(policy)
        ), queue_id
    # scoring: the queue's event source reports partial batch failures (only failed messages return)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FunctionName": {"Ref": _ref(stages, env, review.scoring_function)},
        },
    )


@pytest.mark.parametrize("env", ENVS)
def test_scoring_is_capped_by_the_event_sources_maximum_concurrency_never_above_its_reserved_concurrency(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    # Lambda's SQS poller does not account for reserved concurrency: a cap set there alone throttles the
    # batches it reads, and those messages reach the dead-letter queue unscored. The cap is the mapping's
    # maximum concurrency, and the reserved concurrency may not be below it (AWS: services-sqs-scaling).
    review = stages[env].platform.review
    scoring = _ref(stages, env, review.scoring_function)
    (mapping,) = [
        m["Properties"]
        for m in _resources(synthesized, env, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": scoring}
    ]
    cap = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    assert cap is not None, "the scoring event source has no ScalingConfig.MaximumConcurrency"
    assert SCORING_CONCURRENCY_MIN <= cap <= SCORING_CONCURRENCY_MAX
    reserved = _resources(synthesized, env, "AWS::Lambda::Function")[scoring]["Properties"].get(
        "ReservedConcurrentExecutions"
    )
    assert reserved is None or reserved >= cap, (reserved, cap)


@pytest.mark.parametrize("env", ENVS)
def test_callers_review_routes_are_throttled_at_the_gateway_within_the_review_functions_concurrency(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    # Lambda throttles invocations beyond reserved concurrency, and API Gateway answers a throttled proxy
    # integration with a 500: a caller polling its held answer in a loop would page people (Api5xx) and roll
    # a canary back. Throttled at the method, it gets API Gateway's 429 first.
    review = stages[env].platform.review
    function = _resources(synthesized, env, "AWS::Lambda::Function")[_ref(stages, env, review.api_function)]
    reserved = function["Properties"]["ReservedConcurrentExecutions"]
    (stage,) = _resources(synthesized, env, "AWS::ApiGateway::Stage").values()
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in stage["Properties"]["MethodSettings"]}
    every = settings.pop(("/*", "*"))
    callers = {
        ("/~1use-cases~1{useCaseId}~1reviews~1{reviewId}", "GET"),
        ("/~1use-cases~1{useCaseId}~1feedback", "POST"),
    }
    assert set(settings) == callers
    executions = 0.0
    for setting in settings.values():
        # the stage's logging and metrics still apply to the method (its entry replaces the stage's for it)
        for name in ("LoggingLevel", "MetricsEnabled", "DataTraceEnabled"):
            assert setting.get(name) == every.get(name), name
        assert 1 <= setting["ThrottlingBurstLimit"] <= reserved
        assert setting["ThrottlingRateLimit"] < every["ThrottlingRateLimit"]
        executions += setting["ThrottlingRateLimit"] * REVIEW_READ_BUDGET_S
    # at their limits, the callers' reads keep to their share of the function, the rest left to reviewers
    assert executions <= reserved * CALLER_ROUTES_SHARE + 1e-9, (executions, reserved)


@pytest.mark.parametrize("concurrency", [1, 400])
def test_a_caller_routes_throttle_never_loosens_the_stages(concurrency: int) -> None:
    # A method's own throttling replaces the stage's for it: a review function of large reserved
    # concurrency must not let callers past the stage's own limits on those two routes.
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from bedrock_constructs.orchestration_api import OrchestrationRestApi

    stack = probe_stack()
    handler = lambda_.Function.from_function_arn(
        stack, "Handler", "arn:aws:lambda:us-east-1:111111111111:function:review"
    )
    api = OrchestrationRestApi(
        stack,
        "Api",
        handler=handler,
        rest_api_name="fork",
        throttling_rate_limit=20,
        throttling_burst_limit=5,
    )
    api.add_review_routes(handler, concurrency=concurrency)
    (stage,) = Template.from_stack(stack).find_resources("AWS::ApiGateway::Stage").values()
    settings = stage["Properties"]["MethodSettings"]
    assert len(settings) == 3
    for setting in settings:
        assert 0 < setting["ThrottlingRateLimit"] <= 20 and 1 <= setting["ThrottlingBurstLimit"] <= 5, setting


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"scoring_concurrency": 1},
            r"scoring_concurrency must be from 2 to 1000 \(the range of an SQS event source's maximum "
            r"concurrency\), got 1; pass a value in that range",
        ),
        ({"scoring_concurrency": 1001}, r"scoring_concurrency must be from 2 to 1000 .*got 1001"),
        ({"api_concurrency": 0}, r"api_concurrency must be at least 1, got 0; pass 1 or more"),
    ],
)
def test_a_concurrency_out_of_range_is_refused_naming_the_prop_and_the_fix(
    stages: Stages, props: dict[str, int], message: str
) -> None:
    platform = stages["dev"].platform
    with pytest.raises(ValueError, match=message):
        HumanReview(
            probe_stack(),
            "HumanReview",
            use_cases=list(platform.use_cases.values()),
            orchestrator=platform.api.orchestrator,
            rest_api=platform.api.rest_api,
            code_directory=REVIEW_CODE_DIRECTORY,
            log_retention=logs.RetentionDays.ONE_WEEK,
            **props,
        )


@pytest.mark.parametrize("env", ENVS)
def test_the_tables_are_encrypted_recoverable_expire_and_list_pending_items_by_use_case_and_age(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    review = stages[env].platform.review
    key = _ref(stages, env, review.key)
    tables = _resources(synthesized, env, "AWS::DynamoDB::Table")
    items = tables[_ref(stages, env, review.items)]["Properties"]
    audit = tables[_ref(stages, env, review.audit)]["Properties"]
    for properties, ttl in ((items, ReviewTable.EXPIRES_AT), (audit, AuditTable.EXPIRES_AT)):
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    (index,) = items["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ReviewTable.PENDING_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": ReviewTable.PENDING_USE_CASE, "KeyType": "HASH"},
        {"AttributeName": ReviewTable.CREATED_AT, "KeyType": "RANGE"},
    ]
    assert audit["KeySchema"] == [
        {"AttributeName": AuditTable.SUBJECT, "KeyType": "HASH"},
        {"AttributeName": AuditTable.EVENT, "KeyType": "RANGE"},
    ]
    # audit records cannot be deleted with the table where the environment retains data
    assert audit.get("DeletionProtectionEnabled", False) is (env != "dev")


def _invoke_resources(statements: list[dict[str, Any]]) -> list[str]:
    found = []
    for s in statements:
        if "execute-api:Invoke" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]):
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            # arn:...:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>: the route is the last part
            found.extend(r["Fn::Join"][1][-1] if isinstance(r, dict) else str(r) for r in resources)
    return found


@pytest.mark.parametrize("env", ENVS)
def test_the_reviewer_role_may_invoke_the_reviewer_routes_and_nothing_else(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    review = stages[env].platform.review
    statements = _role_policies(synthesized, stages, env, review.reviewer.role)
    assert {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    } == {"execute-api:Invoke"}
    invoked = _invoke_resources(statements)
    assert len(invoked) == len(REVIEWER_ROUTES)
    assert sorted(invoked) == sorted(f"/{route}" for route in REVIEWER_ROUTES)
    assert not any("use-cases" in r for r in invoked)
    # and the reviewer API function knows the role, to refuse every other identity itself
    env_vars = _function_env(synthesized, stages, env, review.api_function)
    assert env_vars[ReviewEnv.REVIEWER_ROLE_ARN] == {
        "Fn::GetAtt": [_ref(stages, env, review.reviewer.role), "Arn"]
    }


@pytest.mark.parametrize("env", ENVS)
def test_the_reviewer_api_checks_a_correction_with_its_use_cases_deployed_guardrail_in_time(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    stack = stages[env].platform
    review = stack.review
    env_vars = _function_env(synthesized, stages, env, review.api_function)
    refs = json.loads(
        resolve_value(env_vars[ReviewEnv.GUARDRAILS], account="111111111111", region="us-east-1")
    )
    assert refs == {
        use_case_id: {
            "arn": f"<{stack.get_logical_id(use_case.guardrail.resource)}.GuardrailArn>",
            "version": f"<{stack.get_logical_id(use_case.guardrail.version_resource)}.Version>",
        }
        for use_case_id, use_case in stack.use_cases.items()
    }
    # its timeout leaves the guardrail call its whole read timeout after a second's item read, with the
    # decision's write at its worst after it, inside API Gateway's integration timeout
    function = synthesized.platform_json(env)["Resources"][_ref(stages, env, review.api_function)]
    assert function["Properties"]["Timeout"] == REVIEW_API_TIMEOUT_S < API_GATEWAY_TIMEOUT_S
    assert correction_read_timeout_s(REVIEW_API_TIMEOUT_S - 1) == CORRECTION_READ_TIMEOUT_S


@pytest.mark.parametrize("env", ENVS)
def test_the_reviewer_role_is_assumed_only_with_a_source_identity(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    # Every reviewer session names the person or process behind it (CloudTrail's sourceIdentity, kept along
    # a role chain): AssumeRole without one is refused, and setting one is allowed.
    review = stages[env].platform.review
    role = synthesized.platform_json(env)["Resources"][_ref(stages, env, review.reviewer.role)]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assume = [s for s in trust if s["Action"] == "sts:AssumeRole"]
    assert len(assume) == 1 and assume[0]["Condition"] == {"Null": {REQUIRED_SOURCE_IDENTITY: "false"}}
    assert [s["Principal"] for s in trust if s["Action"] == SET_SOURCE_IDENTITY] == [assume[0]["Principal"]]
    assert {s["Action"] for s in trust} == {"sts:AssumeRole", SET_SOURCE_IDENTITY}


@pytest.mark.parametrize(
    ("request_route", "caller", "reviewer"),
    [
        ("POST/use-cases/rfp-drafting/invoke", True, False),
        ("POST/use-cases/rfp-drafting/feedback", True, False),
        ("GET/use-cases/rfp-drafting/reviews/r-1", True, False),
        ("GET/reviews", False, True),
        ("GET/reviews/r-1", False, True),
        ("POST/reviews/r-1/decision", False, True),
        ("POST/reviews", False, False),
    ],
)
def test_callers_grant_excludes_the_reviewer_routes(request_route: str, caller: bool, reviewer: bool) -> None:
    # IAM matches an execute-api ARN's "*" against any characters, "/" included ("GET/user/*" also admits
    # "GET/user/1/sensitive"; re:Post answer linked from the policy examples):
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html
    assert any(fnmatch.fnmatchcase(request_route, r) for r in CALLER_ROUTES) is caller
    assert any(fnmatch.fnmatchcase(request_route, r) for r in REVIEWER_ROUTES) is reviewer


def _function_env(synthesized: Synthesized, stages: Stages, env: str, function: Any) -> dict[str, Any]:
    functions = _resources(synthesized, env, "AWS::Lambda::Function")
    return dict(functions[_ref(stages, env, function)]["Properties"]["Environment"]["Variables"])


@pytest.mark.parametrize("env", ENVS)
def test_the_orchestrator_can_hold_and_queue_and_the_judge_is_the_only_model_scoring_may_call(
    config: PlatformConfig, synthesized: Synthesized, stages: Stages, env: str
) -> None:
    stack = stages[env].platform
    review = stack.review
    items, queue = _ref(stages, env, review.items), _ref(stages, env, review.queue)
    orchestrator = stack.api.function
    variables = _function_env(synthesized, stages, env, orchestrator)
    assert variables[ReviewEnv.REVIEW_TABLE] == {"Ref": items}
    assert variables[ReviewEnv.REVIEW_QUEUE_URL] == {"Ref": queue}
    statements = json.dumps(_role_policies(synthesized, stages, env, orchestrator.role))
    assert "dynamodb:PutItem" in statements and f'"{items}"' in statements
    assert "sqs:SendMessage" in statements and f'"{queue}"' in statements
    # scoring: bedrock only on the judge profiles of this environment's model-graded use cases
    scoring = _role_policies(synthesized, stages, env, review.scoring_function.role)
    bedrock = [s for s in scoring if any(str(a).startswith("bedrock:") for a in _actions(s))]
    judged = [c for c in config.contracts_for(env) if c.judge is not None]
    # (the enforced baseline's ApplyGuardrail calls no model: EnforcedGuardrail.grant_apply gives it the
    # scoring function whether or not a use case here is judged)
    model_calls = [s for s in bedrock if any(a != "bedrock:ApplyGuardrail" for a in _actions(s))]
    assert bool(model_calls) == bool(judged)
    judge_ids = {stack.get_logical_id(stack.use_cases[c.id].judge.resource) for c in judged}  # type: ignore[union-attr]
    for s in bedrock:
        assert "*" not in json.dumps(s["Resource"]) or "foundation-model" in json.dumps(s["Resource"])
    named = {r for s in bedrock for r in judge_ids if r in json.dumps(s["Resource"])}
    assert named == judge_ids
    # the review API function never touches the queue; in Bedrock it may only apply this environment's
    # use case guardrails (a correction goes through its use case's), as IAM evaluates its policy
    statements = _role_policies(synthesized, stages, env, review.api_function.role)
    assert "sqs:" not in json.dumps(statements)
    document = resolve_value({"Statement": statements}, account="111111111111", region="us-east-1")
    me = ("AWS", "arn:aws:iam::111111111111:role/review-api")

    def allowed(action: str, resource: str) -> bool:
        return evaluate(document, Request(me, action, resource)).allowed

    for use_case in stack.use_cases.values():
        guardrail = f"<{stack.get_logical_id(use_case.guardrail.resource)}.GuardrailArn>"
        assert allowed("bedrock:ApplyGuardrail", guardrail), guardrail
        for profile in use_case.profiles.values():
            arn = f"<{stack.get_logical_id(profile.resource)}.InferenceProfileArn>"
            assert not allowed("bedrock:InvokeModel", arn) and not allowed("bedrock:Converse", arn)
    assert not allowed("bedrock:ApplyGuardrail", "arn:aws:bedrock:us-east-1:111111111111:guardrail/another")
    assert not allowed("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/any")


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return list(action) if isinstance(action, list) else [action]


@pytest.mark.parametrize("env", ENVS)
def test_every_review_alarm_notifies_the_environment_topic_and_the_backlog_runs_on_schedule(
    config: PlatformConfig, synthesized: Synthesized, stages: Stages, env: str
) -> None:
    stack = stages[env].platform
    monitoring = stack.review_monitoring
    topic = _ref(stages, env, stack.notifications.topic)
    alarms = _resources(synthesized, env, "AWS::CloudWatch::Alarm")
    expected = {"DeadLetters", "QueueAge", "EnqueueFailures", "BacklogFunctionErrors"}
    assert set(monitoring.alarms) == expected
    per_use_case = {"Backlog", "OldestPending", "RejectRate", "LowScoreRate"}
    assert {uc: set(a) for uc, a in monitoring.use_case_alarms.items()} == {
        c.id: per_use_case for c in config.contracts_for(env)
    }
    for alarm in monitoring.all_alarms():
        properties = alarms[_ref(stages, env, alarm)]["Properties"]
        assert {"Ref": topic} in properties["AlarmActions"] and {"Ref": topic} in properties["OKActions"]
    # the SLA alarm's threshold is each contract's review SLA
    for contract in config.contracts_for(env):
        oldest = monitoring.use_case_alarms[contract.id]["OldestPending"]
        assert (
            alarms[_ref(stages, env, oldest)]["Properties"]["Threshold"] == contract.review.sla_hours * 3600
        )
    # the backlog function's time holds a first page read of every use case at its worst, and the margin to
    # publish (lambdas/review/backlog.py starts no page past that)
    functions = _resources(synthesized, env, "AWS::Lambda::Function")
    timeout = functions[_ref(stages, env, stack.review.backlog_function)]["Properties"]["Timeout"]
    assert timeout >= BACKLOG_MARGIN_S + store_call_max_s() * len(config.contracts_for(env)), timeout
    assert timeout < BACKLOG_INTERVAL_MINUTES * 60  # a run ends before the next (one concurrent execution)
    # a failed run (a backlog too long to read in its time) is not retried by Lambda: each retry would read
    # it to the timeout again, holding the one concurrent execution the next scheduled run needs
    synthesized.platform(env).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": _ref(stages, env, stack.review.backlog_function)},
            "MaximumRetryAttempts": 0,
        },
    )
    synthesized.platform(env).has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": f"rate({BACKLOG_INTERVAL_MINUTES} minutes)",
            "Targets": Match.array_with(
                [
                    Match.object_like(
                        {"Arn": {"Fn::GetAtt": [_ref(stages, env, stack.review.backlog_function), "Arn"]}}
                    )
                ]
            ),
        },
    )


@pytest.mark.parametrize("env", ENVS)
def test_a_review_queue_nobody_consumes_alarms_long_before_its_outputs_expire(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    # Event source disabled or the key refused: nothing is received, so nothing reaches the dead-letter
    # queue; only the age of the oldest message shows it, before the queue's retention deletes the outputs.
    stack = stages[env].platform
    queue_id = _ref(stages, env, stack.review.queue)
    queue = _resources(synthesized, env, "AWS::SQS::Queue")[queue_id]["Properties"]
    alarm = stack.review_monitoring.alarms["QueueAge"]
    properties = _resources(synthesized, env, "AWS::CloudWatch::Alarm")[_ref(stages, env, alarm)][
        "Properties"
    ]
    assert properties["Namespace"] == "AWS/SQS"
    assert properties["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert properties["Statistic"] == "Maximum"
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    # the time a message that keeps failing takes to reach the dead-letter queue, from the queue's settings
    longest_consumed = queue["VisibilityTimeout"] * queue["RedrivePolicy"]["maxReceiveCount"]
    assert properties["Threshold"] == longest_consumed
    assert (
        properties["Threshold"] + properties["Period"] * properties["EvaluationPeriods"]
        < (queue["MessageRetentionPeriod"])
    )
    topic = {"Ref": _ref(stages, env, stack.notifications.topic)}
    assert properties["AlarmActions"] == [topic] and properties["OKActions"] == [topic]
    # the review row graphs the age against the threshold and shows the alarm's state
    (dashboard,) = _resources(synthesized, env, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "ApproximateAgeOfOldestMessage" in body and '"label\\":\\"QueueAge alarm' in body
    assert json.dumps({"Fn::GetAtt": [_ref(stages, env, alarm), "Arn"]}) in body


def _longest_call_s(client: Any) -> float:
    """The longest one call of a botocore client can take when the service does not answer: every attempt
    connecting and reading to its timeout, and the retry delay between them (botocore's standard mode:
    under 1 s without x-amz-retry-after)."""
    config = client.meta.config
    attempts = int(config.retries["total_max_attempts"])
    assert config.retries["mode"] == "standard"
    return attempts * (config.connect_timeout + config.read_timeout) + (attempts - 1) * 1.0


@pytest.mark.parametrize("env", ENVS)
def test_a_store_that_does_not_answer_fails_its_call_inside_the_timeout_of_every_function_on_a_request_path(
    synthesized: Synthesized, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # as Lambda sets them (Powertools' client reads them)
        monkeypatch.setenv(name, "us-east-1")
    # The clients as the functions build them (the review functions' store, the orchestrator's review path)
    from lambdas.orchestrator.idempotency import IdempotentRunner
    from lambdas.orchestrator.review import ReviewPath
    from lambdas.review.store import ReviewStore

    store = ReviewStore(review_table="items", audit_table="audit", region="us-east-1").client
    dynamodb, sqs = ReviewPath(table_name="items", queue_url="https://queue", region="us-east-1")._setup()
    idempotency = IdempotentRunner(table_name="records")
    idempotency._setup()
    records = idempotency.persistence.client  # Powertools' DynamoDB persistence layer's own client
    longest = max(_longest_call_s(c) for c in (store, dynamodb, sqs, records))
    # every function of the template that talks to the review store (its table in its environment)
    timeouts = {
        logical_id: float(function["Properties"].get("Timeout", 3))
        for logical_id, function in _resources(synthesized, env, "AWS::Lambda::Function").items()
        if ReviewEnv.REVIEW_TABLE in (function["Properties"].get("Environment") or {}).get("Variables", {})
    }
    assert len(timeouts) == 4, timeouts  # the orchestrator, the review API, scoring and the backlog
    # one call that gets no answer ends with a second to spare, so the function answers (503) itself
    assert all(longest + 1 <= timeout for timeout in timeouts.values()), (longest, timeouts)


@pytest.mark.parametrize(
    ("context", "environment"),
    [
        ({}, True),  # an app without this project's cdk.json: the partition is left to deploy time
        ({"@aws-cdk/core:enablePartitionLiterals": True}, True),  # this project's flag: a literal partition
        ({}, False),  # an environment-agnostic stack: partition, region and account left to deploy time
    ],
)
def test_the_reviewer_roles_acknowledgments_name_its_findings_in_any_app(
    context: dict[str, Any], environment: bool
) -> None:
    from aws_cdk import aws_lambda as lambda_

    from bedrock_constructs.human_review import ReviewerRole
    from bedrock_constructs.nag import wildcard_findings
    from bedrock_constructs.orchestration_api import OrchestrationRestApi
    from tests.support.iam import acknowledged_on
    from tests.support.synth import probe_app

    # GIVEN a fork's app, with or without the feature flags of this repository's cdk.json
    stack = probe_stack(probe_app(context=context), environment=environment)
    handler = lambda_.Function.from_function_arn(
        stack, "Handler", "arn:aws:lambda:us-east-1:111111111111:function:orchestrator"
    )
    api = OrchestrationRestApi(stack, "Api", handler=handler, rest_api_name="fork")
    # WHEN it gives reviewers their role
    reviewer = ReviewerRole(stack, "Reviewer", rest_api=api)
    # THEN the role's wildcard findings, as cdk-nag names them, are the ones acknowledged
    policy = reviewer.role.node.find_child("DefaultPolicy")
    assert wildcard_findings(policy)
    assert set(wildcard_findings(policy)) <= acknowledged_on(policy)
