"""`python -m evaluation run --target <env>` against a stand-in for a deployed environment: a local HTTP
server playing API Gateway (``delivery.standin``: it verifies every request's SigV4 signature, then runs the
real orchestrator handler) and the local Bedrock endpoint for ApplyGuardrail and the judge. What this cannot prove (real
API Gateway, IAM, Bedrock) is listed in the README, Evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from delivery.standin import ApiGatewayStandIn, serving
from evaluation.__main__ import main
from evaluation.targets import OfflineTarget, describe_outputs, stack_name
from platform_config import load_platform
from platform_config.naming import pascal
from tests.support.contracts import examples_root

USE_CASE = "policy-qa"
ENVIRONMENT = "staging"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[ApiGatewayStandIn, OfflineTarget, Path]]:
    config = load_platform(examples_root())
    region = config.environment(ENVIRONMENT).region
    with (
        OfflineTarget(config, [USE_CASE]) as offline,
        serving(offline, Credentials("offline", "offline"), region) as api,
    ):
        name = pascal(USE_CASE)
        outputs = {
            stack_name(ENVIRONMENT): {
                "ApiUrl": api.url,
                f"{name}GuardrailId": offline.guardrail_arns[USE_CASE],
                f"{name}GuardrailVersion": "1",
                f"{name}GuardrailFingerprint": "deployedfingerprint",
                f"{name}JudgeProfileArn": offline.judge_arns[USE_CASE],
                f"{name}PromptVersionArn": "arn:aws:bedrock:us-east-1:123456789012:prompt/ABCDEFGHIJ:3",
            }
        }
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        yield api, offline, path


@pytest.mark.slow
def test_golden_suites_go_through_the_signed_api_and_adversarial_ones_through_apply_guardrail(
    deployment: tuple[ApiGatewayStandIn, OfflineTarget, Path], tmp_path: Path
) -> None:
    api, offline, outputs = deployment
    out = tmp_path / "out"
    code = main(
        [
            *("--root", str(examples_root())),  # policy-qa's suites, whichever examples the repository ships
            "run",
            "--target",
            ENVIRONMENT,
            "--use-case",
            USE_CASE,
            "--outputs-file",
            str(outputs),
            "--bedrock-endpoint-url",
            offline.endpoint_url,
            "--out",
            str(out),
        ]
    )
    results = json.loads((out / "results.json").read_text())
    assert code == 0, results["gate_messages"]
    assert results["mode"] == "deployed" and results["target"] == ENVIRONMENT
    suites = results["use_cases"][USE_CASE]["suites"]
    # every golden case, and every adversarial case whose expectations read an answer, was a signed request
    config = load_platform(examples_root())
    evaluation = config.evaluations[USE_CASE]
    adversarial = evaluation.suites["adversarial"].document
    wanted = len(evaluation.suites["golden"].document.cases) + sum(
        1 for c in adversarial.cases if c.expect.over(adversarial.defaults).needs_answer
    )
    assert api.rejected == [] and len(api.verified) == wanted
    # every adversarial case was checked by ApplyGuardrail on the deployed guardrail version
    assert all(c["guardrail"].startswith("ApplyGuardrail: ") for c in suites["adversarial"]["case_results"])
    # the provenance is the deployment's
    provenance = results["use_cases"][USE_CASE]["provenance"]
    assert provenance["guardrail_version"] == "1"
    assert provenance["guardrail_fingerprint"] == "deployedfingerprint"
    assert provenance["prompt_arn"].endswith(":prompt/ABCDEFGHIJ:3")
    assert provenance["prompt_version"] == "v1"  # as the API answered it
    # the judge answered through its deployed profile
    assert suites["golden"]["scorers"]["rubric"]["applied"] > 0


def test_a_wrong_signature_is_refused_by_the_stand_in(
    deployment: tuple[ApiGatewayStandIn, OfflineTarget, Path],
) -> None:
    api, _, _ = deployment
    request = AWSRequest(method="POST", url=api.url + "use-cases/policy-qa/invoke", data=b"{}", headers={})
    SigV4Auth(Credentials("offline", "not-the-secret"), "execute-api", api.region).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = api.url.split("/")[2]
    assert not api.signature_valid("POST", "/v1/use-cases/policy-qa/invoke", headers, b"{}")


def test_apply_guardrail_calls_of_a_deployed_run_are_bounded_like_its_api_calls() -> None:
    from evaluation.targets import DeployedTarget, Deployment
    from platform_config import load_platform
    from tests.evaluations.conftest import ROOT

    deployment = Deployment(ENVIRONMENT, "us-east-1", "https://x.execute-api/v1/", {}, {}, {}, {})
    target = DeployedTarget(load_platform(ROOT), deployment, timeout_s=12.0)
    config = target._runtime.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 12.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def _cloudformation() -> Any:
    """A CloudFormation client with fake keys, for a Stubber to answer."""
    from botocore.session import get_session

    return get_session().create_client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_outputs_are_read_from_cloudformation_when_no_file_is_given() -> None:
    client = _cloudformation()
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "Staging-Platform",
                        "CreationTime": "2026-11-30T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://x.execute-api/v1/"}],
                    }
                ]
            },
            {"StackName": "Staging-Platform"},
        )
        assert describe_outputs(client, ENVIRONMENT) == {"ApiUrl": "https://x.execute-api/v1/"}


def test_a_stack_that_is_not_deployed_is_named_with_the_fix() -> None:
    client = _cloudformation()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id Staging-Platform does not exist",
            http_status_code=400,
        )
        with pytest.raises(
            ValueError, match=r"DescribeStacks of Staging-Platform: .*does not exist.*Fix: deploy it"
        ):
            describe_outputs(client, ENVIRONMENT)


def test_a_deployed_run_without_credentials_stops_before_any_case(
    no_aws_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no credentials anywhere botocore looks
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({stack_name(ENVIRONMENT): {"ApiUrl": "https://x.execute-api/v1/"}}))

    # WHEN the README's command runs against staging
    code = main(
        ["run", "--target", ENVIRONMENT, "--outputs-file", str(outputs), "--out", str(tmp_path / "out")]
    )

    # THEN it is bad usage, named with the fix, and no case was run (each would fail as "not measured")
    assert code == 2
    error = capsys.readouterr().err
    assert "--target staging: no AWS credentials" in error and "Fix:" in error
    assert not (tmp_path / "out" / "results.json").exists()


def test_missing_outputs_name_what_is_missing_and_the_fix() -> None:
    from evaluation.targets import deployment_from_outputs

    with pytest.raises(
        ValueError, match=r"lack PolicyQaGuardrailId/PolicyQaGuardrailVersion, ApiUrl .*Fix: deploy"
    ):
        deployment_from_outputs(ENVIRONMENT, "us-west-2", {}, [USE_CASE])


# ------------------------------------------------------------------ a use case that holds its answers


@pytest.mark.slow  # >= ~1 CPU-second: a whole golden suite through the API and review stand-in
def test_a_held_answer_is_read_as_a_reviewer_scored_and_rejected(tmp_path: Path) -> None:
    """rfp-drafting holds every answer for review (202): a deployed run reads each held answer as a session
    of the reviewer role, scores it like an answer, and rejects it, so the use case's golden suite can pass
    in staging and no evaluation case waits in the reviewers' queue or is ever released."""
    from bedrock_platform_devtools.samples import REVIEWER_ARN, REVIEWER_ROLE_ARN
    from evaluation.harness import Observation, deterministic_score, suite_runs
    from evaluation.targets import EVALUATION_REJECTION, EVALUATION_REVIEWER, DeployedTarget, Deployment
    from human_review.exercise import ITEM, PENDING
    from tests.support.review_gateway import review_gateway

    config = load_platform(examples_root())
    (run,) = suite_runs(config, ["rfp-drafting"], ["golden"])
    with review_gateway(config) as (platform, url, _):
        assumed: list[dict[str, object]] = []
        platform.session.events.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(dict(params))
        )
        deployment = Deployment("dev", "us-east-1", url, {}, {}, {}, {}, reviewer_role_arn=REVIEWER_ROLE_ARN)
        target = DeployedTarget(config, deployment, session=platform.session)
        for case in run.suite.document.cases:
            answer = target.ask("rfp-drafting", case)
            # GIVEN the API held the answer (202), the run scored the held text, as any answer's
            assert (answer.status, answer.held) == (202, True), answer
            assert answer.guardrail_action in ("NONE", "INTERVENED"), answer  # the review item's verdict
            observed = Observation(answer=answer, input_guardrail=None)
            assert observed.unanswered is None and observed.text == answer.text != ""
            for name in run.expectations(case).scorers():
                result = deterministic_score(name, run, case, observed)
                assert result is not None and result.passed, (case.id, name, result)
            # AND rejected it as the reviewer session, so it is released to nobody and waits for nobody
            item = platform.review_api(
                "GET", ITEM, {"reviewId": str(answer.review_id)}, user_arn=REVIEWER_ARN
            )
            assert (item.body["status"], item.body["decision"]["reason"]) == (
                "rejected",
                EVALUATION_REJECTION,
            )
        assert [(a["RoleSessionName"], a["SourceIdentity"]) for a in assumed] == [
            (EVALUATION_REVIEWER, EVALUATION_REVIEWER)
        ]
        platform.drain()  # the scoring function's turn: a pending item would now be listed
        listed = platform.review_api(
            "GET", PENDING, query={"useCase": "rfp-drafting", "limit": "100"}, user_arn=REVIEWER_ARN
        )
        assert listed.status == 200 and listed.body["items"] == []


def test_without_the_reviewer_role_a_held_answer_is_not_measured_and_says_why() -> None:
    from evaluation.harness import Observation, suite_runs
    from evaluation.targets import DeployedTarget, Deployment
    from tests.support.review_gateway import review_gateway

    config = load_platform(examples_root())
    (run,) = suite_runs(config, ["rfp-drafting"], ["golden"])
    with review_gateway(config) as (platform, url, _):
        target = DeployedTarget(
            config, Deployment("dev", "us-east-1", url, {}, {}, {}, {}), session=platform.session
        )
        answer = target.ask("rfp-drafting", run.suite.document.cases[0])
    observed = Observation(answer=answer, input_guardrail=None)
    assert observed.unanswered == "HTTP 202 HELD_FOR_REVIEW" and observed.text == ""
    assert "no reviewer role to read it (stack output ReviewerRoleArn)" in answer.text
