"""What this pack cannot prove: the checks to make in the account after this environment's first deploy.

The pack reads a synthesized assembly, offline: it shows what the templates ask AWS to do, not what AWS
does with it. Where the platform relies on a service behaving in a way the AWS documentation does not
state in so many words, or that only a real account shows, the platform's code cites the page it relied
on and this section names the check that settles it, for the parts this environment deploys. The same
checks are in the README ("Check after the first deploy").
"""

from __future__ import annotations

from dataclasses import dataclass

from compliance.report.document import Paragraph, Section, Table, cell
from compliance.report.environment import Environment
from compliance.report.topic import RenderContext, Topic
from platform_spec.review import ReviewEnv
from platform_spec.runtime import Env


@dataclass(frozen=True)
class DeployCheck:
    what: str  # the behaviour the platform relies on
    how: str  # the command or observation that settles it
    why: str  # why it cannot be proven from the assembly


@dataclass(frozen=True)
class DeployCheckFacts:
    environment: str
    checks: tuple[DeployCheck, ...]


def _anonymizes(env: Environment) -> bool:
    """A guardrail of this environment masks some sensitive information (PII entity or regex ANONYMIZE)."""
    for guardrail in env.of_type("AWS::Bedrock::Guardrail"):
        policy = guardrail.properties.get("SensitiveInformationPolicyConfig") or {}
        entries = [*(policy.get("PiiEntitiesConfig") or []), *(policy.get("RegexesConfig") or [])]
        if any(isinstance(e, dict) and e.get("Action") == "ANONYMIZE" for e in entries):
            return True
    return False


def _grounds(env: Environment) -> bool:
    """A guardrail of this environment has a contextual grounding check (a use case answers from a
    caller's ``context``, sent to Converse as the grounding source)."""
    return any(
        g.properties.get("ContextualGroundingPolicyConfig") for g in env.of_type("AWS::Bedrock::Guardrail")
    )


def _matches_words_or_patterns(env: Environment) -> bool:
    """A guardrail of this environment has a word filter (custom words or a managed list) or blocks a
    sensitive-information entity or regex: the policies whose exact match look-alike letters evade."""
    for guardrail in env.of_type("AWS::Bedrock::Guardrail"):
        words = guardrail.properties.get("WordPolicyConfig") or {}
        if words.get("WordsConfig") or words.get("ManagedWordListsConfig"):
            return True
        policy = guardrail.properties.get("SensitiveInformationPolicyConfig") or {}
        entries = [*(policy.get("PiiEntitiesConfig") or []), *(policy.get("RegexesConfig") or [])]
        if any(isinstance(e, dict) and e.get("Action") == "BLOCK" for e in entries):
            return True
    return False


def _traces_bedrock_calls(env: Environment) -> bool:
    """The orchestrator function (it has the Bedrock resources' variable) runs with active X-Ray tracing."""
    for function in env.of_type("AWS::Lambda::Function"):
        tracing = function.properties.get("TracingConfig") or {}
        variables = (function.properties.get("Environment") or {}).get("Variables") or {}
        if tracing.get("Mode") == "Active" and Env.RESOURCES in variables:
            return True
    return False


def _judges_live_outputs(env: Environment) -> bool:
    """A function of this environment grades outputs through a judge profile (the scoring function's
    ``JUDGE_PROFILES`` names one for a model-graded use case)."""
    for function in env.of_type("AWS::Lambda::Function"):
        variables = (function.properties.get("Environment") or {}).get("Variables") or {}
        if variables.get(ReviewEnv.JUDGE_PROFILES) not in (None, "", "{}"):
            return True
    return False


