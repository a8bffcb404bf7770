"""What the reasons of the acknowledgments say, held against the synthesized templates and the service facts
they rely on: a compliance reviewer reads a reason as a statement about the deployed resource."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from bedrock_constructs.buckets import REPLICATION_FINDINGS
from bedrock_constructs.function_findings import VPC_FINDINGS
from compliance.cfn_values import as_list
from compliance.gate_result import read_gate_result
from tests.infra.conftest import Synthesized
from tests.support.iam import role_statements

POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@cache
def service_authorization() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: for each service prefix, each action (lower
    case) and the resource types it can be scoped to (``"Resources"``; none when it takes only ``*``)."""
    text = files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def resource_types(action: str) -> list[str]:
    service, _, name = action.partition(":")
    actions = service_authorization().get(service.lower(), {}).get("Actions", {})
    return list(actions.get(name.lower(), {}).get("Resources", []))


def test_a_wildcard_resource_reason_names_the_resource_type_of_every_action_that_has_one(
    synthesized: Synthesized,
) -> None:
    # "X has no resource-level permissions" is a fact of the Service Authorization Reference: an action on *
    # that the reference lets a policy scope to a resource type needs a reason about that type (why no
    # narrower ARN of it would do), never the claim that there is none.
    templates = {stack.name: stack.template for stack in synthesized.stacks}
    checked, wrong = 0, []
    for ack in read_gate_result(synthesized.outdir).acknowledgments:
        if ack.finding != "AwsSolutions-IAM5[Resource::*]":
            continue
        for logical_id in ack.resources:
            resource = templates[ack.stack]["Resources"][logical_id]
            if resource["Type"] not in POLICY_TYPES:
                continue
            for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"]):
                if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
                    continue
                for action in as_list(statement["Action"]):
                    checked += 1
                    wrong += [
                        (ack.construct_path, action, kind)
                        for kind in resource_types(action)
                        if kind not in ack.reason
                    ]
    assert checked, "no action on * under an AwsSolutions-IAM5[Resource::*] acknowledgment was found"
    assert not wrong, f"reasons that do not address the action's resource type: {wrong}"


#: "Invoked synchronously", as a reason would claim it ("asynchronously" is not a match).
SYNCHRONOUS = re.compile(r"\bsynchronous(ly)?\b", re.IGNORECASE)


def _function_id(template: dict[str, Any], value: Any) -> str | None:
    """The logical ID of the function ``value`` (a ``Ref`` or ``Fn::GetAtt [id, Arn]``) names, if any."""
    target = value.get("Ref") if isinstance(value, dict) else None
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = as_list(value["Fn::GetAtt"])[0]
    resource = template["Resources"].get(target) if isinstance(target, str) else None
    return target if resource and resource["Type"] == "AWS::Lambda::Function" else None


def asynchronously_invoked(template: dict[str, Any]) -> dict[str, str]:
    """The functions of ``template`` some AWS service invokes asynchronously, with that invoker: the provider of
    a custom resource (CloudFormation invokes it asynchronously with an event that holds a callback URL:
    https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html) and the target of an
    EventBridge rule (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html)."""
    found: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties") or {}
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            invoker, targets = f"CloudFormation ({logical_id})", [properties.get("ServiceToken")]
        elif kind == "AWS::Events::Rule":
            targets = [target.get("Arn") for target in properties.get("Targets", [])]
            invoker = f"EventBridge ({logical_id})"
        else:
            continue
        for target in targets:
            function = _function_id(template, target)
            if function:
                found[function] = invoker
    return found


def test_no_reason_calls_a_function_that_a_service_invokes_asynchronously_synchronous(
    synthesized: Synthesized,
) -> None:
    # a reason that says "invoked synchronously" tells the reviewer there is no asynchronous event to lose
    templates = {stack.name: stack.template for stack in synthesized.stacks}
    invoked = {name: asynchronously_invoked(template) for name, template in templates.items()}
    assert any(invoked.values())
    wrong = [
        (ack.construct_path, ack.finding, logical_id, invoked[ack.stack][logical_id])
        for ack in read_gate_result(synthesized.outdir).acknowledgments
        for logical_id in ack.resources
        if logical_id in invoked[ack.stack] and SYNCHRONOUS.search(ack.reason)
    ]
    assert not wrong, f"reasons that call an asynchronously invoked function synchronous: {wrong}"


