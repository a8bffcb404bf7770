"""Constructs as a fork's app starts with them, for a test's own probe stack: the required props and
nothing else unless the test says so."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from bedrock_constructs.orchestration_api import OrchestrationApi
from bedrock_constructs.use_case import GovernedUseCase
from bedrock_platform_lambdas import ORCHESTRATOR_CODE_DIRECTORY


def probe_api(
    stack: cdk.Stack, use_case: GovernedUseCase, *, id: str = "Api", **props: Any
) -> OrchestrationApi:
    """An ``OrchestrationApi`` (construct ``id``) over ``use_case`` in dev, with ``props`` added."""
    return OrchestrationApi(
        stack,
        id,
        use_cases=[use_case],
        environment="dev",
        code_directory=ORCHESTRATOR_CODE_DIRECTORY,
        log_retention=logs.RetentionDays.ONE_MONTH,
        reserved_concurrency=1,
        **props,
    )
