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
from platform_spec.contract import JUDGE_ROUTE


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
        #: One profile per model route, which the orchestrator calls.
        self.profiles: dict[str, ApplicationInferenceProfile] = {
            route: self._route_profile(route, source) for route, source in contract.routes.items()
        }
        #: The profile of each ``model.retiring`` entry: the one the route's previous model had (same
        #: construct ID, name, source and tags, so CloudFormation keeps it as it is), which the previous
        #: orchestrator version still calls while a release bakes. Granted, never routed.
        self.retiring_profiles: dict[str, ApplicationInferenceProfile] = {
            route: self._route_profile(route, source) for route, source in contract.retiring.items()
        }
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

    def _route_profile(self, route: str, source: ModelSource) -> ApplicationInferenceProfile:
        description = _clip(f"{self.contract.id} {route} route via {source.identifier}", 200)
        return ApplicationInferenceProfile(
            self,
            profile_construct_id(route, source),
            profile_name=profile_name(self.environment, self.contract.id, route, description),
            source=source,
            cost_tags={**self.cost_tags, "route": route},
            description=description,
        )

    @property
    def primary(self) -> ApplicationInferenceProfile:
        return self.profiles["primary"]

    @property
    def fallback(self) -> ApplicationInferenceProfile:
        return self.profiles["fallback"]

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Invoke through every route's profile (and every retiring one: the previous orchestrator version
        shares the grantee's role and still calls them) and apply this use case's guardrail; nothing else
        (not the judge: :meth:`grant_judge`).

        One ``iam.Grant`` for all of it (``Grant.combine``), as every aws-cdk ``grant*`` returns."""
        profiles = [*self.profiles.values(), *self.retiring_profiles.values()]
        grants = [profile.grant_invoke(grantee) for profile in profiles]
        grants.append(self.guardrail.grant_apply(grantee))
        combined = grants[0]
        for grant in grants[1:]:
            combined = combined.combine(grant)
        return combined

    def grant_judge(self, grantee: iam.IGrantable, *, streaming: bool = True) -> iam.Grant | None:
        """Invoke through the judge's profile only (a scorer of outputs); ``None`` without a judge. Without
        ``streaming``, ``bedrock:InvokeModel`` alone (Converse, no ConverseStream)."""
        return self.judge.grant_invoke(grantee, streaming=streaming) if self.judge is not None else None


#: Part of every profile name's hash. 2: a route's profile is one construct per model
#: (:func:`profile_construct_id`); profiles deployed under scheme 1 (one construct per route) are created
#: again under new names, which CloudFormation can create before it deletes the old ones.
PROFILE_NAME_SCHEME = 2


def profile_construct_id(route: str, source: ModelSource) -> str:
    """``<Route>Profile<key of the model>``: a construct (so a logical ID) per route and model.

    Changing a route's model adds a profile and removes the old one rather than replacing it under one
    logical ID, so ``model.retiring`` can keep the old one for a release exactly as it was deployed: the
    same logical ID, name, source and tags (CloudFormation leaves it alone) and an exact grant to it.
    """
    key = hashlib.sha256(source.identifier.encode()).hexdigest()[:8].upper()
    return f"{route.capitalize()}Profile{key}"


def profile_name(environment: str, use_case_id: str, route: str, description: str) -> str:
    """``<environment>-<use case>-<route>-<hash>``, at most 64 characters.

    A new profile for a route (its model changed) gets a new name: the hash of what forces replacement
    (and of :data:`PROFILE_NAME_SCHEME`) keeps it from colliding with the profile it follows, which
    CloudFormation deletes only after creating the new one.
    """
    digest = hashlib.sha256(f"{PROFILE_NAME_SCHEME}:{description}".encode()).hexdigest()[:6]
    room = 64 - len(f"{environment}--{route}-{digest}")
    return f"{environment}-{use_case_id[:room]}-{route}-{digest}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