#: How a reason names a service by its IAM prefix.
SERVICE_NAMES = {
    "bedrock": "Bedrock",
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "s3": "S3",
    "sts": "STS",
    "states": "Step Functions",
}
#: Grants that are no call of the function's own: Lambda writes its logs, the X-Ray SDK its traces, KMS is
#: called by the service that holds the data (``kms:ViaService``), and iam:PassRole is no API call.
NOT_CALLED = ("logs:", "xray:", "kms:", "iam:PassRole")


def called_services(template: dict[str, Any], function: str) -> set[str]:
    """The IAM prefixes of the actions ``function``'s execution role allows it to call (dead-letter delivery,
    which Lambda makes with that role, left out)."""
    properties = template["Resources"][function]["Properties"]
    role = as_list(properties["Role"]["Fn::GetAtt"])[0]
    dead_letters = (properties.get("DeadLetterConfig") or {}).get("TargetArn")
    return {
        str(action).split(":")[0]
        for statement in role_statements(template, role)
        if statement.get("Effect") == "Allow" and statement.get("Resource") != dead_letters
        for action in as_list(statement["Action"])
        if not str(action).startswith(NOT_CALLED)
    }


def test_an_outside_a_vpc_reason_names_every_service_the_function_calls(synthesized: Synthesized) -> None:
    # "reaches only X and Y public endpoints" is what a reviewer checks network controls against
    templates = {stack.name: stack.template for stack in synthesized.stacks}
    checked, wrong = 0, []
    for ack in read_gate_result(synthesized.outdir).acknowledgments:
        if ack.finding not in VPC_FINDINGS:
            continue
        template = templates[ack.stack]
        for logical_id in ack.resources:
            if template["Resources"][logical_id]["Type"] != "AWS::Lambda::Function":
                continue
            checked += 1
            wrong += [
                (ack.construct_path, ack.finding, service)
                for service in sorted(called_services(template, logical_id))
                if SERVICE_NAMES.get(service, service) not in ack.reason
            ]
    assert checked, "no function under a LambdaInsideVPC acknowledgment was found"
    assert not wrong, f"reasons that leave out a service the function calls: {wrong}"


def test_an_access_log_buckets_replication_reason_is_about_the_access_logs_it_holds(
    synthesized: Synthesized,
) -> None:
    # a data bucket's reason ("invocation logs stay in the region", "the last release is kept versioned
    # here") says nothing true of the bucket that receives its server access logs
    destinations = {
        stack.name: {
            ((bucket["Properties"].get("LoggingConfiguration") or {}).get("DestinationBucketName") or {}).get(
                "Ref"
            )
            for bucket in stack.template["Resources"].values()
            if bucket["Type"] == "AWS::S3::Bucket"
        }
        for stack in synthesized.stacks
    }
    covered = [
        ack
        for ack in read_gate_result(synthesized.outdir).acknowledgments
        if ack.finding in REPLICATION_FINDINGS and set(ack.resources) & destinations[ack.stack]
    ]
    assert covered, "no access-log bucket under a replication acknowledgment was found"
    wrong = [(a.construct_path, a.finding, a.reason) for a in covered if "server access logs" not in a.reason]
    assert not wrong, f"access-log buckets acknowledged with another bucket's reason: {wrong}"


def test_a_no_tracing_reason_accounts_for_every_asynchronous_invoker_of_the_function(
    synthesized: Synthesized,
) -> None:
    # "every step is recorded in the state machine's trace" leaves out the runs EventBridge starts
    templates = {stack.name: stack.template for stack in synthesized.stacks}
    invoked = {name: asynchronously_invoked(template) for name, template in templates.items()}
    covered = [
        (ack, invoked[ack.stack][logical_id].split(" ")[0])
        for ack in read_gate_result(synthesized.outdir).acknowledgments
        if ack.finding == "Serverless-LambdaTracing"
        for logical_id in ack.resources
        if logical_id in invoked[ack.stack]
    ]
    assert covered, "no asynchronously invoked function under a tracing acknowledgment was found"
    wrong = [(ack.construct_path, service) for ack, service in covered if service not in ack.reason]
    assert not wrong, f"no-tracing reasons that leave out a service invoking the function: {wrong}"
