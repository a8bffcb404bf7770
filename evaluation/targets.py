"""Where a suite runs: offline (the real orchestrator in-process, against the local Bedrock endpoint and
the emulator) or against a deployed environment (the orchestration API with SigV4, ApplyGuardrail on the
deployed guardrail version, the judge through its deployed profile).

Both targets answer the same two questions for a case: what the API answers (:meth:`Target.ask`), and
whether the guardrail alone intervenes on the input (:meth:`Target.check_input`). The harness scores
both the same way whichever target answered.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal, Protocol, Self

from platform_config.evaluation import UseCaseEvaluation
from platform_config.model import Contract, PlatformConfig
from platform_config.naming import pascal
from platform_spec.delivery import Output
from platform_spec.evaluation import EvalCase, Provenance
from platform_spec.guardrail import INTERVENED, fired_policies, policy_fingerprint, render_policy
from platform_spec.review import without_holds
from platform_spec.runtime import Env

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HANDLER_MODULE = "lambdas.orchestrator.handler"
OFFLINE_ACCOUNT = "123456789012"
OFFLINE_REGION = "us-east-1"


@dataclass(frozen=True)
class ApiAnswer:
    """The orchestration API's answer to one request."""

    status: int
    text: str
    error_code: str | None = None
    guardrail_action: str | None = None
    prompt_version: str | None = None
    route: str | None = None
    #: The review id of an answer held for review (202).
    review_id: str | None = None
    #: A held answer (202) whose text was read as a reviewer (:meth:`DeployedTarget.ask`): it is scored
    #: like an answer, though no caller ever receives it.
    held: bool = False

    @property
    def intervened(self) -> bool:
        return self.guardrail_action == "INTERVENED"


@dataclass(frozen=True)
class GuardrailCheck:
    """ApplyGuardrail's verdict on a case's input: intervened, and which policies fired."""

    #: None when the guardrail did not evaluate the input (ApplyGuardrail refused the request).
    intervened: bool | None
    detail: str
    #: What fired, one ``<policy>:<name>`` each (``topic:Legal advice``, ``pii:EMAIL``, ``content:HATE``).
    fired: tuple[str, ...] = ()


def parse_api_answer(status: int, raw: bytes | str) -> ApiAnswer:
    """An API answer from its HTTP status and JSON body (success or ``{"error": {...}}``)."""
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if status == 200:
        output = body.get("output") or {}
        return ApiAnswer(
            status=status,
            text=str(output.get("text") or ""),
            guardrail_action=(body.get("guardrail") or {}).get("action"),
            prompt_version=body.get("promptVersion"),
            route=body.get("route"),
        )
    if status == 202:
        # A use case that holds answers for review (review.hold_for_review): the answer is released only
        # after a reviewer approves it, so a deployed run cannot score it (README "Human review").
        return ApiAnswer(
            status=status,
            text=f"held for review {body.get('reviewId')}: not released before a reviewer decides",
            error_code="HELD_FOR_REVIEW",
            prompt_version=body.get("promptVersion"),
            review_id=body.get("reviewId"),
        )
    error = body.get("error") or {}
    return ApiAnswer(status=status, text=str(error.get("message") or ""), error_code=error.get("code"))


def describe_assessments(response: Mapping[str, Any]) -> GuardrailCheck:
    """ApplyGuardrail's response as a verdict naming what fired (topics, PII types, regexes, words,
    content filters, grounding: ``platform_spec.guardrail.fired_policies``)."""
    fired = fired_policies(response.get("assessments"))
    intervened = response.get("action") == INTERVENED
    return GuardrailCheck(
        intervened=intervened,
        detail=", ".join(fired) or ("" if not intervened else "intervened"),
        fired=fired,
    )


def invoke_body(case: EvalCase) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": case.text}]}
    if case.context is not None:
        body["context"] = case.context
    return body


def guardrail_content(case: EvalCase, *, grounded: bool) -> list[dict[str, Any]]:
    """ApplyGuardrail content for a case's input: what the guardrail screens as input when a caller sends it,
    as the caller sent it. That is the message, and the context only where the use case does not ground
    answers in it (``grounded``: ``GuardrailPolicy.grounded``): the orchestrator sends a grounded request's
    context as Converse's ``grounding_source``, which is checked for grounding only, never screened as input
    (``lambdas/orchestrator/bedrock.py``, ``converse_arguments`` and ``build_input_check``). Screening it here
    would credit the guardrail with stopping an attack that only the context carries (an indirect
    injection in a policy excerpt), which in production reaches the model: such a case is measured by the
    API's answer (``must_not_contain``, ``refusal``), not by this check."""
    texts = [case.text, *([case.context] if case.context is not None and not grounded else [])]
    return [{"text": {"text": text}} for text in texts]


