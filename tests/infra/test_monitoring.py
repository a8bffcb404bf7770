"""Observability and cost control: alarms, composite alarms, dashboard, budgets, notifications."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from bedrock_constructs.monitoring import NotificationTopic, UseCaseMonitoring
from bedrock_constructs.use_case import GovernedUseCase
from compliance.bedrock_rules import rule_alarm_actions
from platform_config import PlatformConfig
from platform_config.model import AlarmThresholds, Contract
from platform_config.naming import pascal
from tests.infra.conftest import Stages, Synthesized, probe_stack
from tests.support.contracts import contract_files, enabled_use_cases

ALARMS = ("ThrottleRate", "ServerErrorRate", "GuardrailInterventionRate", "LatencyP95", "TpmQuotaUsage")
TOPIC = {"Ref": "NotificationsTopicAE679CBD"}
#: The alarm each of a contract's `alarms:` thresholds sets.
OVERRIDDEN = {
    "throttle_rate_percent": "ThrottleRate",
    "server_error_rate_percent": "ServerErrorRate",
    "guardrail_intervention_rate_percent": "GuardrailInterventionRate",
}


def _resources(synthesized: Synthesized, env: str, kind: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {k: v for k, v in synthesized.platform_json(env)["Resources"].items() if v["Type"] == kind}


def _alarm(synthesized: Synthesized, env: str, use_case: str, name: str) -> dict:  # type: ignore[type-arg]
    prefix = f"{pascal(use_case)}MonitoringAlarms{name}"
    (alarm,) = [
        v for k, v in _resources(synthesized, env, "AWS::CloudWatch::Alarm").items() if k.startswith(prefix)
    ]
    return alarm["Properties"]  # type: ignore[no-any-return]


def _profile_id(stages: Stages, env: str, use_case: str, route: str) -> dict:  # type: ignore[type-arg]
    stack = stages[env].platform
    profile = stack.use_cases[use_case].profiles[route]
    return {"Fn::GetAtt": [stack.get_logical_id(profile.resource), "InferenceProfileId"]}


def _cases(config: PlatformConfig) -> list[tuple[str, Contract]]:
    return [(env.name, c) for env in config.environments for c in config.contracts_for(env.name)]


@pytest.fixture(scope="module")
def cases(config: PlatformConfig) -> list[tuple[str, Contract]]:
    return _cases(config)


def test_every_use_case_has_every_alarm_with_actions(synthesized: Synthesized, cases) -> None:  # type: ignore[no-untyped-def]
    for env, contract in cases:
        for name in ALARMS:
            alarm = _alarm(synthesized, env, contract.id, name)
            assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC], (
                env,
                contract.id,
                name,
            )
            assert alarm["TreatMissingData"] == "notBreaching"


def test_thresholds_come_from_the_contract(synthesized: Synthesized, cases) -> None:  # type: ignore[no-untyped-def]
    for env, contract in cases:
        assert (
            _alarm(synthesized, env, contract.id, "ThrottleRate")["Threshold"]
            == contract.alarms.throttle_rate_percent
        )
        assert _alarm(synthesized, env, contract.id, "LatencyP95")["Threshold"] == contract.latency_p95_ms
        assert _alarm(synthesized, env, contract.id, "GuardrailInterventionRate")["Threshold"] == (
            contract.alarms.guardrail_intervention_rate_percent
        )
        assert contract.limits.tpm_quota is not None
        assert _alarm(synthesized, env, contract.id, "TpmQuotaUsage")["Threshold"] == pytest.approx(
            contract.limits.tpm_quota * 0.8
        )
    # the contracts that override a default (their YAML's `alarms:`) get the value they wrote
    overrides = [
        (data["environments"][0], cid, key, value)
        for cid, data in contract_files().items()
        for key, value in (data.get("alarms") or {}).items()
        if key in OVERRIDDEN
    ]
    assert overrides, "no contract overrides an alarm default: the examples do (support-ticket-summary)"
    for env, cid, key, value in overrides:
        assert _alarm(synthesized, env, cid, OVERRIDDEN[key])["Threshold"] == value, (env, cid, key)


def test_latency_alarm_watches_p95_of_the_primary_profile(synthesized: Synthesized, stages: Stages) -> None:
    use_case = min(enabled_use_cases("prod"))
    alarm = _alarm(synthesized, "prod", use_case, "LatencyP95")
    assert alarm["MetricName"] == "InvocationLatency" and alarm["Namespace"] == "AWS/Bedrock"
    assert alarm["ExtendedStatistic"] == "p95"
    assert alarm["Dimensions"] == [
        {"Name": "ModelId", "Value": _profile_id(stages, "prod", use_case, "primary")}
    ]


def test_throttle_rate_covers_every_route_and_is_gated_by_a_minimum_of_invocations(
    synthesized: Synthesized, stages: Stages, config: PlatformConfig
) -> None:
    contract = min(config.contracts_for("prod"), key=lambda c: c.id)
    alarm = _alarm(synthesized, "prod", contract.id, "ThrottleRate")
    expression = next(m["Expression"] for m in alarm["Metrics"] if "Expression" in m)
    assert ">= 20)" in expression and expression.startswith("IF(")
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {(s["MetricName"], json.dumps(s["Dimensions"][0]["Value"])) for s in stats.values()} == {
        (name, json.dumps(_profile_id(stages, "prod", contract.id, route)))
        for name in ("Invocations", "InvocationThrottles")
        for route in contract.routes
    }


def test_guardrail_rate_uses_the_published_version(synthesized: Synthesized) -> None:
    alarm = _alarm(synthesized, "prod", min(enabled_use_cases("prod")), "GuardrailInterventionRate")
    dims = {
        d["Name"]: d["Value"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
    }
    assert dims["GuardrailVersion"]["Fn::GetAtt"][1] == "Version"
    assert dims["GuardrailArn"]["Fn::GetAtt"][1] == "GuardrailArn"


def test_a_composite_alarm_per_use_case_pages_on_any_alarm(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    composites = _resources(synthesized, "prod", "AWS::CloudWatch::CompositeAlarm")
    assert len(composites) == len(config.contracts_for("prod"))
    for resource in composites.values():
        props = resource["Properties"]
        assert props["AlarmActions"] == [TOPIC] and props["OKActions"] == [TOPIC]
        rule = json.dumps(props["AlarmRule"])
        assert all(name in rule for name in ALARMS)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_invocation_log_delivery_failures_alarm_at_zero(synthesized: Synthesized, env: str) -> None:
    (alarm,) = [
        v["Properties"]
        for k, v in _resources(synthesized, env, "AWS::CloudWatch::Alarm").items()
        if k.startswith("InvocationLogDeliveryAlarm")
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"ModelInvocationLogsCloudWatchDeliveryFailure", "ModelInvocationLogsS3DeliveryFailure"}
    assert alarm["AlarmActions"] == [TOPIC]


def test_every_alarm_in_every_stack_has_actions(synthesized: Synthesized) -> None:
    assert rule_alarm_actions(synthesized.stacks) == []
    stacks = [copy.deepcopy(s) for s in synthesized.stacks]
    alarm = next(v for s in stacks for v in s.resources.values() if v["Type"] == "AWS::CloudWatch::Alarm")
    del alarm["Properties"]["OKActions"]
    assert [f.message for f in rule_alarm_actions(stacks)] == ["alarm has no OKActions"]


def _dashboard_body(synthesized: Synthesized, env: str) -> str:
    (dashboard,) = _resources(synthesized, env, "AWS::CloudWatch::Dashboard").values()
    return json.dumps(dashboard["Properties"]["DashboardBody"])


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_dashboard_references_every_profile_and_guardrail(
    synthesized: Synthesized, stages: Stages, config: PlatformConfig, env: str
) -> None:
    body = _dashboard_body(synthesized, env)
    stack = stages[env].platform
    for contract in config.contracts_for(env):
        use_case = stack.use_cases[contract.id]
        for profile in use_case.profiles.values():
            assert json.dumps(_profile_id_of(stack, profile)) in body
        assert stack.get_logical_id(use_case.guardrail.version_resource) in body
        assert f"## Use case: {contract.id}" in body
        assert f'\\"value\\":{contract.latency_p95_ms},\\"label\\":\\"p95 target (contract)\\"' in body
    for title in (
        "Overview: all use cases",
        "Guardrails (published versions)",
        "Invocation logging",
        "Estimated cost (USD)",
        "TimeToFirstToken",
        "EstimatedTPMQuotaUsage",
    ):
        assert title in body


def _profile_id_of(stack: cdk.Stack, profile) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {"Fn::GetAtt": [stack.get_logical_id(profile.resource), "InferenceProfileId"]}


def test_estimated_cost_uses_catalog_prices(
    example_synthesized: Synthesized, example_config: PlatformConfig
) -> None:
    # policy-qa's primary model has an unconfirmed list price in the catalog: the examples' app
    body = _dashboard_body(example_synthesized, "prod")
    contract = next(c for c in example_config.contracts_for("prod") if c.id == "policy-qa")
    assert contract.primary.price_per_1k_input_usd == 0.0033
    assert f"* {contract.primary.price_per_1k_input_usd:.8f} / 1000" in body
    assert f"* {contract.primary.price_per_1k_output_usd:.8f} / 1000" in body
    assert contract.primary.price_confirmed is False
    assert "(unconfirmed list prices)" in body


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_one_budget_per_use_case_filtered_by_its_tag(
    synthesized: Synthesized, config: PlatformConfig, env: str
) -> None:
    budgets = _resources(synthesized, env, "AWS::Budgets::Budget")
    by_tag = {
        b["Properties"]["Budget"]["CostFilters"]["TagKeyValue"][0]: b["Properties"] for b in budgets.values()
    }
    assert set(by_tag) == {f"user:use-case${c.id}" for c in config.contracts_for(env)}
    for contract in config.contracts_for(env):
        props = by_tag[f"user:use-case${contract.id}"]
        assert props["Budget"]["BudgetLimit"] == {
            "Amount": round(contract.daily_budget_usd * 30.4, 2),
            "Unit": "USD",
        }
        assert props["Budget"]["TimeUnit"] == "MONTHLY" and props["Budget"]["BudgetType"] == "COST"
        notifications = {
            (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
            for n in props["NotificationsWithSubscribers"]
        }
        assert notifications == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 80), ("FORECASTED", 100)}
        assert all(
            n["Subscribers"] == [{"Address": TOPIC, "SubscriptionType": "SNS"}]
            for n in props["NotificationsWithSubscribers"]
        )


def test_topic_is_encrypted_tls_only_and_subscribed_from_the_environment_file(
    synthesized: Synthesized,
) -> None:
    template = synthesized.platform("prod")
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        ),
                        Match.object_like(
                            {
                                "Sid": "AllowBudgetsToPublish",
                                "Principal": {"Service": "budgets.amazonaws.com"},
                            }
                        ),
                    ]
                )
            }
        },
    )
    subs = {
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
        for s in _resources(synthesized, "prod", "AWS::SNS::Subscription").values()
    }
    assert subs == {
        ("email", "genai-platform-oncall@example.com"),
        ("https", "https://events.pagerduty.example.com/integration/bedrock-platform/enqueue"),
    }
    for sub in _resources(synthesized, "prod", "AWS::SNS::Subscription").values():
        assert "RedrivePolicy" in sub["Properties"]


def test_a_contract_change_shows_up_in_the_template(example_config: PlatformConfig) -> None:
    contract = next(c for c in example_config.contracts_for("dev") if c.id == "policy-qa")
    changed = replace(
        contract,
        latency_p95_ms=6500,
        alarms=replace(contract.alarms, throttle_rate_percent=0.5, min_invocations=50),
    )
    stack = probe_stack()
    use_case = GovernedUseCase(stack, "UseCase", contract=changed, environment="dev")
    topic = NotificationTopic(stack, "Topic")
    UseCaseMonitoring(stack, "Monitoring", use_case=use_case, topic=topic.topic)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 0.5,
            "Metrics": Match.array_with(
                [Match.object_like({"Expression": Match.string_like_regexp(">= 50\\)")})]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"Threshold": 6500, "MetricName": "InvocationLatency"}
    )
    assert isinstance(changed.alarms, AlarmThresholds)


def test_forks_can_override_alarm_settings_without_editing_the_construct(
    example_config: PlatformConfig,
) -> None:
    from bedrock_constructs.monitoring import AlarmSettings

    contract = next(c for c in example_config.contracts_for("dev") if c.id == "policy-qa")
    stack = probe_stack()
    use_case = GovernedUseCase(stack, "UseCase", contract=contract, environment="dev")
    settings = AlarmSettings.from_contract(contract).with_overrides(
        period=cdk.Duration.minutes(1), evaluation_periods=5
    )
    UseCaseMonitoring(
        stack,
        "Monitoring",
        use_case=use_case,
        topic=NotificationTopic(stack, "Topic").topic,
        alarm_settings=settings,
        budget=False,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"EvaluationPeriods": 5, "Period": 60, "MetricName": "InvocationLatency"}
    )
    template.resource_count_is("AWS::Budgets::Budget", 0)


def test_the_facade_owns_the_apis_alarms_and_row_and_the_api_builds_none(
    example_config: PlatformConfig,
) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    from bedrock_constructs.monitoring import ApiAlarmSettings, MonitoringFacade
    from tests.support.forks import probe_api

    # GIVEN a fork's stack with one use case and its API
    stack = probe_stack()
    contract = next(c for c in example_config.contracts_for("dev") if c.id == "policy-qa")
    use_case = GovernedUseCase(stack, "PolicyQa", contract=contract, environment="dev")
    api = probe_api(stack, use_case)
    topic = NotificationTopic(stack, "Topic").topic
    # WHEN the facade monitors it, with one threshold changed
    facade = MonitoringFacade(stack, topic=topic)
    monitoring = facade.monitor_api(api, settings=ApiAlarmSettings().with_overrides(server_errors=10))
    # THEN the alarms are the facade's (the idempotency one as the use case accepts a key), each notifying
    # the topic, and the row is on its dashboard
    assert use_case.contract.logging.prompts_and_responses
    assert set(monitoring.alarms) == {
        "FunctionErrors",
        "FunctionThrottles",
        "Api5xx",
        "ApiLatencyP95",
        "IdempotencySaveFailures",
    }
    assert not [c for c in api.node.find_all() if isinstance(c, cloudwatch.Alarm)]
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 5 and all(
        a["Properties"]["AlarmActions"] and a["Properties"]["OKActions"] for a in alarms.values()
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 10,
            "MetricName": "5XXError",
            "AlarmDescription": "API answered more than 10 5xx in 5 minutes",
        },
    )
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert "## Orchestration API" in body and "Fallbacks" in body
    assert facade.dashboard.node.id == "Dashboard" and facade.apis == [monitoring]
