"""Compose the whole platform: one Stage per environment, every stack in it."""

from __future__ import annotations

import aws_cdk as cdk

from bedrock_constructs.nag import add_nag_packs
from compliance.gate import add_gate
from platform_config.model import EnvironmentConfig, PlatformConfig
from platform_config.naming import pascal
from stacks.platform_stack import PlatformStack


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
            "Platform",
            environment=environment,
            contracts=config.contracts_for(environment.name),
            description=f"bedrock-platform governed Bedrock platform ({environment.name})",
            termination_protection=environment.production,
        )


def build_platform(
    app: cdk.App, config: PlatformConfig, *, compliance_checks: bool = True
) -> dict[str, EnvironmentStage]:
    """Add every environment to ``app`` and, unless disabled, the whole compliance gate: every cdk-nag
    pack and this project's own rules with cfn-lint (``compliance.gate``), all CDK policy-validation
    plugins, so that every synth (and so every deploy) applies them."""
    stages = {env.name: EnvironmentStage(app, env, config) for env in config.environments}
    if compliance_checks:
        add_nag_packs(app)
        add_gate(app)
    return stages
