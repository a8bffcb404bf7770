"""Environment variables, parsed once at init into a frozen, typed ``Settings``.

Required:

* ``BEDROCK_RESOURCES``: JSON ``{"<use case>": {"primary": "<profile id>", "fallback": "<profile id>",
  "<other route>": "<profile id>", "guardrail": "<guardrail id>", "guardrail_version": "3"}}``. A
  profile or guardrail value may also be a full ARN, which is used as is.
* ``IDEMPOTENCY_TABLE``: DynamoDB table of the Powertools idempotency layer (partition key ``id``).
* ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``: logger service and EMF namespace.
* ``AWS_REGION``: set by Lambda.

Optional (defaults in brackets):

* ``AWS_ACCOUNT_ID``: account for the profile ARNs [the account of the invoked function's ARN].
* ``RUNTIME_CONFIG_PATH``: [``runtime_config.json`` beside this module].
* ``IDEMPOTENCY_TTL_S``: how long a stored answer is replayed [3600].
* Resilience, all integers in milliseconds unless named otherwise:
  ``BEDROCK_MAX_ATTEMPTS_PER_ROUTE`` [3], ``BEDROCK_BACKOFF_BASE_MS`` [200], ``BEDROCK_BACKOFF_MAX_MS``
  [2000], ``BEDROCK_CONNECT_TIMEOUT_MS`` [1000], ``BEDROCK_READ_TIMEOUT_MS`` [25000],
  ``BEDROCK_MIN_ATTEMPT_MS`` [250], ``TIME_BUDGET_SAFETY_MARGIN_MS`` [500], ``TIME_BUDGET_MAX_MS``
  [27000: API Gateway's integration timeout is 29 s], ``CIRCUIT_FAILURE_THRESHOLD`` [5],
  ``CIRCUIT_TIMEOUT_THRESHOLD`` [2: read timeouts that open the circuit on their own],
  ``CIRCUIT_WINDOW_MS`` [30000], ``CIRCUIT_COOLDOWN_MS`` [15000].

Every problem is reported at once, each naming its variable (``SettingsError``).
The Bedrock endpoint is not a setting: botocore honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

DEFAULT_RUNTIME_CONFIG_PATH: Final = Path(__file__).resolve().parent / "runtime_config.json"

#: Keys of a use case's BEDROCK_RESOURCES entry that are not route names.
GUARDRAIL_KEYS: Final = frozenset({"guardrail", "guardrail_version"})

_RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:[A-Za-z0-9/._:-]+$")
_GUARDRAIL_VERSION = re.compile(r"^([1-9][0-9]{0,7}|DRAFT)$")
_ROUTE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid orchestrator environment: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class UseCaseResources:
    """The deployed Bedrock resources of one use case."""

    profiles: Mapping[str, str]  # route name -> application inference profile id or ARN
    guardrail_id: str
    guardrail_version: str


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    """Retry, time budget and circuit-breaker tunables (seconds)."""

    max_attempts_per_route: int = 3
    backoff_base_s: float = 0.2
    backoff_max_s: float = 2.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 25.0
    min_attempt_s: float = 0.25
    safety_margin_s: float = 0.5
    max_budget_s: float = 27.0
    circuit_failure_threshold: int = 5
    circuit_timeout_threshold: int = 2
    circuit_window_s: float = 30.0
    circuit_cooldown_s: float = 15.0


@dataclass(frozen=True, slots=True)
class Settings:
    region: str
    account_id: str | None
    resources: Mapping[str, UseCaseResources]
    idempotency_table: str
    service_name: str
    metrics_namespace: str
    runtime_config_path: Path = DEFAULT_RUNTIME_CONFIG_PATH
    idempotency_ttl_s: int = 3600
    resilience: ResilienceSettings = field(default_factory=ResilienceSettings)


# (env var, ResilienceSettings field, is a duration in ms, minimum)
_RESILIENCE_VARS: Final = (
    ("BEDROCK_MAX_ATTEMPTS_PER_ROUTE", "max_attempts_per_route", False, 1),
    ("BEDROCK_BACKOFF_BASE_MS", "backoff_base_s", True, 0),
    ("BEDROCK_BACKOFF_MAX_MS", "backoff_max_s", True, 0),
    ("BEDROCK_CONNECT_TIMEOUT_MS", "connect_timeout_s", True, 1),
    ("BEDROCK_READ_TIMEOUT_MS", "read_timeout_s", True, 1),
    ("BEDROCK_MIN_ATTEMPT_MS", "min_attempt_s", True, 1),
    ("TIME_BUDGET_SAFETY_MARGIN_MS", "safety_margin_s", True, 0),
    ("TIME_BUDGET_MAX_MS", "max_budget_s", True, 1),
    ("CIRCUIT_FAILURE_THRESHOLD", "circuit_failure_threshold", False, 1),
    ("CIRCUIT_TIMEOUT_THRESHOLD", "circuit_timeout_threshold", False, 1),
    ("CIRCUIT_WINDOW_MS", "circuit_window_s", True, 1),
    ("CIRCUIT_COOLDOWN_MS", "circuit_cooldown_s", True, 0),
)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse the environment; raise ``SettingsError`` listing every problem."""
    problems: list[str] = []

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            problems.append(f"{name} is required")
        return value

    region = required("AWS_REGION")
    if region and not _REGION.match(region):
        problems.append(f"AWS_REGION {region!r} is not a region name")
    table = required("IDEMPOTENCY_TABLE")
    service = required("POWERTOOLS_SERVICE_NAME")
    namespace = required("POWERTOOLS_METRICS_NAMESPACE")

    account = env.get("AWS_ACCOUNT_ID", "").strip() or None
    if account is not None and not _ACCOUNT.match(account):
        problems.append("AWS_ACCOUNT_ID must be 12 digits")

    raw_resources = required("BEDROCK_RESOURCES")
    resources: dict[str, UseCaseResources] = {}
    if raw_resources:
        resources = _parse_resources(raw_resources, problems)

    config_path = Path(env.get("RUNTIME_CONFIG_PATH", "").strip() or DEFAULT_RUNTIME_CONFIG_PATH)

    ttl_s = 3600
    raw_ttl = env.get("IDEMPOTENCY_TTL_S", "").strip()
    if raw_ttl:
        if not raw_ttl.isdigit() or int(raw_ttl) < 1:
            problems.append(f"IDEMPOTENCY_TTL_S must be a positive integer, got {raw_ttl!r}")
        else:
            ttl_s = int(raw_ttl)

    tunables: dict[str, Any] = {}
    for var, attr, is_ms, minimum in _RESILIENCE_VARS:
        raw = env.get(var, "").strip()
        if not raw:
            continue
        try:
            number = int(raw)
        except ValueError:
            problems.append(f"{var} must be an integer, got {raw!r}")
            continue
        if number < minimum:
            problems.append(f"{var} must be >= {minimum}, got {number}")
            continue
        tunables[attr] = number / 1000 if is_ms else number
    resilience = ResilienceSettings(**tunables)
    if resilience.backoff_max_s < resilience.backoff_base_s:
        problems.append("BEDROCK_BACKOFF_MAX_MS must be >= BEDROCK_BACKOFF_BASE_MS")
    if resilience.min_attempt_s > resilience.read_timeout_s:
        problems.append("BEDROCK_MIN_ATTEMPT_MS must be <= BEDROCK_READ_TIMEOUT_MS")

    if problems:
        raise SettingsError(problems)
    return Settings(
        region=region,
        account_id=account,
        resources=MappingProxyType(resources),
        idempotency_table=table,
        service_name=service,
        metrics_namespace=namespace,
        runtime_config_path=config_path,
        idempotency_ttl_s=ttl_s,
        resilience=resilience,
    )


