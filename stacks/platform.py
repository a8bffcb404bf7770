"""Compose the whole platform: one Stage per environment, every stack in it."""

from __future__ import annotations

import aws_cdk as cdk

from bedrock_constructs.nag import add_nag_packs
from compliance.gate import add_gate
from platform_config.delivery import DeliveryConfig
from platform_config.model import EnvironmentConfig, PlatformConfig
from platform_config.naming import PLATFORM_STACK_ID, pascal
from stacks.delivery_stack import DeliveryStack
from stacks.platform_stack import PlatformStack

#: The delivery account's Stage: ``npx cdk deploy 'Delivery/*'`` deploys the pipeline.
DELIVERY_STAGE = "Delivery"


class EnvironmentStage(cdk.Stage):
    """Everything one environment deploys, in its own account and region.

    Deploy one environment alone with ``npx cdk deploy '<Stage>/*'`` (e.g. ``'Prod/*'``).
    """

    def __init__(self, scope: cdk.App, environment: EnvironmentConfig, config: PlatformConfig) -> None:
        super().__init__(
            scope,
            pascal(environment.name),
            env=cdk.Environment(account=environment.account, region=environment.region),
        )
        for key, value in sorted(environment.tags.items()):
            cdk.Tags.of(self).add(key, value)
        self.platform = PlatformStack(
            self,
            PLATFORM_STACK_ID,
            environment=environment,
            contracts=config.contracts_for(environment.name),
            delivery=config.delivery,
            description=f"bedrock-platform governed Bedrock platform ({environment.name})",
            termination_protection=environment.production,
        )


class DeliveryStage(cdk.Stage):
    """The delivery pipeline in the delivery account and region (``delivery/pipeline.yaml``)."""

    def __init__(self, scope: cdk.App, delivery: DeliveryConfig) -> None:
        super().__init__(
            scope, DELIVERY_STAGE, env=cdk.Environment(account=delivery.account, region=delivery.region)
        )
        self.pipeline = DeliveryStack(
            self,
            "Pipeline",
            delivery=delivery,
            description="bedrock-platform delivery pipeline: governance, readiness and canary gates",
            termination_protection=True,
        )


def build_platform(
    app: cdk.App, config: PlatformConfig, *, compliance_checks: bool = True
) -> dict[str, EnvironmentStage]:
    """Add every environment to ``app`` (and the delivery pipeline's Stage ``Delivery`` where the repository
    has ``delivery/pipeline.yaml``) and, unless disabled, the whole compliance gate: every cdk-nag
    pack and this project's own rules with cfn-lint (``compliance.gate``), all CDK policy-validation
    plugins, so that every synth (and so every deploy) applies them."""
    stages = {env.name: EnvironmentStage(app, env, config) for env in config.environments}
    if config.delivery is not None:
        DeliveryStage(app, config.delivery)
    if compliance_checks:
        add_nag_packs(app)
        add_gate(app)
    return stages