def deploy_checks(env: Environment) -> tuple[DeployCheck, ...]:
    """The checks that apply to what ``env`` deploys, in the order to make them."""
    types = {r.type for r in env.resources}
    checks = []
    if types & {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}:
        checks.append(
            DeployCheck(
                "An alarm reaches a person: CloudWatch (and AWS Budgets) publish to the KMS-encrypted topic",
                "aws cloudwatch set-alarm-state --alarm-name <one alarm> --state-value ALARM --state-reason "
                "test; the notification arrives (the staging readiness gate does this for every alarm)",
                "the key policy lets the services use the key only with this account's aws:SourceAccount and "
                "aws:SourceArn; that they send them on the KMS call they make through SNS is not documented",
            )
        )
    if "AWS::Bedrock::ApplicationInferenceProfile" in types:
        checks.append(
            DeployCheck(
                "Every route answers through its application inference profile, and a direct call of a model "
                "or of the cross-Region profile it copies is refused",
                "one request per use case and route; one direct InvokeModel of a model ID as the orchestrator's "
                "role (AccessDenied expected)",
                "which profile ARN Bedrock puts in bedrock:InferenceProfileArn for a cross-Region destination is "
                "not documented",
            )
        )
    if "AWS::Bedrock::EnforcedGuardrailConfiguration" in types:
        checks.append(
            DeployCheck(
                "The account's enforced guardrail is the baseline's published version, and roles that call "
                "models keep working under it",
                "aws bedrock list-enforced-guardrails-configuration; one model call from a role without "
                "bedrock:ApplyGuardrail on the baseline",
                "whether Bedrock refuses a model call from a principal without that permission is not "
                "documented",
            )
        )
    if _anonymizes(env):
        checks.append(
            DeployCheck(
                "An answer the guardrail only masked is returned masked (guardrail.action MASKED), not "
                "replaced by the blocked message",
                "a request whose answer names a person, to a use case that anonymizes names",
                "that Converse reports a mask as stopReason guardrail_intervened with ANONYMIZED findings "
                "follows from three AWS pages together, none of which says it in one sentence",
            )
        )
    if _grounds(env):
        checks.append(
            DeployCheck(
                "Instructions hidden in a grounded use case's context (the caller's grounding source) do not "
                "steer the answer",
                "the adversarial cases of category context_injection (instructions inside the context; every "
                "grounded use case's suite has one, the loader requires it) pass against this environment: the "
                "staging readiness gate runs them (python -m evaluation run --target <environment>)",
                "the orchestrator sends context as a guardContent block qualified grounding_source; whether "
                "Bedrock's input filters (prompt attack) evaluate a block so qualified is not documented, and "
                "the offline emulator assumes they do not; the system prompt tells the model it is data",
            )
        )
        checks.append(
            DeployCheck(
                "A grounded request at the API's largest context (200,000 characters) with a long question is "
                "answered, not refused",
                "one such request to the grounded use case through the API: 200 (a 502 UPSTREAM_REJECTED means "
                "Bedrock refused it: lower the use case's context bound to what the check accepts)",
                "the contextual grounding check may bound its grounding source and query; neither the limits "
                "nor Bedrock's answer beyond them (a ValidationException, a 502 any caller could cause) is "
                "confirmed offline",
            )
        )
    if _matches_words_or_patterns(env):
        checks.append(
            DeployCheck(
                "A blocked word written in look-alike letters (full-width, mathematical, a Cyrillic letter in a "
                "Latin word) is blocked, as the plain word is",
                "each such use case's adversarial cases that write a blocked word or pattern in look-alike "
                "letters and expect a refusal (every such use case's suite has one, the loader requires it) "
                "pass against this environment through the API: the staging readiness gate runs them",
                "the orchestrator has the guardrail check a folded copy of such text (platform_spec.lookalikes); "
                "that Bedrock's word filter matches the copy as it matches the plain word (case, hyphens) is not "
                "documented beyond 'exact match', and the offline emulator's filter is case-insensitive",
            )
        )
    if _traces_bedrock_calls(env):
        checks.append(
            DeployCheck(
                "A request's X-Ray trace shows its Bedrock calls, each bounded on the clock on a thread of its "
                "own (platform_spec.clients.call_within)",
                "one request through the API with tracing sampled; its trace in X-Ray has a bedrock-runtime "
                "Converse subsegment under the orchestrator function's segment",
                "how the X-Ray SDK draws a call made on another thread in Lambda was read from its source "
                "(a per-thread context built from _X_AMZN_TRACE_ID), not run",
            )
        )
    if env.bakes_releases:
        checks.append(
            DeployCheck(
                "The canary bake judges the new version by its own errors, and a stopped bake clears the alias",
                "during the first bake, the orchestrator's Errors and Invocations exist with the dimensions "
                "FunctionName, Resource (<function>:live) and ExecutedVersion, and after a 5xx its ServerErrors, "
                "UpstreamRejected or UpstreamUnavailable with FunctionVersion equal to the version number; stop a test "
                "execution and see the live alias lose its routing config",
                "the metric dimensions, Lambda's AWS_LAMBDA_FUNCTION_VERSION under an alias, CloudWatch's EMF "
                "extraction and EventBridge's Step Functions status events come from a real account",
            )
        )
    if _judges_live_outputs(env):
        checks.append(
            DeployCheck(
                "The judge model returns the call's nonce with its grades",
                "the first deployed evaluation's rubric cases (python -m evaluation run --target <env>, the readiness "
                'gate) are graded, not rejected as "does not carry this call\'s nonce"; a scored output in the '
                "review table has rubric grades",
                "the nonce binds a judge's grades to its call (a judge repeating grades an answer wrote for itself "
                "is not believed); whether the real judge model echoes it is the model's behaviour, offline the "
                "judge is emulated",
            )
        )
    if any(r.type == "AWS::IAM::Role" and "ReviewerRole" in r.logical_id for r in env.resources):
        checks.append(
            DeployCheck(
                "The reviewer role can be assumed only with a source identity",
                "aws sts assume-role --role-arn <reviewer role> --role-session-name x (refused); the same with "
                "--source-identity <name> (allowed)",
                "the trust policy's sts:SourceIdentity condition is evaluated by IAM, not by anything offline",
            )
        )
    return tuple(checks)


class DeployChecksTopic(Topic[DeployCheckFacts]):
    id = "deploy-checks"
    title = "After the first deploy: what this pack cannot prove"

    def extract(self, env: Environment) -> DeployCheckFacts:
        return DeployCheckFacts(env.name, deploy_checks(env))

    def render(self, facts: DeployCheckFacts, ctx: RenderContext) -> Section:
        section = Section(self.id, self.title)
        section.add(
            Paragraph(
                "This pack reads the synthesized templates offline. What follows depends on AWS behaving as the "
                "platform's code expects in a way no template can show: check each in the account after the "
                f"first deploy of {facts.environment}, and again when the platform's release notes say so."
            )
        )
        table = Table("deploy-checks", ["Relies on", "Check", "Why the pack cannot show it"])
        for check in facts.checks:
            table.add([cell(check.what), cell(check.how), cell(check.why)], label=check.what)
        section.add(table)
        return section

    def counts(self, facts: DeployCheckFacts) -> list[tuple[str, str]]:
        return [("After the first deploy", f"{len(facts.checks)} checks this pack cannot prove")]


TOPIC = DeployChecksTopic()