def apply_guardrail(
    client: Any, identifier: str, version: str, case: EvalCase, *, grounded: bool
) -> GuardrailCheck:
    """ApplyGuardrail (``source: INPUT``) on a case's input (:func:`guardrail_content`); a refused request
    (e.g. over the service's size limit) is a verdict of its own, not an error of the run."""
    from botocore.exceptions import ClientError

    try:
        response = client.apply_guardrail(
            guardrailIdentifier=identifier,
            guardrailVersion=version,
            source="INPUT",
            content=guardrail_content(case, grounded=grounded),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        return GuardrailCheck(intervened=None, detail=f"ApplyGuardrail refused the request: {code}")
    return describe_assessments(response)


class Target(Protocol):
    name: str
    mode: Literal["offline", "deployed"]
    #: Whether ``ask``/``check_input`` may run on several threads at once.
    concurrent: bool

    def ask(self, use_case: str, case: EvalCase) -> ApiAnswer: ...

    def check_input(self, use_case: str, case: EvalCase) -> GuardrailCheck: ...

    def judge(self, use_case: str) -> tuple[str, dict[str, Any]] | None:
        """inspect-ai's model name for the use case's judge (``bedrock/<profile ARN>``) and its model
        arguments, or None without a judge."""
        ...

    def provenance(self, use_case: str) -> Provenance: ...


def _contract_for(config: PlatformConfig, use_case: str, environment: str | None = None) -> Contract:
    """The contract resolved for ``environment``, or for the first environment it is enabled in."""
    for env in config.environments:
        if environment is not None and env.name != environment:
            continue
        for contract in config.contracts_for(env.name):
            if contract.id == use_case:
                return contract
    raise KeyError(f"use case {use_case!r} is not enabled in {environment or 'any environment'}")


def provenance_of(contract: Contract, evaluation: UseCaseEvaluation | None, **deployed: Any) -> Provenance:
    """What a run of ``contract`` measures, as this commit declares it (``deployed`` overrides)."""
    prompt = contract.prompt
    values: dict[str, Any] = {
        "prompt_version": prompt.version if prompt else "none",
        "model_source": contract.model.source,
        "fallback_source": contract.model.fallback,
        "guardrail_version": "emulated",
        "guardrail_fingerprint": policy_fingerprint(render_policy(contract.guardrail)),
        "judge_model": contract.judge.identifier if contract.judge else None,
        "rubric_version": evaluation.rubric.version if evaluation and evaluation.rubric else None,
    }
    values.update({k: v for k, v in deployed.items() if v is not None})
    return Provenance(**values)


# ==================================================================== offline


@dataclass
class _OfflineContext:
    function_name: str = "offline-orchestrator"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        f"arn:aws:lambda:{OFFLINE_REGION}:{OFFLINE_ACCOUNT}:function:offline-orchestrator"
    )
    memory_limit_in_mb: int = 512
    aws_request_id: str = "offline-evaluation"

    def get_remaining_time_in_millis(self) -> int:
        return 28_000


