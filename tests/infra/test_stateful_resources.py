"""Every stateful resource of every environment keeps its logical ID and follows the removal policy.

Renaming one of these logical IDs would make CloudFormation replace the resource: a new key, bucket,
log group, table or queue, and the old one's data deleted or orphaned. This test is the tripwire.
"""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized

STATEFUL_TYPES = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
)

PINNED = {
    "InvocationLoggingKeyEAF2C151": "AWS::KMS::Key",
    "InvocationLoggingBucketF12B4122": "AWS::S3::Bucket",
    "InvocationLoggingAccessLogsBucket48CACD0B": "AWS::S3::Bucket",
    "InvocationLoggingLogGroupEDBFE163": "AWS::Logs::LogGroup",
    "InvocationLoggingConfigurationProviderLogs6DB2106A": "AWS::Logs::LogGroup",
    "NotificationsKeyADCFA950": "AWS::KMS::Key",
    "NotificationsDeadLetters2AC1E002": "AWS::SQS::Queue",
    "OrchestrationApiKey4BD54C38": "AWS::KMS::Key",
    "OrchestrationApiIdempotencyTableF890A80A": "AWS::DynamoDB::Table",
    "OrchestrationApiFunctionLogsB8FE699A": "AWS::Logs::LogGroup",
    "OrchestrationApiAccessLogs429D7779": "AWS::Logs::LogGroup",
    "OrchestrationApiWafLogs0A16FC39": "AWS::Logs::LogGroup",
    "OrchestrationApiExecutionLogsB0F2BD77": "AWS::Logs::LogGroup",
    "HumanReviewKeyDF780608": "AWS::KMS::Key",
    "HumanReviewQueue30CE171B": "AWS::SQS::Queue",
    "HumanReviewDeadLetters58BBED72": "AWS::SQS::Queue",
    "HumanReviewItems6E81B77D": "AWS::DynamoDB::Table",
    "HumanReviewAuditRecords28113ED7": "AWS::DynamoDB::Table",
    "HumanReviewScoringLogsB8645288": "AWS::Logs::LogGroup",
    "HumanReviewApiLogs16342E03": "AWS::Logs::LogGroup",
    "HumanReviewBacklogLogs84F97EE5": "AWS::Logs::LogGroup",
}
#: Only where stateful resources are destroyed with the stack: the log group of the provider that
#: empties the buckets before CloudFormation deletes them.
PINNED_WHEN_DESTROYED = {
    "InvocationLoggingEmptyBucketsOnDeleteLogs9E8CA0FF": "AWS::Logs::LogGroup",
}
#: Only in the environment the readiness gate tests (delivery/pipeline.yaml): the test subscription of the
#: notification topic that the gate reads alarm notifications from, and its key.
PINNED_READINESS = {
    "ReadinessGateProbeKey37C7FD20": "AWS::KMS::Key",
    "ReadinessGateProbeQueueD328C959": "AWS::SQS::Queue",
}
#: The delivery account's stack (Delivery/Pipeline): artifacts, notifications, the bake's logs; always retained.
PINNED_DELIVERY = {
    "DeliveryArtifactsKeyBA9D8FDE": "AWS::KMS::Key",
    "DeliveryArtifactsAccessLogsBucket0496BDBB": "AWS::S3::Bucket",
    "DeliveryArtifactsBucket2402A431": "AWS::S3::Bucket",
    "DeliveryArtifactsLogs44A94CA0": "AWS::Logs::LogGroup",
    "DeliveryNotificationsKey61EAE807": "AWS::KMS::Key",
    "DeliveryNotificationsDeadLetters597444B8": "AWS::SQS::Queue",
    "DeliveryCanaryBakeFunctionLogsAA4B9659": "AWS::Logs::LogGroup",
    "DeliveryCanaryBakeLogsD9D5D386": "AWS::Logs::LogGroup",
}


def _stateful(synthesized: Synthesized, env: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {
        k: v for k, v in synthesized.platform_json(env)["Resources"].items() if v["Type"] in STATEFUL_TYPES
    }


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("dev", {**PINNED, **PINNED_WHEN_DESTROYED}),
        ("staging", {**PINNED, **PINNED_READINESS}),
        ("prod", PINNED),
    ],
)
def test_every_stateful_resource_is_pinned(
    synthesized: Synthesized, env: str, expected: dict[str, str]
) -> None:
    # A new stateful resource must be added to PINNED (and so reviewed); a renamed one fails here.
    assert {k: v["Type"] for k, v in _stateful(synthesized, env).items()} == expected


@pytest.mark.parametrize(("env", "policy"), [("prod", "Retain"), ("staging", "Retain"), ("dev", "Delete")])
def test_stateful_resources_follow_the_environment_removal_policy(
    synthesized: Synthesized, env: str, policy: str
) -> None:
    for logical_id, resource in _stateful(synthesized, env).items():
        assert (logical_id, resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == (
            logical_id,
            policy,
            policy,
        )


def test_the_delivery_stacks_stateful_resources_are_pinned_and_retained(synthesized: Synthesized) -> None:
    (stack,) = [s for s in synthesized.stacks if s.name == "Delivery/Pipeline"]
    stateful = {k: v for k, v in stack.resources.items() if v["Type"] in STATEFUL_TYPES}
    assert {k: v["Type"] for k, v in stateful.items()} == PINNED_DELIVERY
    for logical_id, resource in stateful.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == (
            "Retain",
            "Retain",
        ), logical_id
