"""A Bedrock guardrail and its published version, built from a contract's guardrail policy; and the
account-level enforced guardrail built on one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from bedrock_constructs.metrics import MetricOptions, service_metric, with_defaults
from constructs import Construct
from platform_spec.contract import (
    MINIMUM_FILTER_STRENGTH,
    ContentFilterType,
    ContentGuarding,
    GuardrailPolicy,
)
from platform_spec.guardrail import policy_fingerprint, render_policy

__all__ = ["METRIC_NAMESPACE", "EnforcedGuardrail", "Guardrail", "policy_fingerprint", "render_policy"]

METRIC_NAMESPACE = "AWS/Bedrock/Guardrails"


class Guardrail(Construct):
    """An Amazon Bedrock guardrail with a published version.

    Secure by default: the policy always carries every content filter (prompt attack on input at HIGH;
    hate, insults, sexual, violence and misconduct on input and output), because the contract loader
    fills in the platform defaults and refuses anything below MEDIUM. A new version is published whenever
    the rendered policy changes: the version's description carries the policy fingerprint, and a changed
    description makes CloudFormation create a new version.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        guardrail_name: str,
        policy: GuardrailPolicy,
        kms_key: kms.IKey | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        prompt_attack = policy.strength_of(ContentFilterType.PROMPT_ATTACK)
        if not prompt_attack.input_strength.at_least(MINIMUM_FILTER_STRENGTH):
            raise ValueError(
                f"Guardrail {self.node.path}: the policy must filter prompt attacks on input at "
                f"{MINIMUM_FILTER_STRENGTH.value} or above (got {prompt_attack.input_strength.value}); "
                "leave content_filters.PROMPT_ATTACK unset to get the secure default (HIGH)"
            )
        if not cdk.Token.is_unresolved(guardrail_name) and not (1 <= len(guardrail_name) <= 50):
            raise ValueError(
                f"Guardrail {self.node.path}: guardrail_name {guardrail_name!r} must be 1 to 50 characters"
            )

        self.policy = policy
        self.kms_key = kms_key
        rendered = render_policy(policy)
        self.policy_fingerprint = policy_fingerprint(rendered)
        self.resource = bedrock.CfnGuardrail(
            self,
            "Resource",
            name=guardrail_name,
            description=description,
            kms_key_arn=kms_key.key_arn if kms_key else None,
            tags=[cdk.CfnTag(key=k, value=v) for k, v in sorted((tags or {}).items())] or None,
            blocked_input_messaging=rendered.pop("BlockedInputMessaging"),
            blocked_outputs_messaging=rendered.pop("BlockedOutputsMessaging"),
        )
        for prop, value in rendered.items():
            self.resource.add_property_override(prop, value)

        self.version_resource = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.resource.attr_guardrail_id,
            description=f"Published by bedrock-platform; policy fingerprint {self.policy_fingerprint}",
        )
        # A changed policy replaces the version resource, and CloudFormation deletes the replaced version
        # once the update succeeds, while callers may still pin it: during a canary bake the stable
        # orchestrator version (most of the traffic, and the one a rollback returns to) keeps the old
        # version number in its environment, and ApplyGuardrail or Converse with a deleted version fails.
        # Replaced versions are kept (UpdateReplacePolicy; DeletionPolicy matches, as cfn-lint and CDK's
        # validation want). Nothing outlives the guardrail: "If you delete a guardrail, all of its versions
        # will be deleted" (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteGuardrail.html),
        # and a version needs no grant of its own: "Guardrail versions are not considered resources and do
        # not have an ARN. IAM Policies that apply to a guardrail apply to all of its versions"
        # (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-deploy.html).
        self.version_resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.guardrail_arn = self.resource.attr_guardrail_arn
        self.guardrail_id = self.resource.attr_guardrail_id
        #: The published version number (a string, e.g. "1"): pin callers to it, never to DRAFT.
        self.guardrail_version = self.version_resource.attr_version

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """``bedrock:ApplyGuardrail`` on this guardrail only (Converse with a guardrail needs it too),
        plus decrypt on its customer managed key if it has one."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:ApplyGuardrail"], resource_arns=[self.guardrail_arn]
        )
        if self.kms_key is not None:
            grant = grant.combine(self.kms_key.grant_decrypt(grantee))
        return grant

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Any ``AWS/Bedrock/Guardrails`` metric of the published version (dimensions ``GuardrailArn``
        and ``GuardrailVersion``). Sum over 5 minutes unless ``options`` say otherwise."""
        return service_metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions={"GuardrailArn": self.guardrail_arn, "GuardrailVersion": self.guardrail_version},
            statistic="Sum",
            options=options,
        )

    def metric_invocations(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("Invocations", **options)

    def metric_invocations_intervened(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("InvocationsIntervened", **options)

    def metric_invocation_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """p95 unless ``statistic`` says otherwise."""
        return self.metric("InvocationLatency", **with_defaults(options, statistic="p95"))


class EnforcedGuardrail(Construct):
    """An account-level enforced guardrail: a ``Guardrail`` with a published version, and the
    ``AWS::Bedrock::EnforcedGuardrailConfiguration`` that makes Bedrock apply that version to every model
    call in the account and region, on top of any guardrail the caller names (the stricter action wins).

    It guards calls that never pass through the orchestration API. It is one setting per account and
    region: create it only in the stack that owns the account-and-region settings. Reference:
    https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-enforcements.html and
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-bedrock-enforcedguardrailconfiguration.html
    (``GuardrailVersion`` must be numeric, never DRAFT).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        guardrail_name: str,
        policy: GuardrailPolicy,
        messages: ContentGuarding = ContentGuarding.COMPREHENSIVE,
        system: ContentGuarding = ContentGuarding.SELECTIVE,
        description: str | None = None,
        kms_key: kms.IKey | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.guardrail = Guardrail(
            self,
            "Guardrail",
            guardrail_name=guardrail_name,
            policy=policy,
            kms_key=kms_key,
            description=description
            or "Account-level baseline, enforced on every Bedrock call in the account",
            tags=tags,
        )
        self.configuration = bedrock.CfnEnforcedGuardrailConfiguration(
            self,
            "Configuration",
            guardrail_identifier=self.guardrail.guardrail_arn,
            guardrail_version=self.guardrail.guardrail_version,
            selective_content_guarding=bedrock.CfnEnforcedGuardrailConfiguration.SelectiveContentGuardingProperty(
                messages=messages.value, system=system.value
            ),
        )
        self.messages = messages
        self.system = system

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """``bedrock:ApplyGuardrail`` on the enforced guardrail. Whether Bedrock refuses a model call from
        a principal without it is not documented in a way that can be tested offline; every caller in the
        account that should keep working through the baseline is granted it (``PlatformStack`` grants each
        of its roles that calls a model: the orchestrator, the scoring function, the readiness gate)."""
        return self.guardrail.grant_apply(grantee)
