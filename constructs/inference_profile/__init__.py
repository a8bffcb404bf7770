"""An application inference profile per model route of a use case, tagged for cost allocation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam

from bedrock_constructs.metrics import MetricOptions, service_metric, with_defaults
from constructs import Construct
from platform_config.model import ModelSource, ModelSourceKind

#: The cost allocation tags every profile must carry (activate them in Billing to see them in Cost Explorer).
REQUIRED_COST_TAGS = ("cost-center", "team", "application", "environment", "use-case")
METRIC_NAMESPACE = "AWS/Bedrock"
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
#: The request context key that names the inference profile a model is invoked through.
PROFILE_CONDITION_KEY = "bedrock:InferenceProfileArn"


def foundation_model_arns(source: ModelSource, partition: str = "aws") -> list[str]:
    """ARNs of the foundation model in every region ``source`` can route a request to.

    A global cross-region profile can route to any commercial region: its model is granted in every
    region and, as Bedrock requires for global profiles, with an empty region too.
    """
    if source.destination_regions == ("*",):
        return [
            f"arn:{partition}:bedrock:*::foundation-model/{source.model_id}",
            f"arn:{partition}:bedrock:::foundation-model/{source.model_id}",
        ]
    return [
        f"arn:{partition}:bedrock:{region}::foundation-model/{source.model_id}"
        for region in source.destination_regions
    ]


class ApplicationInferenceProfile(Construct):
    """An Amazon Bedrock application inference profile copied from a cross-region profile or a model.

    Requests made through it are metered under its own ID (CloudWatch ``ModelId`` dimension) and billed
    with its tags, so every use case's cost and health can be told apart.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        profile_name: str,
        source: ModelSource,
        cost_tags: Mapping[str, str],
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        missing = [t for t in REQUIRED_COST_TAGS if not cost_tags.get(t)]
        problems = []
        if missing:
            problems.append(
                f"cost_tags is missing {missing}: every profile must carry {list(REQUIRED_COST_TAGS)}"
            )
        if not cdk.Token.is_unresolved(profile_name) and not (1 <= len(profile_name) <= 64):
            problems.append(f"profile_name {profile_name!r} must be 1 to 64 characters")
        if problems:
            raise ValueError(f"ApplicationInferenceProfile {self.node.path}: " + "; ".join(problems))

        stack = cdk.Stack.of(self)
        self.source = source
        if source.kind is ModelSourceKind.CROSS_REGION_PROFILE:
            self.source_arn = stack.format_arn(
                service="bedrock", resource="inference-profile", resource_name=source.identifier
            )
        else:
            self.source_arn = stack.format_arn(
                service="bedrock", account="", resource="foundation-model", resource_name=source.identifier
            )
        self.foundation_model_arns = foundation_model_arns(source, stack.partition)

        self.resource = bedrock.CfnApplicationInferenceProfile(
            self,
            "Resource",
            inference_profile_name=profile_name,
            description=description,
            model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(
                copy_from=self.source_arn
            ),
            tags=[cdk.CfnTag(key=k, value=v) for k, v in sorted(cost_tags.items())],
        )
        self.profile_arn = self.resource.attr_inference_profile_arn
        #: The short ID: what ``Ref`` returns and what CloudWatch uses as the ``ModelId`` dimension.
        self.profile_id = self.resource.attr_inference_profile_id
        self.cost_tags = dict(cost_tags)

    # ----------------------------------------------------------------- permissions

    def grant_invoke(self, grantee: iam.IGrantable, *, streaming: bool = True) -> iam.Grant:
        """Invoke (and, given ``streaming``, stream) through this profile only, never around it. Converse
        and InvokeModel need ``bedrock:InvokeModel``, ConverseStream and InvokeModelWithResponseStream
        ``bedrock:InvokeModelWithResponseStream``
        (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html): a grantee that never
        streams is granted the first alone.

        Three statements, following the Bedrock user guide's inference-profile prerequisites
        (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html):

        - the application profile itself, with no condition;
        - the system-defined cross-Region profile it copies (if any), only when the request's
          ``bedrock:InferenceProfileArn`` is this application profile, so nobody can call the
          cross-Region profile directly and bypass this profile's cost tags;
        - the foundation model in every Region the source can route to (and the Region-less ARN of a
          global profile), only when ``bedrock:InferenceProfileArn`` names this profile or the
          system-defined profile it copies: a direct model call carries no such key and is refused.

        Which of the two profile ARNs Bedrock puts into ``bedrock:InferenceProfileArn`` when it
        authorizes the models behind an application profile that copies a cross-Region profile, and
        whether it authorizes that cross-Region profile at all, is not documented and cannot be tested
        offline; naming both keeps every route working either way, and a direct call of the
        cross-Region profile is still refused by the second statement.
        """
        actions = list(INVOKE_ACTIONS) if streaming else [INVOKE_ACTIONS[0]]
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[self.profile_arn])
        through_this_profile = {"ArnEquals": {PROFILE_CONDITION_KEY: self.profile_arn}}
        profiles = [self.profile_arn]
        if self.source.kind is ModelSourceKind.CROSS_REGION_PROFILE:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=actions,
                    resource_arns=[self.source_arn],
                    conditions=through_this_profile,
                )
            )
            profiles.append(self.source_arn)
        return grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=actions,
                resource_arns=self.foundation_model_arns,
                conditions={
                    "ArnEquals": {PROFILE_CONDITION_KEY: profiles if len(profiles) > 1 else profiles[0]}
                },
            )
        )

    # ----------------------------------------------------------------- metrics

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Any ``AWS/Bedrock`` runtime metric of this profile: dimension ``ModelId`` = the profile ID
        (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html).
        Sum over 5 minutes unless ``options`` say otherwise."""
        return service_metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions={"ModelId": self.profile_id},
            statistic="Sum",
            options=options,
        )

    def metric_invocations(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("Invocations", **options)

    def metric_invocation_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """p95 unless ``statistic`` says otherwise."""
        return self.metric("InvocationLatency", **with_defaults(options, statistic="p95"))

    def metric_throttles(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("InvocationThrottles", **options)

    def metric_client_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("InvocationClientErrors", **options)

    def metric_server_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("InvocationServerErrors", **options)

    def metric_input_tokens(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("InputTokenCount", **options)

    def metric_output_tokens(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("OutputTokenCount", **options)

    def metric_time_to_first_token(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """p95 unless ``statistic`` says otherwise."""
        return self.metric("TimeToFirstToken", **with_defaults(options, statistic="p95"))

    def metric_estimated_tpm_quota_usage(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Maximum unless ``statistic`` says otherwise."""
        return self.metric("EstimatedTPMQuotaUsage", **with_defaults(options, statistic="Maximum"))
