"""Environment variables, parsed once at init into a frozen, typed ``Settings``.

The names are ``platform_spec.runtime.Env`` (the construct sets them from the same class):

* ``BEDROCK_RESOURCES`` (required): JSON :class:`~platform_spec.runtime.DeployedResources`, the ARNs of
  every use case's application inference profiles (by route), guardrail and published guardrail version.
* ``IDEMPOTENCY_TABLE`` (required): DynamoDB table of the Powertools idempotency layer (partition key ``id``).
* ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` (required): logger service and EMF namespace.
* ``AWS_REGION`` (required): set by Lambda.
* ``RUNTIME_CONFIG_PATH`` (optional): [``runtime_config.json`` beside this package].
* ``IDEMPOTENCY_TTL_S`` (optional): how long a stored answer is replayed [3600].
* ``REVIEW_TABLE`` and ``REVIEW_QUEUE_URL`` (optional, both or neither): the review path
  (``platform_spec.review``). Without them the function has no review path: outputs are not queued for
  scoring and no answer is held. The construct sets both, and refuses a use case that holds answers
  without them; a fork cannot set them itself (``function_props``).

Retry, time-budget and circuit-breaker values are constants (``platform_spec.api.ResilienceSettings``):
nothing deploys other values, so they are not settings. Every problem is reported at once, each naming
its variable (``SettingsError``). The Bedrock endpoint is not a setting either: botocore honours
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from platform_spec.api import IDEMPOTENCY_TTL_S, ResilienceSettings
from platform_spec.fields import SpecError
from platform_spec.review import ReviewEnv
from platform_spec.runtime import RUNTIME_CONFIG_FILE, DeployedResources, Env, read_resources

__all__ = ["ResilienceSettings", "Settings", "SettingsError", "load_settings"]

DEFAULT_RUNTIME_CONFIG_PATH: Final = Path(__file__).resolve().parent / RUNTIME_CONFIG_FILE
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid orchestrator environment: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Settings:
    region: str
    resources: DeployedResources
    idempotency_table: str
    service_name: str
    metrics_namespace: str
    runtime_config_path: Path = DEFAULT_RUNTIME_CONFIG_PATH
    idempotency_ttl_s: int = IDEMPOTENCY_TTL_S
    resilience: ResilienceSettings = field(default_factory=ResilienceSettings)
    review_table: str | None = None
    review_queue_url: str | None = None


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse the environment; raise ``SettingsError`` listing every problem."""
    problems: list[str] = []

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            problems.append(f"{name} is required")
        return value

    region = required(Env.REGION)
    if region and not _REGION.match(region):
        problems.append(f"{Env.REGION} {region!r} is not a region name")
    table = required(Env.IDEMPOTENCY_TABLE)
    service = required(Env.SERVICE_NAME)
    namespace = required(Env.METRICS_NAMESPACE)

    resources = DeployedResources(use_cases={})
    raw_resources = required(Env.RESOURCES)
    if raw_resources:
        try:
            resources = read_resources(raw_resources)
        except SpecError as error:
            problems.extend(error.problems)

    config_path = Path(env.get(Env.RUNTIME_CONFIG_PATH, "").strip() or DEFAULT_RUNTIME_CONFIG_PATH)

    ttl_s = IDEMPOTENCY_TTL_S
    raw_ttl = env.get(Env.IDEMPOTENCY_TTL_S, "").strip()
    if raw_ttl:
        if not raw_ttl.isdigit() or int(raw_ttl) < 1:
            problems.append(f"{Env.IDEMPOTENCY_TTL_S} must be a positive integer, got {raw_ttl!r}")
        else:
            ttl_s = int(raw_ttl)

    review_table = env.get(ReviewEnv.REVIEW_TABLE, "").strip() or None
    review_queue_url = env.get(ReviewEnv.REVIEW_QUEUE_URL, "").strip() or None
    if (review_table is None) != (review_queue_url is None):
        problems.append(
            f"{ReviewEnv.REVIEW_TABLE} and {ReviewEnv.REVIEW_QUEUE_URL} go together: set both (the review "
            "path) or neither"
        )

    if problems:
        raise SettingsError(problems)
    return Settings(
        region=region,
        resources=resources,
        idempotency_table=table,
        service_name=service,
        metrics_namespace=namespace,
        runtime_config_path=config_path,
        idempotency_ttl_s=ttl_s,
        review_table=review_table,
        review_queue_url=review_queue_url,
    )