def offline_event(use_case: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``POST /use-cases/{use_case}/invoke`` (what the API passes)."""
    headers = {"Content-Type": "application/json", "Host": "offline.execute-api.local"}
    return {
        "resource": "/use-cases/{useCaseId}/invoke",
        "path": f"/use-cases/{use_case}/invoke",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"useCaseId": use_case},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/use-cases/{useCaseId}/invoke",
            "httpMethod": "POST",
            "path": f"/v1/use-cases/{use_case}/invoke",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "accountId": OFFLINE_ACCOUNT,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bedrock-platform-evaluation"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def offline_arns(
    contracts: Mapping[str, Contract],
) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]:
    """Made-up ARNs of each use case's profiles (by route), guardrail and judge profile, in the offline
    account, which the emulated endpoint (:func:`emulated_bedrock`) answers for."""
    prefix = f"arn:aws:bedrock:{OFFLINE_REGION}:{OFFLINE_ACCOUNT}"
    profiles = {
        uc: {route: f"{prefix}:application-inference-profile/{uc}-{route}" for route in c.routes}
        for uc, c in contracts.items()
    }
    guardrails = {uc: f"{prefix}:guardrail/{uc}" for uc in contracts}
    judges = {
        uc: f"{prefix}:application-inference-profile/{uc}-judge"
        for uc, c in contracts.items()
        if c.judge is not None
    }
    return profiles, guardrails, judges


def emulated_bedrock(
    stack: contextlib.ExitStack, config: PlatformConfig, contracts: Mapping[str, Contract]
) -> Any:
    """A local Bedrock Runtime endpoint (closed with ``stack``) whose answers come from the emulator: each
    use case's guardrail from its contract, its model from the suites' recorded answers, and the judge,
    for the ARNs :func:`offline_arns` gives. Returns the ``BedrockStub``."""
    from bedrock_platform_devtools.bedrock_stub import BedrockStub
    from evaluation.emulator import EmulatedUseCase, GuardrailEmulator, ModelEmulator, StubEmulator

    profiles, guardrails, judges = offline_arns(contracts)
    emulated: dict[str, EmulatedUseCase] = {}
    for uc, contract in contracts.items():
        evaluation = config.evaluations.get(uc)
        answers = {
            case.text: case.offline_answer
            for suite in (evaluation.suites.values() if evaluation else ())
            for case in suite.document.cases
            if case.offline_answer is not None
        }
        emulated[uc] = EmulatedUseCase(uc, GuardrailEmulator(contract.guardrail), ModelEmulator(answers))
    stub = stack.enter_context(BedrockStub(default_latency_ms=0))
    stub.emulator = StubEmulator(
        by_guardrail={guardrails[uc]: e for uc, e in emulated.items()},
        by_profile={arn: emulated[uc] for uc, routes in profiles.items() for arn in routes.values()},
        judges=judges.values(),
    )
    return stub


class OfflineTarget:
    """The orchestrator Lambda in-process (real handler, real botocore) against the local Bedrock Runtime
    endpoint, whose answers come from the emulator (``evaluation.emulator``). A context manager: it sets
    the environment the CDK side would set, starts the endpoint, imports the handler afresh, and undoes
    all of it on exit."""

    name = "offline"
    mode: Literal["offline", "deployed"] = "offline"
    concurrent = False

    def __init__(self, config: PlatformConfig, use_cases: Sequence[str]) -> None:
        self.config = config
        self.use_cases = list(use_cases)
        self.contracts = {uc: _contract_for(config, uc) for uc in self.use_cases}
        self.profile_arns, self.guardrail_arns, self.judge_arns = offline_arns(self.contracts)
        self._stack = contextlib.ExitStack()
        self._handler: ModuleType | None = None
        self._runtime: Any = None  # the bedrock-runtime client for ApplyGuardrail, made on entry

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        from platform_config.runtime import runtime_config
        from platform_spec.fields import to_dict

        stub = emulated_bedrock(self._stack, self.config, self.contracts)
        self.stub = stub  # the local Bedrock Runtime endpoint (a test may script its faults)
        self.endpoint_url = stub.endpoint_url
        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bedrock-eval-")))
        config_path = folder / "runtime_config.json"
        config_path.write_text(
            json.dumps(without_holds(to_dict(runtime_config(list(self.contracts.values()), "offline")))),
            encoding="utf-8",
        )
        resources = {
            "use_cases": {
                uc: {
                    "profile_arns": self.profile_arns[uc],
                    "guardrail_arn": self.guardrail_arns[uc],
                    "guardrail_version": "1",
                }
                for uc in self.use_cases
            }
        }
        self._stack.enter_context(
            _environment(
                {
                    **offline_aws_environment(folder, stub.endpoint_url),
                    Env.RESOURCES: json.dumps(resources),
                    Env.IDEMPOTENCY_TABLE: "offline-idempotency",
                    Env.SERVICE_NAME: "orchestrator-offline-eval",
                    Env.METRICS_NAMESPACE: "BedrockPlatformOfflineEval",
                    Env.RUNTIME_CONFIG_PATH: str(config_path),
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": "ERROR",
                }
            )
        )
        import boto3

        self._runtime = boto3.client(
            "bedrock-runtime", region_name=OFFLINE_REGION, endpoint_url=stub.endpoint_url
        )
        sys.modules.pop(HANDLER_MODULE, None)
        self._handler = importlib.import_module(HANDLER_MODULE)
        self._handler.logger.logger_handler.stream = (
            io.StringIO()
        )  # its one log line per request: not ours to print
        self._stack.callback(sys.modules.pop, HANDLER_MODULE, None)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    # ---------------------------------------------------------------- the two questions

    def invoke(self, use_case: str, body: Mapping[str, Any]) -> tuple[int, str]:
        """The orchestrator's (status, JSON body) for ``POST /use-cases/<use_case>/invoke`` with ``body``."""
        assert self._handler is not None, "use OfflineTarget as a context manager"
        with contextlib.redirect_stdout(io.StringIO()):
            response = self._handler.lambda_handler(offline_event(use_case, body), _OfflineContext())
        return int(response["statusCode"]), str(response.get("body") or "")

    def ask(self, use_case: str, case: EvalCase) -> ApiAnswer:
        return parse_api_answer(*self.invoke(use_case, invoke_body(case)))

    def check_input(self, use_case: str, case: EvalCase) -> GuardrailCheck:
        grounded = self.contracts[use_case].guardrail.grounded
        return apply_guardrail(self._runtime, self.guardrail_arns[use_case], "1", case, grounded=grounded)

    def judge(self, use_case: str) -> tuple[str, dict[str, Any]] | None:
        arn = self.judge_arns.get(use_case)
        if arn is None:
            return None
        return f"bedrock/{arn}", {"base_url": self.endpoint_url, "region_name": OFFLINE_REGION}

    def provenance(self, use_case: str) -> Provenance:
        return provenance_of(self.contracts[use_case], self.config.evaluations.get(use_case))


def offline_aws_environment(folder: Path, bedrock_endpoint_url: str) -> dict[str, str | None]:
    """Fake credentials, the offline region, no AWS configuration files or instance metadata, and real
    botocore pointed at the local Bedrock Runtime endpoint: nothing offline can reach an AWS account."""
    return {
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_REGION": OFFLINE_REGION,
        "AWS_DEFAULT_REGION": OFFLINE_REGION,
        "AWS_CONFIG_FILE": str(folder / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_endpoint_url,
    }


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables, and restore them afterwards. Any other
    ``AWS_*`` variable is removed too: nothing offline may reach a real account."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ==================================================================== deployed


@dataclass(frozen=True)
class Deployment:
    """What the evaluation needs of a deployed environment: from the stack's outputs, or flags."""

    environment: str
    region: str
    api_url: str
    guardrails: Mapping[str, tuple[str, str]]  # use case -> (guardrail id or ARN, published version)
    fingerprints: Mapping[str, str]
    judges: Mapping[str, str]  # use case -> judge profile ARN
    prompt_arns: Mapping[str, str]
    #: The human review path's reviewer role (stack output ``ReviewerRoleArn``): how a run reads the answers
    #: of a use case that holds them for review (``review.hold_for_review``).
    reviewer_role_arn: str | None = None


def stack_name(environment: str) -> str:
    """The CloudFormation name of an environment's stack: Stage ``<Env>``, stack ``Platform``."""
    return f"{pascal(environment)}-Platform"


def deployment_from_outputs(
    environment: str,
    region: str,
    outputs: Mapping[str, str],
    use_cases: Sequence[str],
    *,
    api_url: str | None = None,
) -> Deployment:
    """A deployment from the stack's outputs (``cdk deploy --outputs-file`` or DescribeStacks)."""
    missing = []
    guardrails: dict[str, tuple[str, str]] = {}
    for uc in use_cases:
        name = pascal(uc)
        gid, version = outputs.get(f"{name}GuardrailId"), outputs.get(f"{name}GuardrailVersion")
        if gid is None or version is None:
            missing.append(f"{name}GuardrailId/{name}GuardrailVersion")
        else:
            guardrails[uc] = (gid, version)
    url = api_url or outputs.get(Output.API_URL)
    if url is None:
        missing.append("ApiUrl (or --api-url)")
    if missing:
        raise ValueError(
            f"the outputs of {stack_name(environment)} lack {', '.join(missing)}. Fix: deploy this commit to "
            f"{environment} first, or pass --outputs-file with `cdk deploy --outputs-file` output"
        )
    pick = {uc: pascal(uc) for uc in use_cases}
    return Deployment(
        environment=environment,
        region=region,
        api_url=str(url),
        guardrails=guardrails,
        fingerprints={
            uc: outputs[f"{n}GuardrailFingerprint"]
            for uc, n in pick.items()
            if f"{n}GuardrailFingerprint" in outputs
        },
        judges={
            uc: outputs[f"{n}JudgeProfileArn"] for uc, n in pick.items() if f"{n}JudgeProfileArn" in outputs
        },
        prompt_arns={
            uc: outputs[f"{n}PromptVersionArn"] for uc, n in pick.items() if f"{n}PromptVersionArn" in outputs
        },
        reviewer_role_arn=outputs.get(Output.REVIEWER_ROLE_ARN),
    )


def read_outputs_file(path: Path, environment: str) -> dict[str, str]:
    """The environment stack's outputs from ``cdk deploy --outputs-file`` (``{stack: {key: value}}``)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    name = stack_name(environment)
    if name not in document:
        raise ValueError(f"{path} has no outputs of stack {name} (it has {', '.join(document) or 'none'})")
    return {str(k): str(v) for k, v in document[name].items()}


def require_credentials(session: Any, environment: str) -> None:
    """Refuse a run against a deployed environment before its first call when ``session`` has no AWS
    credentials (botocore would fail that call with a traceback, or every case as "not measured")."""
    if session.get_credentials() is None:
        raise ValueError(
            f"no AWS credentials: a run against {environment} signs its calls with yours. Fix: sign in "
            f"to {environment}'s account (aws sso login, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run it offline"
        )


def describe_outputs(cloudformation: Any, environment: str) -> dict[str, str]:
    """The environment stack's outputs from CloudFormation DescribeStacks (the caller's credentials)."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = stack_name(environment)
    try:
        response = cloudformation.describe_stacks(StackName=name)
    except (BotoCoreError, ClientError) as error:
        raise ValueError(
            f"CloudFormation DescribeStacks of {name}: {error}. Fix: deploy it (npx cdk deploy "
            f"'{pascal(environment)}/*'), with credentials of its account that may call "
            "cloudformation:DescribeStacks"
        ) from error
    stacks = response.get("Stacks") or []
    return {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or [])} if stacks else {}


