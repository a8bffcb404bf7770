"""A regional WAF web ACL for an API stage: AWS managed rule groups and a rate limit per source IP,
associated with the stage and logging to an encrypted log group."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2

from bedrock_constructs.keys import key_for_logs
from constructs import Construct

#: WAF delivers to a CloudWatch Logs log group only if its name starts with this
#: (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
#: Rules of AWSManagedRulesCommonRuleSet that only count: prompts and grounding context are legitimately
#: larger than the rule group's 8 KB body limit; the API's own 256 KB limit and validation apply instead.
COMMON_RULES_COUNTED = ("SizeRestrictions_BODY",)


class ApiFirewall(Construct):
    """A ``REGIONAL`` web ACL (default allow) on ``resource_arn`` (an API Gateway stage):

    - ``RateLimitPerIp`` (priority 0): block a source IP above ``requests_per_five_minutes``;
    - ``AWSManagedRulesAmazonIpReputationList`` (1), ``AWSManagedRulesCommonRuleSet`` (2, with
      ``counted_common_rules`` only counting) and ``AWSManagedRulesKnownBadInputsRuleSet`` (3);

    with CloudWatch metrics and sampled requests for the ACL and each rule, and WAF logs to a
    KMS-encrypted log group named ``aws-waf-logs-<name>-<last part of the stack ID>``: the stack ID part is
    new for every creation of the stack, so a retained group of a deleted stack never blocks creating it
    again (a fixed name would).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        resource_arn: str,
        name: str,
        metric_name: str | None = None,
        requests_per_five_minutes: int = 2000,
        counted_common_rules: Sequence[str] = COMMON_RULES_COUNTED,
        encryption_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        # A rate-based rule's limit is at least 10 requests per window (lowered from 100 in 2024:
        # https://aws.amazon.com/about-aws/whats-new/2024/08/aws-waf-rate-based-rules-lower-rate-limits/).
        if not cdk.Token.is_unresolved(requests_per_five_minutes) and requests_per_five_minutes < 10:
            raise ValueError(
                f"ApiFirewall {self.node.path}: requests_per_five_minutes must be at least 10 (WAF's minimum "
                f"for a rate-based rule), got {requests_per_five_minutes}"
            )
        self.encryption_key = key_for_logs(
            self, encryption_key, description="Encrypts the WAF logs of an API", removal_policy=removal_policy
        )

        def managed(
            rule_name: str, priority: int, counted: Sequence[str] = ()
        ) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=rule_name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=rule_name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in counted
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(rule_name),
            )

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric_name or name),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=requests_per_five_minutes, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_visibility("RateLimitPerIp"),
                ),
                managed("AWSManagedRulesAmazonIpReputationList", 1),
                managed("AWSManagedRulesCommonRuleSet", 2, counted=counted_common_rules),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            web_acl_arn=self.web_acl.attr_arn,
            resource_arn=resource_arn,
        )
        stack_id_suffix = cdk.Fn.select(
            4, cdk.Fn.split("-", cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID)))
        )
        self.log_group = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"{WAF_LOG_GROUP_PREFIX}{name}-{stack_id_suffix}",
            encryption_key=self.encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.logging_configuration = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            # The log group's ARN without the ":*" suffix, as WAF requires.
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
