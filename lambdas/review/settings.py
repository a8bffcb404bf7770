"""Environment variables of the review functions, parsed once at init into a frozen ``ReviewSettings``.

Every function needs ``AWS_REGION``, ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` and
``REVIEW_TABLE``; ``RUNTIME_CONFIG_PATH`` is optional [``runtime_config.json`` beside this package]. Each
handler names what else it needs (``needs=``): the reviewer API ``AUDIT_TABLE`` and
``REVIEWER_ROLE_ARN`` and ``USE_CASE_GUARDRAILS`` (and optionally ``INVOCATION_LOGS``), the scoring function optionally
``JUDGE_PROFILES``. Every problem is reported at once (``SettingsError``), naming its variable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from platform_spec.fields import SpecError, from_dict
from platform_spec.review import GuardrailRef, InvocationLogLocation, ReviewEnv, read_guardrail_refs
from platform_spec.runtime import RUNTIME_CONFIG_FILE, Env

DEFAULT_RUNTIME_CONFIG_PATH: Final = Path(__file__).resolve().parent / RUNTIME_CONFIG_FILE


class SettingsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid review function environment: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    region: str
    service_name: str
    metrics_namespace: str
    review_table: str
    runtime_config_path: Path = DEFAULT_RUNTIME_CONFIG_PATH
    audit_table: str | None = None
    reviewer_role_arn: str | None = None
    invocation_logs: InvocationLogLocation | None = None
    judge_profiles: Mapping[str, str] = field(default_factory=dict)
    #: use case id -> the guardrail a reviewer's correction goes through (reviewer API)
    guardrails: Mapping[str, GuardrailRef] = field(default_factory=dict)


def load_settings(env: Mapping[str, str], *, needs: Sequence[str] = ()) -> ReviewSettings:
    problems: list[str] = []

    def value(name: str, required: bool) -> str | None:
        text = env.get(name, "").strip()
        if required and not text:
            problems.append(f"{name} is required")
        return text or None

    region = value(Env.REGION, True)
    service = value(Env.SERVICE_NAME, True)
    namespace = value(Env.METRICS_NAMESPACE, True)
    table = value(ReviewEnv.REVIEW_TABLE, True)
    audit = value(ReviewEnv.AUDIT_TABLE, ReviewEnv.AUDIT_TABLE in needs)
    role = value(ReviewEnv.REVIEWER_ROLE_ARN, ReviewEnv.REVIEWER_ROLE_ARN in needs)
    logs: InvocationLogLocation | None = None
    raw_logs = value(ReviewEnv.INVOCATION_LOGS, False)
    if raw_logs:
        try:
            logs = from_dict(InvocationLogLocation, json.loads(raw_logs), where=ReviewEnv.INVOCATION_LOGS)
        except (ValueError, SpecError) as error:
            problems.append(f"{ReviewEnv.INVOCATION_LOGS} is not an invocation log location: {error}")
    judges: dict[str, str] = {}
    raw_judges = value(ReviewEnv.JUDGE_PROFILES, False)
    if raw_judges:
        try:
            parsed = json.loads(raw_judges)
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise ValueError("expected an object of use case id to profile ARN")
            judges = {str(k): v for k, v in parsed.items()}
        except ValueError as error:
            problems.append(f"{ReviewEnv.JUDGE_PROFILES} is not valid: {error}")
    guardrails: dict[str, GuardrailRef] = {}
    raw_guardrails = value(ReviewEnv.GUARDRAILS, ReviewEnv.GUARDRAILS in needs)
    if raw_guardrails:
        try:
            guardrails = read_guardrail_refs(raw_guardrails)
        except SpecError as error:
            problems += error.problems
    path = Path(env.get(Env.RUNTIME_CONFIG_PATH, "").strip() or DEFAULT_RUNTIME_CONFIG_PATH)
    if problems:
        raise SettingsError(problems)
    assert region and service and namespace and table  # reported above when missing
    return ReviewSettings(
        region=region,
        service_name=service,
        metrics_namespace=namespace,
        review_table=table,
        runtime_config_path=path,
        audit_table=audit,
        reviewer_role_arn=role,
        invocation_logs=logs,
        judge_profiles=judges,
        guardrails=guardrails,
    )
