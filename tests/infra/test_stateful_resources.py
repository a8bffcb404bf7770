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


def _stateful(synthesized: Synthesized, env: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {
        k: v for k, v in synthesized.platform_json(env)["Resources"].items() if v["Type"] in STATEFUL_TYPES
    }


@pytest.mark.parametrize(
    ("env", "expected"), [("dev", {**PINNED, **PINNED_WHEN_DESTROYED}), ("staging", PINNED), ("prod", PINNED)]
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