def _parse_resources(raw: str, problems: list[str]) -> dict[str, UseCaseResources]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        problems.append(f"BEDROCK_RESOURCES is not valid JSON: {exc}")
        return {}
    if not isinstance(document, dict) or not document:
        problems.append("BEDROCK_RESOURCES must be a non-empty JSON object keyed by use case")
        return {}
    resources: dict[str, UseCaseResources] = {}
    for use_case, entry in document.items():
        where = f"BEDROCK_RESOURCES[{use_case!r}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object")
            continue
        before = len(problems)
        guardrail = entry.get("guardrail")
        if not isinstance(guardrail, str) or not (_RESOURCE_ID.match(guardrail) or _ARN.match(guardrail)):
            problems.append(f"{where}.guardrail must be a guardrail id or ARN, got {guardrail!r}")
        version = entry.get("guardrail_version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        if not isinstance(version, str) or not _GUARDRAIL_VERSION.match(version):
            problems.append(f"{where}.guardrail_version must be a version number or DRAFT, got {version!r}")
        profiles: dict[str, str] = {}
        for route, profile in entry.items():
            if route in GUARDRAIL_KEYS:
                continue
            if not _ROUTE_NAME.match(route):
                problems.append(f"{where} has an invalid route name {route!r}")
            elif not isinstance(profile, str) or not (_RESOURCE_ID.match(profile) or _ARN.match(profile)):
                problems.append(f"{where}.{route} must be an inference profile id or ARN, got {profile!r}")
            else:
                profiles[route] = profile
        for route in ("primary", "fallback"):
            if route not in entry:
                problems.append(f"{where} has no {route!r} profile")
        if len(problems) == before:
            resources[use_case] = UseCaseResources(
                profiles=MappingProxyType(profiles),
                guardrail_id=str(guardrail),
                guardrail_version=str(version),
            )
    return resources


def profile_arn(profile: str, *, partition: str, region: str, account: str) -> str:
    """The ARN of an application inference profile (a value that is already an ARN is returned as is)."""
    if profile.startswith("arn:"):
        return profile
    return f"arn:{partition}:bedrock:{region}:{account}:application-inference-profile/{profile}"


def partition_for_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
