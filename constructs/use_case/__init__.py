"""Everything one production contract needs in Bedrock: its guardrail and its inference profiles."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from bedrock_constructs.guardrail import Guardrail
from bedrock_constructs.inference_profile import ApplicationInferenceProfile
from bedrock_constructs.prompt_record import PromptRecord
from constructs import Construct
from platform_config.model import Contract, ModelSource

#: The ``route`` cost tag of the judge's profile (it is not one of ``contract.routes``).
JUDGE_ROUTE = "judge"


def cost_tags(contract: Contract, environment: str) -> dict[str, str]:
    """The cost allocation tags of a use case in an environment."""
    return {
        "cost-center": contract.cost_center,
        "team": contract.owner_team,
        "application": contract.application,
        "environment": environment,
        "use-case": contract.id,
    }


class GovernedUseCase(Construct):
    """A use case's guardrail (with a published version) and one application inference profile per
    model route (primary, each routing tier, fallback), all tagged for cost allocation.

    Both routes get their own profile so that fallback traffic is billed and metered to the use case
    too. Physical names are ``<environment>-<use case>`` (guardrail) and
    ``<environment>-<use case>-<route>-<hash>`` (profiles; see :func:`profile_name`): Bedrock requires
    names, and the environment keeps two environments that share an account from colliding.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        contract: Contract,
        environment: str,
        guardrail_key: kms.IKey | None = None,
        extra_tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.contract = contract
        self.environment = environment
        self.cost_tags = {**(extra_tags or {}), **cost_tags(contract, environment)}
        self.guardrail = Guardrail(
            self,
            "Guardrail",
            guardrail_name=f"{environment}-{contract.id}",
            policy=contract.guardrail,
            kms_key=guardrail_key,
            description=_clip(f"Guardrail for {contract.id}: {contract.purpose}", 200),
            tags=self.cost_tags,
        )
        #: The system prompt's record in Bedrock Prompt Management (one version per prompt version).
        self.prompt_record: PromptRecord | None = None
        if contract.prompt is not None:
            self.prompt_record = PromptRecord(
                self,
                "Prompt",
                prompt_name=f"{environment}-{contract.id}",
                system=contract.prompt.system,
                version=contract.prompt.version,
                source_file=contract.prompt.source_file,
                description=_clip(f"System prompt of {contract.id} ({contract.prompt.source_file})", 200),
                tags=self.cost_tags,
            )
        sources: dict[str, ModelSource] = contract.routes
        self.profiles: dict[str, ApplicationInferenceProfile] = {}
        for route in sources:
            description = _clip(f"{contract.id} {route} route via {sources[route].identifier}", 200)
            self.profiles[route] = ApplicationInferenceProfile(
                self,
                f"{route.capitalize()}Profile",
                profile_name=profile_name(environment, contract.id, route, description),
                source=sources[route],
                cost_tags={**self.cost_tags, "route": route},
                description=description,
            )
        #: The model-graded rubric's judge (``evaluation.judge_model``): its own profile, so judge calls are
        #: metered and billed to the use case apart from its traffic (route=judge). It is not a route:
        #: ``grant_invoke`` does not cover it and the orchestrator never calls it; ``grant_judge`` does.
        self.judge: ApplicationInferenceProfile | None = None
        if contract.judge is not None:
            description = _clip(
                f"{contract.id} judge for model-graded evaluation via {contract.judge.identifier}", 200
            )
            self.judge = ApplicationInferenceProfile(
                self,
                "JudgeProfile",
                profile_name=profile_name(environment, contract.id, JUDGE_ROUTE, description),
                source=contract.judge,
                cost_tags={**self.cost_tags, "route": JUDGE_ROUTE},
                description=description,
            )

    @property
    def primary(self) -> ApplicationInferenceProfile:
        return self.profiles["primary"]

    @property
    def fallback(self) -> ApplicationInferenceProfile:
        return self.profiles["fallback"]

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Invoke through every route's profile and apply this use case's guardrail; nothing else (not
        the judge: :meth:`grant_judge`).

        One ``iam.Grant`` for all of it (``Grant.combine``), as every aws-cdk ``grant*`` returns."""
        grants = [profile.grant_invoke(grantee) for profile in self.profiles.values()]
        grants.append(self.guardrail.grant_apply(grantee))
        combined = grants[0]
        for grant in grants[1:]:
            combined = combined.combine(grant)
        return combined

    def grant_judge(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Invoke through the judge's profile only (a scorer of outputs); ``None`` without a judge."""
        return self.judge.grant_invoke(grantee) if self.judge is not None else None


def profile_name(environment: str, use_case_id: str, route: str, description: str) -> str:
    """``<environment>-<use case>-<route>-<hash>``, at most 64 characters.

    Changing a profile's model source or description replaces it, and CloudFormation creates the new
    profile before deleting the old one: the hash of what forces replacement gives the new profile a
    name that does not collide with the one it replaces.
    """
    digest = hashlib.sha256(description.encode()).hexdigest()[:6]
    room = 64 - len(f"{environment}--{route}-{digest}")
    return f"{environment}-{use_case_id[:room]}-{route}-{digest}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
