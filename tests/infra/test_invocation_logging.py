"""InvocationLogging: encrypted destinations, scoped service role, the setting's custom resource."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
import pytest
from aws_cdk.assertions import Match

from platform_config.markers import LOGGING_DELIVERY_FLAGS
from tests.infra.conftest import Synthesized

# The logical IDs and removal policies of its stateful resources are pinned, with every other stateful
# resource of the stack, in test_stateful_resources.py.


def test_log_bucket_is_versioned_kms_encrypted_private_tls_only_logged_and_expires(
    synthesized: Synthesized,
) -> None:
    template = synthesized.platform("prod")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": ["InvocationLoggingKeyEAF2C151", "Arn"]},
                        },
                    }
                ]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": "InvocationLoggingAccessLogsBucket48CACD0B"},
                "LogFilePrefix": "invocation-log-bucket/",
            },
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like(
                        {
                            "ExpirationInDays": 365,
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
                            "Status": "Enabled",
                        }
                    )
                ]
            },
        },
    )
    policy = synthesized.platform_json("prod")["Resources"]
    bucket_policies = [
        r
        for r in policy.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and r["Properties"]["Bucket"] == {"Ref": "InvocationLoggingBucketF12B4122"}
    ]
    statements = bucket_policies[0]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    delivery = next(s for s in statements if s.get("Sid") == "AllowBedrockInvocationLogDelivery")
    assert delivery["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "333333333333"}


def test_log_group_is_encrypted_with_retention(synthesized: Synthesized) -> None:
    synthesized.platform("staging").has_resource_properties(
        "AWS::Logs::LogGroup",
        {"KmsKeyId": {"Fn::GetAtt": ["InvocationLoggingKeyEAF2C151", "Arn"]}, "RetentionInDays": 90},
    )
    for env in ("dev", "staging", "prod"):
        for resource in synthesized.platform_json(env)["Resources"].values():
            if resource["Type"] == "AWS::Logs::LogGroup":
                assert "RetentionInDays" in resource["Properties"] and "KmsKeyId" in resource["Properties"]


def test_key_is_rotated(synthesized: Synthesized) -> None:
    synthesized.platform("prod").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_delivery_role_is_limited_to_this_account_and_bedrock_in_this_region(
    synthesized: Synthesized,
) -> None:
    synthesized.platform("prod").has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": "333333333333"},
                            "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:us-west-2:333333333333:*"},
                        },
                    }
                ]
            },
        },
    )


def _configuration(synthesized: Synthesized, env: str) -> dict:  # type: ignore[type-arg]
    resources = synthesized.platform_json(env)["Resources"]
    (resource,) = [r for r in resources.values() if r["Type"] == "Custom::BedrockModelInvocationLogging"]
    return resource  # type: ignore[no-any-return]


def _call(resource: dict, phase: str) -> dict:  # type: ignore[type-arg]
    joined = resource["Properties"][phase]
    text = (
        "".join(p if isinstance(p, str) else '"TOKEN"' for p in joined["Fn::Join"][1])
        if isinstance(joined, dict)
        else joined
    )
    return json.loads(text.replace('""TOKEN""', '"TOKEN"'))  # type: ignore[no-any-return]


def test_custom_resource_puts_on_create_and_update_and_deletes_on_delete(synthesized: Synthesized) -> None:
    resource = _configuration(synthesized, "prod")
    create, update, delete = (_call(resource, p) for p in ("Create", "Update", "Delete"))
    assert create == update
    assert (create["service"], create["action"]) == ("bedrock", "putModelInvocationLoggingConfiguration")
    assert (delete["service"], delete["action"]) == ("bedrock", "deleteModelInvocationLoggingConfiguration")
    config = create["parameters"]["loggingConfig"]
    assert config["s3Config"]["keyPrefix"] == "invocation-logs"
    assert config["cloudWatchConfig"]["largeDataDeliveryS3Config"]["keyPrefix"] == "large-data"
    # Every member of Bedrock's LoggingConfig is stated: the destinations and all five delivery flags.
    assert set(config) == {"s3Config", "cloudWatchConfig", *LOGGING_DELIVERY_FLAGS}


def test_the_delivery_flags_are_every_flag_bedrock_knows() -> None:
    # botocore's service model of PutModelInvocationLoggingConfiguration: if Bedrock adds a flag, the
    # construct and the gate rule BEDROCK-LOGGING-FLAGS must state it too.
    model = botocore.session.get_session().get_service_model("bedrock")
    members = set(model.shape_for("LoggingConfig").members)
    assert members - {"s3Config", "cloudWatchConfig"} == set(LOGGING_DELIVERY_FLAGS)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_delivery_flag_is_on_only_if_every_enabled_contract_allows_it(
    synthesized: Synthesized, env: str
) -> None:
    config = _call(_configuration(synthesized, env), "Create")["parameters"]["loggingConfig"]
    contracts = synthesized.config.contracts_for(env)
    allowed = {
        "textDataDeliveryEnabled": all(c.logging.prompts_and_responses for c in contracts),
        "imageDataDeliveryEnabled": all(c.logging.images for c in contracts),
        "embeddingDataDeliveryEnabled": all(c.logging.embeddings for c in contracts),
        "videoDataDeliveryEnabled": all(c.logging.video for c in contracts),
        "audioDataDeliveryEnabled": all(c.logging.audio for c in contracts),
    }
    assert {flag: config[flag] for flag in LOGGING_DELIVERY_FLAGS} == allowed


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_text_delivery_is_on_only_if_every_enabled_contract_allows_it(
    synthesized: Synthesized, example_synthesized: Synthesized, env: str
) -> None:
    # the repository's app, and the examples' (the same app while the repository ships every example)
    for app in (synthesized, example_synthesized):
        config = _call(_configuration(app, env), "Create")["parameters"]["loggingConfig"]
        contracts = app.config.contracts_for(env)
        assert config["textDataDeliveryEnabled"] is all(c.logging.prompts_and_responses for c in contracts)
    # an example that forbids prompt logging is enabled in every environment: in the examples' app it is off
    forbidding = [
        c.id for c in example_synthesized.config.contracts_for(env) if not c.logging.prompts_and_responses
    ]
    assert forbidding, f"no example enabled in {env} forbids prompt logging"
    examples = _call(_configuration(example_synthesized, env), "Create")["parameters"]["loggingConfig"]
    assert examples["textDataDeliveryEnabled"] is False


def test_provider_can_only_manage_the_setting_and_pass_the_delivery_role(synthesized: Synthesized) -> None:
    resources = synthesized.platform_json("prod")["Resources"]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    provider = next(p for p in policies if any(s.get("Sid") == "ManageInvocationLoggingSetting" for s in p))
    by_sid = {s["Sid"]: s for s in provider}
    assert sorted(by_sid["ManageInvocationLoggingSetting"]["Action"]) == [
        "bedrock:DeleteModelInvocationLoggingConfiguration",
        "bedrock:PutModelInvocationLoggingConfiguration",
    ]
    assert set(by_sid) == {"ManageInvocationLoggingSetting", "PassDeliveryRoleToBedrock", "WriteProviderLogs"}
    assert by_sid["PassDeliveryRoleToBedrock"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }
    assert by_sid["PassDeliveryRoleToBedrock"]["Resource"] == {
        "Fn::GetAtt": ["InvocationLoggingDeliveryRole7BF940C7", "Arn"]
    }


def test_dev_buckets_are_emptied_by_a_provider_the_packs_evaluate(synthesized: Synthesized) -> None:
    resources = synthesized.platform_json("dev")["Resources"]
    # aws-cdk-lib's auto-delete provider (bare CfnResource function and role) is gone.
    assert not [r for r in resources.values() if r["Type"] == "Custom::S3AutoDeleteObjects"]
    empties = {
        r["Properties"]["BucketName"]["Ref"]: r
        for r in resources.values()
        if r["Type"] == "Custom::EmptyBucketOnDelete"
    }
    assert set(empties) == {"InvocationLoggingBucketF12B4122", "InvocationLoggingAccessLogsBucket48CACD0B"}
    for bucket_id, resource in empties.items():
        assert {"Key": "bedrock-platform:empty-on-delete", "Value": "true"} in resources[bucket_id][
            "Properties"
        ]["Tags"]
        # Deleted (and so run) before its bucket, its bucket policy and the provider's permissions.
        assert any(d.startswith("InvocationLoggingEmptyBucketsOnDeletePolicy") for d in resource["DependsOn"])
        assert any(
            d.startswith("InvocationLoggingBucketPolicy") or "AccessLogsBucketPolicy" in d
            for d in resource["DependsOn"]
        )
        assert resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0].startswith(
            "InvocationLoggingEmptyBucketsOnDeleteFunction"
        )
    function = next(
        r for k, r in resources.items() if k.startswith("InvocationLoggingEmptyBucketsOnDeleteFunction")
    )
    assert function["Properties"]["Handler"] == "empty_bucket.handler.lambda_handler"
    assert "LogGroup" in function["Properties"]["LoggingConfig"]
    # Its log group is encrypted and expires like every other (test_log_group_is_encrypted_with_retention).


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_retained_buckets_are_never_emptied(synthesized: Synthesized, env: str) -> None:
    resources = synthesized.platform_json(env)["Resources"]
    assert not [
        r
        for r in resources.values()
        if r["Type"] in ("Custom::EmptyBucketOnDelete", "Custom::S3AutoDeleteObjects")
    ]
    for resource in resources.values():
        if resource["Type"] == "AWS::S3::Bucket":
            assert {"Key": "bedrock-platform:empty-on-delete", "Value": "true"} not in resource[
                "Properties"
            ].get("Tags", [])


@pytest.mark.parametrize("placement", ["before", "after", "nested"])
def test_another_aws_custom_resource_may_not_share_the_settings_provider(placement: str) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_logs as logs
    from aws_cdk import custom_resources as cr

    from bedrock_constructs.invocation_logging import InvocationLogging
    from tests.support.synth import probe_app, probe_stack

    app = probe_app(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    stack = probe_stack(app)

    def fork_call(scope: cdk.Stack) -> None:  # a fork's own AwsCustomResource
        cr.AwsCustomResource(
            scope,
            "ForkCall",
            on_create=cr.AwsSdkCall(
                service="ssm",
                action="getParameter",
                parameters={"Name": "fork"},
                physical_resource_id=cr.PhysicalResourceId.of("fork"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
        )

    # GIVEN the logging setting and a fork's AwsCustomResource created before or after it in the same
    # stack (aws-cdk-lib runs both on one function, with the first one's role), or in a nested stack
    if placement == "before":
        fork_call(stack)
    InvocationLogging(stack, "Logging", log_retention=logs.RetentionDays.ONE_MONTH)
    if placement == "after":
        fork_call(stack)
    if placement == "nested":
        fork_call(cdk.NestedStack(stack, "Nested"))
        app.synth()  # THEN a nested stack's provider is its own: nothing to refuse
        return
    # THEN synth fails naming it, instead of running it with the setting's role (or the setting with its
    # role) under acknowledgments that say the function calls only Bedrock's logging API
    with pytest.raises(RuntimeError, match=r"\['S/ForkCall'\] share this stack's AwsCustomResource provider"):
        app.synth()


def test_empty_buckets_on_delete_as_its_readme_shows_it_passes_every_pack(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3

    from bedrock_constructs.empty_bucket import EmptyBucketsOnDelete
    from bedrock_constructs.nag import add_nag_packs
    from compliance.check import nag_failures
    from tests.support.synth import probe_app, probe_stack

    # GIVEN the README's example, without an encryption_key, in an app that runs every pack
    app = probe_app(tmp_path, context={"@aws-cdk/core:failSynthOnValidationErrors": False})
    stack = probe_stack(app)
    bucket = s3.Bucket(stack, "Scratch", enforce_ssl=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    emptier = EmptyBucketsOnDelete(
        stack, "EmptyOnDelete", buckets=[bucket], log_retention=logs.RetentionDays.ONE_MONTH
    )
    add_nag_packs(app)
    app.synth()
    # THEN no pack reports anything under it, and its log group is encrypted with a key of its own
    assert (tmp_path / "validation-report.json").is_file()  # the packs ran (their findings on Scratch)
    assert [f for f in nag_failures(tmp_path) if " on /S/EmptyOnDelete/" in f] == []
    template = json.loads((tmp_path / "S.template.json").read_text())
    (log_group,) = [r for k, r in template["Resources"].items() if k.startswith("EmptyOnDeleteLogs")]
    key = emptier.encryption_key.node.default_child
    assert isinstance(key, cdk.CfnResource)
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [stack.resolve(key.logical_id), "Arn"]}


def test_empty_buckets_on_delete_refuses_a_bucket_it_cannot_tag() -> None:
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3

    from bedrock_constructs.empty_bucket import EmptyBucketsOnDelete
    from tests.support.synth import probe_stack

    stack = probe_stack()
    imported = s3.Bucket.from_bucket_name(stack, "Imported", "a-bucket-of-another-app")
    with pytest.raises(ValueError, match=r"\['S/Imported'\] are imported; it empties only buckets this app"):
        EmptyBucketsOnDelete(
            stack, "EmptyOnDelete", buckets=[imported], log_retention=logs.RetentionDays.ONE_MONTH
        )


def test_without_the_s3_log_delivery_flag_it_says_which_flag_to_set() -> None:
    from aws_cdk import aws_logs as logs

    from bedrock_constructs.invocation_logging import InvocationLogging
    from tests.support.synth import probe_app, probe_stack

    # GIVEN an app without this repository's cdk.json (aws-cdk-lib failed with "objectOwnership must be set
    # to "ObjectWriter" when accessControl is "LogDeliveryWrite"", naming neither flag nor construct)
    stack = probe_stack(probe_app())
    with pytest.raises(
        ValueError, match=r"S/Logging: .*@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy: true"
    ):
        InvocationLogging(stack, "Logging", log_retention=logs.RetentionDays.ONE_MONTH)