#: The reviewer session a deployed run reads and rejects held answers under (the reviewer role's trust
#: requires a source identity; the review API refuses a decision under the name the request was made
#: under, 403 ``SELF_REVIEW``, and the pipeline's readiness session is ``bedrock-platform-gate``).
EVALUATION_REVIEWER = "evaluation-run"
#: Why a deployed run rejects every answer it read as a reviewer: no caller asked for it.
EVALUATION_REJECTION = (
    "Evaluation case of a deployed evaluation run: scored from the held text, not for release to anyone."
)


class DeployedTarget:
    """A deployed environment: the orchestration API signed with SigV4 (service ``execute-api``) with the
    caller's credentials, ApplyGuardrail on each use case's deployed guardrail version, and the judge
    through its deployed profile (inspect-ai's ``bedrock`` provider).

    A use case that holds its answers for review (``review.hold_for_review``) answers 202 with a review id:
    the run reads the held answer as a session of the reviewer role (``Deployment.reviewer_role_arn``),
    scores its text, and rejects it (:data:`EVALUATION_REJECTION`), so no evaluation case waits in the
    reviewers' queue or is ever released. Without the role, or when reading or rejecting fails, the case
    stays unanswered (it fails as not measured, naming why)."""

    mode: Literal["offline", "deployed"] = "deployed"
    concurrent = True

    def __init__(
        self,
        config: PlatformConfig,
        deployment: Deployment,
        *,
        session: Any = None,
        bedrock_endpoint_url: str | None = None,
        timeout_s: float = 35.0,
        reviewer_name: str = EVALUATION_REVIEWER,
    ) -> None:
        import boto3

        self.config = config
        self.name = deployment.environment
        self.deployment = deployment
        self.session = session or boto3.Session(region_name=deployment.region)
        self.bedrock_endpoint_url = bedrock_endpoint_url
        self.timeout_s = timeout_s
        from botocore.config import Config

        from platform_spec.review import client_config

        # ApplyGuardrail on the adversarial suites: bounded like the API calls (``timeout_s``), not with
        # botocore's defaults (60 s connect and read, legacy retries: minutes per case on a hung endpoint)
        self._runtime = self.session.client(
            "bedrock-runtime",
            region_name=deployment.region,
            endpoint_url=bedrock_endpoint_url,
            config=Config(**client_config(connect_timeout_s=5, read_timeout_s=timeout_s, attempts=3)),
        )
        self._prompt_versions: dict[str, str] = {}
        self._reviewer = None
        if deployment.reviewer_role_arn is not None:
            from human_review.exercise import DeployedClient

            self._reviewer = DeployedClient(
                api_url=deployment.api_url,
                region=deployment.region,
                reviewer_role_arn=deployment.reviewer_role_arn,
                session=self.session,
                timeout_s=timeout_s,
                reviewer_name=reviewer_name,
            )

    def _read_held(self, answer: ApiAnswer) -> ApiAnswer:
        """``answer`` (202) with the held text read as a reviewer, after rejecting it (see the class)."""
        from human_review.exercise import ITEM, reject_held

        if self._reviewer is None:
            return replace(
                answer,
                text=f"{answer.text}; no reviewer role to read it (stack output ReviewerRoleArn)",
            )
        review_id = str(answer.review_id)
        problem, item = "", None
        try:
            read = self._reviewer.reviewer("GET", ITEM, {"reviewId": review_id})
            if read.status == 200:
                item = read.body
            else:
                problem = f"reading it as a reviewer answered HTTP {read.status}"
        except Exception as error:  # the reviewer role cannot be assumed, the API does not answer
            problem = f"the reviewer session failed: {type(error).__name__}: {error}"
        # rejected whatever the read gave: no evaluation case may wait in the queue or be released
        rejected = reject_held(self._reviewer, review_id, EVALUATION_REJECTION)
        problem = problem or rejected or ""
        text = ((item or {}).get("text") or {}).get("output")
        if not problem and not isinstance(text, str):
            problem = "its text is not stored (review item text.stored is false)"
        if problem:
            return replace(answer, text=f"{answer.text}; {problem}")
        return replace(
            answer,
            text=str(text),
            held=True,
            guardrail_action=((item or {}).get("guardrail") or {}).get("action"),
        )

    def ask(self, use_case: str, case: EvalCase) -> ApiAnswer:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.deployment.api_url.rstrip("/") + f"/use-cases/{use_case}/invoke"
        data = json.dumps(invoke_body(case)).encode()
        request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError(
                "no AWS credentials: the API uses IAM authorization (SigV4). Fix: configure credentials"
            )
        # SigV4 for API Gateway's IAM authorization: https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.deployment.region).add_auth(
            request
        )
        http = urllib.request.Request(url, data=data, headers=dict(request.headers), method="POST")
        try:
            with urllib.request.urlopen(http, timeout=self.timeout_s) as response:
                answer = parse_api_answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            answer = parse_api_answer(error.code, error.read())
        if answer.prompt_version:
            self._prompt_versions[use_case] = answer.prompt_version
        if answer.status == 202 and answer.review_id:
            answer = self._read_held(answer)
        return answer

    def check_input(self, use_case: str, case: EvalCase) -> GuardrailCheck:
        identifier, version = self.deployment.guardrails[use_case]
        contract = _contract_for(self.config, use_case, self.deployment.environment)
        return apply_guardrail(self._runtime, identifier, version, case, grounded=contract.guardrail.grounded)

    def judge(self, use_case: str) -> tuple[str, dict[str, Any]] | None:
        arn = self.deployment.judges.get(use_case)
        if arn is None:
            return None
        args: dict[str, Any] = {"region_name": self.deployment.region}
        if self.bedrock_endpoint_url:
            args["base_url"] = self.bedrock_endpoint_url
        return f"bedrock/{arn}", args

    def provenance(self, use_case: str) -> Provenance:
        contract = _contract_for(self.config, use_case, self.deployment.environment)
        _, version = self.deployment.guardrails[use_case]
        return provenance_of(
            contract,
            self.config.evaluations.get(use_case),
            guardrail_version=version,
            guardrail_fingerprint=self.deployment.fingerprints.get(use_case),
            prompt_version=self._prompt_versions.get(use_case),
            prompt_arn=self.deployment.prompt_arns.get(use_case),
        )
