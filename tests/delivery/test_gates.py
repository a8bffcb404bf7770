"""Each readiness gate passes on the repository as it is and holds on a planted failure: an alarm without a
deliverable topic, a guardrail that lets an adversarial case through, a load test under its success rate
(or over its p95), a canary alarm in ALARM, the human review path missing or failing, a compliance gate
that did not run. Offline: the synthesized templates, moto, the local Bedrock endpoint and the API
stand-in (``delivery.standin``); the bake and the load test run on fake clocks."""

from __future__ import annotations

import copy
import dataclasses
import http.server
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import yaml

from compliance.assembly import StackTemplate
from delivery import gates
from delivery.canary import SERVED_DURATION_MS, critical_alarms_of, offline_production, run_bake
from delivery.gates import GateReport
from delivery.notifications import alarms_of, carry_offline, deliverability
from lambdas.canary_bake import bake
from platform_config import load_platform
from platform_config.documents import load_yaml
from platform_config.markers import GATE_RESULT_FILE
from platform_spec.contract import ContractDocument
from platform_spec.delivery import (
    CANARY_WEIGHT,
    HUMAN_REVIEW_MODULE,
    LATENCY_MIN_INVOCATIONS,
    REVIEW_POLICY_FIELD,
    BakeDecision,
    BakePolicy,
    Gate,
    Verdict,
)
from tests.support.contracts import copy_configuration, examples_root
from tests.support.synth import Synthesized

ROOT = Path(__file__).resolve().parents[2]
STS = "support-ticket-summary"


def _stack(synthesized: Synthesized, name: str) -> StackTemplate:
    return next(s for s in synthesized.stacks if s.name == name)


def _check(report: GateReport, name: str) -> gates.Check:
    (check,) = [c for c in report.checks if c.name == name]
    return check


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    """A copy of the configuration a test may break, every shipped example in it (``copy_configuration``)."""
    return copy_configuration(tmp_path / "repo")


# ==================================================================== gate 1: governance


def test_governance_reads_a_clean_compliance_gate_and_complete_contracts(synthesized: Synthesized) -> None:
    report = GateReport(Gate.GOVERNANCE, "all", "offline")
    gates.compliance_check(report, synthesized.outdir)
    gates.contract_checks(report, ROOT)
    assert _check(report, "compliance gate").verdict is Verdict.PASS
    assert _check(report, "contracts complete").verdict is Verdict.PASS


def test_governance_holds_when_the_compliance_gate_did_not_run(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly)
    (assembly / GATE_RESULT_FILE).unlink()  # synthesized with -c compliance-checks=off, say
    report = gates.governance(ROOT, assembly, config=load_platform(ROOT), out=tmp_path / "out", suites=False)
    check = _check(report, "compliance gate")
    assert check.verdict is Verdict.HOLD and GATE_RESULT_FILE in check.detail
    assert report.verdict is Verdict.HOLD


def test_governance_holds_on_a_contract_that_does_not_state_its_owner(config_root: Path) -> None:
    path = config_root / "contracts" / f"{STS}.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    del data["owner_team"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    report = GateReport(Gate.GOVERNANCE, "all", "offline")
    gates.contract_checks(report, config_root)
    check = _check(report, "contracts complete")
    assert check.verdict is Verdict.HOLD
    assert f"contracts/{STS}.yaml: owner_team" in check.detail


def test_governance_holds_until_every_contract_states_a_review_policy() -> None:
    report = GateReport(Gate.GOVERNANCE, "all", "offline")
    gates.contract_checks(report, ROOT)
    check = _check(report, "review policy")
    if REVIEW_POLICY_FIELD not in {f.name for f in dataclasses.fields(ContractDocument)}:
        # Issue 13 adds the contract's `review` section; until this checkout has it, the gate cannot pass.
        assert check.verdict is Verdict.NOT_RUN and f"`{REVIEW_POLICY_FIELD}`" in check.detail
        assert report.verdict is Verdict.HOLD
    else:
        stated = all(
            REVIEW_POLICY_FIELD in (load_yaml(p.read_text(encoding="utf-8")) or {})
            for p in (ROOT / "contracts").glob("*.yaml")
        )
        assert check.verdict is (Verdict.PASS if stated else Verdict.HOLD), check


@pytest.mark.slow
def test_governance_holds_when_an_offline_suite_fails(config_root: Path, tmp_path: Path) -> None:
    _weaken_refund_topic(config_root)
    report = GateReport(Gate.GOVERNANCE, "all", "offline")
    gates.offline_suites_check(report, load_platform(config_root), config_root, tmp_path / "eval", [STS])
    check = _check(report, "offline suites")
    assert check.verdict is Verdict.HOLD
    assert "dt-refund-full-amount" in check.detail or "guardrail_intervened" in check.detail


# ==================================================================== gate 2: readiness


def test_every_staging_alarm_reaches_the_probe_subscription(synthesized: Synthesized) -> None:
    stack = _stack(synthesized, "Staging/Platform")
    policy_problems, probe_problems = deliverability(stack)
    probes = carry_offline(stack)
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.notification_check(report, probes, policy_problems, probe_problems)
    assert {p.alarm for p in probes} == set(alarms_of(stack)) and len(probes) > 5
    assert _check(report, "alarm notifications").verdict is Verdict.PASS, report.render()


def test_an_alarm_without_a_deliverable_topic_holds_the_readiness_gate(synthesized: Synthesized) -> None:
    # GIVEN one alarm notifies a topic whose key (the invocation-logging key) CloudWatch may not use
    stack = _stack(synthesized, "Staging/Platform")
    template = copy.deepcopy(stack.template)
    resources = template["Resources"]
    alarm = next(a for a, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm")
    key = next(k for k in resources if k.startswith("InvocationLoggingKey"))
    resources["StrayTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}},
    }
    resources[alarm]["Properties"]["AlarmActions"] = [{"Ref": "StrayTopic"}]
    planted = dataclasses.replace(stack, template=template)
    # WHEN the gate sets every alarm to ALARM and waits at the test subscription
    policy_problems, probe_problems = deliverability(planted)
    probes = carry_offline(planted)
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.notification_check(report, probes, policy_problems, probe_problems)
    # THEN that alarm's notification never arrives, the others do, and the gate holds naming it
    assert [p.alarm for p in probes if not p.arrived] == [alarm]
    check = _check(report, "alarm notifications")
    assert check.verdict is Verdict.HOLD and alarm in check.detail
    assert report.verdict is Verdict.HOLD


class FakeClock:
    """Time that passes only when the load test waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _load(sender: Callable[[int], tuple[int, float]], use_case: str = STS) -> GateReport:
    """The readiness gate's load test of ``use_case`` in staging, among the examples (``examples_root``: the
    repository while it ships them all), whose contracts give the rates and thresholds the tests expect."""
    clock = FakeClock()
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.load_checks(
        report,
        load_platform(examples_root()),
        "staging",
        senders=lambda _: sender,
        duration_s=20,
        clock=clock,
        sleep=clock.sleep,
        use_cases=[use_case],
    )
    return report


def test_a_load_test_within_the_contract_passes() -> None:
    report = _load(lambda i: (200, 100.0 + i))
    check = _check(report, f"load {STS}")
    # 2 x peak_rps (1/s) for 20 s: 40 requests
    assert check.verdict is Verdict.PASS and "40 requests at 2/s" in check.detail


def test_a_load_test_under_its_success_rate_holds_the_gate() -> None:
    contract = next(c for c in load_platform(examples_root()).contracts_for("staging") if c.id == STS)
    assert contract.release.min_success_rate == pytest.approx(0.99)
    # one request in ten throttled: 90 % < 99 %
    report = _load(lambda i: (429, 20.0) if i % 10 == 0 else (200, 100.0))
    check = _check(report, f"load {STS}")
    assert check.verdict is Verdict.HOLD
    assert "success rate 90.00% is below 99.00%" in check.detail and "429" in check.detail


def test_a_load_test_over_the_contract_p95_holds_the_gate() -> None:
    contract = next(c for c in load_platform(examples_root()).contracts_for("staging") if c.id == STS)
    slow = float(contract.latency_p95_ms) + 1
    report = _load(lambda i: (200, slow))
    check = _check(report, f"load {STS}")
    assert check.verdict is Verdict.HOLD and f"is above {contract.latency_p95_ms} ms" in check.detail


@pytest.mark.slow
def test_a_guardrail_that_lets_an_adversarial_case_through_holds_the_readiness_gate(
    synthesized: Synthesized, config_root: Path, tmp_path: Path
) -> None:
    # GIVEN the deployed guardrail's refund topic lost its examples and most of its definition
    _weaken_refund_topic(config_root)
    # WHEN the readiness gate runs against the stand-in of staging (signed API, deployed guardrail)
    report = gates.readiness_offline(
        config_root, "staging", synthesized.outdir, out=tmp_path / "out", use_cases=[STS], load_seconds=1
    )
    # THEN the API answers, but the adversarial suite fails its quality gate, and the gate holds on it
    assert _check(report, "smoke").verdict is Verdict.PASS, report.render()
    suites = _check(report, "suites (golden, adversarial)")
    assert suites.verdict is Verdict.HOLD, report.render()
    assert "adversarial" in suites.detail
    assert report.verdict is Verdict.HOLD


@pytest.mark.parametrize("limited", [False, True], ids=["every suite", "one use case"])
@pytest.mark.parametrize("gate", [Gate.READINESS, Gate.GOVERNANCE])
def test_the_suites_check_holds_on_a_run_limited_to_some_suites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate, limited: bool
) -> None:
    # GIVEN the evaluation run a gate starts passes its own gate on what it ran: every suite its target
    # evaluates, or (`delivery.gates readiness --use-case ...`) one use case's, whose gate passes on that use
    # case alone (a deliberately limited run)
    import evaluation.__main__ as evaluation_cli
    from evaluation.report import write_results
    from tests.support.evaluation_results import passing, run_result

    config = load_platform(ROOT)
    target = "staging" if gate is Gate.READINESS else "offline"
    evaluated = sorted(
        config.evaluations if target == "offline" else (c.id for c in config.contracts_for(target))
    )
    ran = [STS] if limited else evaluated

    def evaluation(argv: list[str]) -> int:
        write_results(run_result(passing(config, ran), target=target), Path(argv[argv.index("--out") + 1]))
        print("quality gate passed")
        return 0

    monkeypatch.setattr(evaluation_cli, "main", evaluation)
    # WHEN the gate's suites check runs it
    report = GateReport(gate, target, "offline")
    out = tmp_path / "eval"
    if gate is Gate.READINESS:
        gates.suites_check(report, config, ROOT, target, out=out, use_cases=ran)
    else:
        gates.offline_suites_check(report, config, ROOT, out, [STS] if limited else ())
    # THEN only the whole run passes: a limited one holds the gate, naming every suite it left out
    (check,) = report.checks
    if not limited:
        assert check.verdict is Verdict.PASS and report.verdict is Verdict.PASS, check.detail
        return
    left_out = [
        f"{uc}/{name}" for uc in evaluated if uc != STS for name in sorted(config.evaluations[uc].suites)
    ]
    assert left_out and check.verdict is Verdict.HOLD and report.verdict is Verdict.HOLD
    assert check.detail.startswith(f"the run left out {', '.join(left_out)}: a run limited with --use-case")


def _weaken_refund_topic(root: Path) -> None:
    path = root / "contracts" / f"{STS}.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    topic = data["guardrail"]["denied_topics"][0]
    topic["examples"] = []
    topic["definition"] = "Refunds."
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def test_the_human_review_step_is_not_run_and_holds_without_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as in a checkout without issue 13's package
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == HUMAN_REVIEW_MODULE else real(name, *a)
    )
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.human_review_check(report, ROOT, "offline")
    check = _check(report, "human review path")
    assert check.verdict is Verdict.NOT_RUN and report.verdict is Verdict.HOLD


@pytest.mark.slow
def test_the_human_review_step_walks_the_real_review_path_offline() -> None:
    # issue 13's command, as the readiness gate runs it offline (moto and the local Bedrock endpoint)
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.human_review_check(report, ROOT, "offline")
    check = _check(report, "human review path")
    assert check.verdict is Verdict.PASS, check


@pytest.mark.parametrize(("exit_code", "verdict"), [(0, Verdict.PASS), (3, Verdict.HOLD)])
def test_the_human_review_step_follows_the_commands_exit_status(
    tmp_path: Path, exit_code: int, verdict: Verdict
) -> None:
    # A FAKE `human_review` package in a stand-in checkout (the command runs there, so it is found first),
    # only to prove the plumbing (the command, its arguments, its exit status) for an exit the real path
    # would need a broken deployment to produce.
    package = tmp_path / HUMAN_REVIEW_MODULE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import sys\n"
        "assert sys.argv[1:] == ['exercise', '--target', 'offline'], sys.argv\n"
        f"print('review path: one item queued, reviewed and recorded' if {exit_code} == 0 else "
        "'HOLD: no reviewer answered')\n"
        f"sys.exit({exit_code})\n"
    )
    report = GateReport(Gate.READINESS, "staging", "offline")
    gates.human_review_check(report, tmp_path, "offline")
    check = _check(report, "human review path")
    assert check.verdict is verdict, check
    if verdict is Verdict.HOLD:
        assert "no reviewer answered" in check.detail


# ==================================================================== gate 3: canary


@pytest.mark.slow
def test_a_clean_bake_promotes_the_release_to_all_traffic(synthesized: Synthesized) -> None:
    report, trail, live = gates.canary_offline(
        ROOT, "prod", synthesized.outdir, bake_minutes=72 * 60, poll_minutes=30
    )
    assert report.verdict is Verdict.PASS
    assert trail[-1].decision is BakeDecision.PROMOTED
    assert len(trail) - 1 == 72 * 60 // 30  # one check every poll, for the whole 72 hours
    assert live == {"version": "2", "routing": {}}


def test_a_critical_alarm_in_alarm_rolls_the_canary_back_and_holds(synthesized: Synthesized) -> None:
    report, trail, live = gates.canary_offline(
        ROOT,
        "prod",
        synthesized.outdir,
        plants=[("Composite", 45.0 * 60)],
        bake_minutes=72 * 60,
        poll_minutes=30,
    )
    assert report.verdict is Verdict.HOLD
    assert trail[-1].decision is BakeDecision.ROLLED_BACK and "Composite" in trail[-1].detail
    assert len(trail) - 1 == 2  # rolled back at the first check after the alarm, not at the end of the bake
    assert live == {"version": "1", "routing": {}}  # the stable version serves everything again


def test_the_release_gets_ten_percent_during_the_bake(synthesized: Synthesized) -> None:
    alarms = critical_alarms_of(_stack(synthesized, "Prod/Platform"))
    # every use case's composite alarm and the API's alarms roll the release back
    in_prod = load_platform(ROOT).contracts_for("prod")
    assert sum("Composite" in a for a in alarms) == len(in_prod) > 0 and any("Api" in a for a in alarms)
    seen: list[Any] = []
    served: list[dict[str, int]] = []
    clock = FakeClock()
    clock.now = 1_800_000_000.0
    with offline_production("prod", alarms) as production:

        def serve(_: float) -> None:
            seen.append(dict(production.live()))
            served.append(production.serve(1000, at=clock() - 300))

        trail = run_bake(
            production.clients,
            environment="prod",
            stack_name=production.stack_name,
            bake_seconds=3600,
            poll_seconds=600,
            clock=clock,
            sleep=clock.sleep,
            before_check=serve,
        )
        # the bake's latency check had both versions' durations to compare (and found them alike)
        latencies = bake.version_latencies(
            production.clients.cloudwatch,
            production.function_name,
            ["2", "1"],
            start=trail[0].started_at,
            end=clock(),
        )
    assert all(v.count >= LATENCY_MIN_INVOCATIONS for v in latencies.values()), latencies
    assert {v.typical_ms for v in latencies.values()} == {SERVED_DURATION_MS}
    assert trail[-1].decision is BakeDecision.PROMOTED, trail[-1].detail
    assert seen and all(s == {"version": "1", "routing": {"2": CANARY_WEIGHT}} for s in seen)
    # the alias's routing sent the release its tenth of every poll's requests, which the bake counted
    assert all(s == {"2": 100, "1": 900} for s in served)
    assert f"{100 * len(served)} invocations of it through live" in trail[-1].detail


def test_a_canary_that_served_too_few_requests_holds_the_release(synthesized: Synthesized) -> None:
    # prod's declared peaks for one 10-minute poll: 10 % of them is fewer than bake.min_invocations
    report, trail, live = gates.canary_offline(
        ROOT, "prod", synthesized.outdir, bake_minutes=10, poll_minutes=10
    )
    peak = sum(c.release.peak_rps for c in load_platform(ROOT).contracts_for("prod"))
    assert round(peak * 600 * CANARY_WEIGHT) < BakePolicy().min_invocations
    assert report.verdict is Verdict.HOLD
    assert trail[-1].decision is BakeDecision.ROLLED_BACK
    assert "fewer than bake.min_invocations" in trail[-1].detail
    assert live == {"version": "1", "routing": {}}


def test_an_unknown_planted_alarm_is_refused_with_the_known_ones(synthesized: Synthesized) -> None:
    with pytest.raises(ValueError, match=r"--alarm NoSuchAlarm: not a critical alarm of prod \(they are: "):
        gates.canary_offline(ROOT, "prod", synthesized.outdir, plants=[("NoSuchAlarm", 60.0)])


def test_the_command_exits_1_on_hold_and_writes_the_result(synthesized: Synthesized, tmp_path: Path) -> None:
    code = gates.main(
        [
            "canary",
            "--env",
            "prod",
            "--offline",
            "--assembly",
            str(synthesized.outdir),
            "--alarm",
            "Composite@10",
            "--bake-minutes",
            "60",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    result = load_yaml((tmp_path / "canary-prod.json").read_text())
    assert result["verdict"] == "HOLD" and result["checks"][0]["name"] == "canary bake"
    assert gates.main(["readiness", "--env", "nowhere", "--offline", "--out", str(tmp_path)]) == 2


# ------------------------------------------------------------------ smoke: a use case that holds its answers


@pytest.mark.slow  # ~1.1 CPU-s, ~2 s: the offline platform's whole held-answer path
def test_the_smoke_request_of_a_holding_use_case_must_be_held_and_is_rejected_by_a_reviewer_session() -> None:
    """In staging rfp-drafting holds every answer (202): a 200 is what would hold the gate, not a 202."""
    from bedrock_platform_devtools.samples import REVIEWER_ARN, REVIEWER_ROLE_ARN
    from human_review.exercise import ITEM, PENDING, DeployedClient
    from tests.support.review_gateway import review_gateway

    # the examples (rfp-drafting holds, policy-qa answers), whichever of them the repository still ships
    root = examples_root()
    config = load_platform(root)
    with review_gateway(config) as (platform, url, _):
        reviews = DeployedClient(
            api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
        )

        def smoke(use_cases: list[str], holding: list[str], with_reviews: bool = True) -> gates.Check:
            report = GateReport(Gate.READINESS, "staging", "deployed")
            gates.smoke_check(
                report,
                api_url=url,
                region="us-east-1",
                credentials=platform.session.get_credentials(),
                root=root,
                use_cases=use_cases,
                holding=holding,
                reviews=reviews if with_reviews else None,
            )
            return _check(report, "smoke")

        check = smoke(["policy-qa", "rfp-drafting"], ["rfp-drafting"])
        assert check.verdict is Verdict.PASS, check.detail
        assert "policy-qa 200" in check.detail and "rfp-drafting 202 held" in check.detail
        # the held smoke answer waits in no reviewer's queue: it was rejected as the reviewer session
        (review_id,) = [d.split("review ")[1].split(",")[0] for d in check.detail.split(", ") if "held" in d]
        item = platform.review_api("GET", ITEM, {"reviewId": review_id}, user_arn=REVIEWER_ARN)
        assert (item.body["status"], item.body["decision"]["reason"]) == ("rejected", gates.SMOKE_REJECTION)
        platform.drain()
        listed = platform.review_api("GET", PENDING, query={"useCase": "rfp-drafting"}, user_arn=REVIEWER_ARN)
        assert listed.body["items"] == []

        # A use case that should hold but answered 200 (the hold not in force) fails the smoke check
        check = smoke(["policy-qa"], ["policy-qa"])
        assert check.verdict is Verdict.HOLD and "policy-qa: HTTP 200, not 202" in check.detail
        # And without a reviewer session the held use case cannot be settled: the check says so
        check = smoke(["rfp-drafting"], ["rfp-drafting"], with_reviews=False)
        assert check.verdict is Verdict.HOLD and "no ReviewerRoleArn output" in check.detail

        # A deployment whose function may not call the model: the check names the API's code and what it
        # means, so the failed gate says what to fix
        from bedrock_platform_devtools.bedrock_stub import Fault

        platform.stub.script(None, [Fault.access_denied()] * 2)
        check = smoke(["policy-qa"], [])
        assert check.verdict is Verdict.HOLD
        assert "policy-qa: HTTP 500 UPSTREAM_NOT_PERMITTED (Every route tried" in check.detail, check.detail
        assert "the deployment must be fixed" in check.detail


def test_the_answers_a_load_test_made_a_holding_use_case_hold_are_rejected_not_left_to_reviewers() -> None:
    from bedrock_platform_devtools.samples import REVIEWER_ARN, REVIEWER_ROLE_ARN
    from delivery.loadtest import invoke_url, request_body, signed_sender
    from human_review.exercise import PENDING, DeployedClient
    from tests.support.review_gateway import review_gateway

    # rfp-drafting holds every answer in staging, whether or not the repository still ships it
    root = examples_root()
    config = load_platform(root)
    with review_gateway(config) as (platform, url, _):
        held: list[str] = []
        send = signed_sender(
            invoke_url(url, "rfp-drafting"),
            request_body(root, "rfp-drafting"),
            region="us-east-1",
            credentials=platform.session.get_credentials(),
            timeout_s=30,
            held=held,
        )
        assert [send(i)[0] for i in range(3)] == [202, 202, 202] and len(set(held)) == 3
        # Without a reviewer session they cannot be settled: the gate says how many stay pending
        report = GateReport(Gate.READINESS, "staging", "deployed")
        gates.settle_check(report, None, held)
        check = _check(report, "held load-test answers")
        assert check.verdict is Verdict.HOLD and "3 of 3 held answer(s) left pending" in check.detail
        # With one, each is rejected and the reviewers' queue is empty again
        reviews = DeployedClient(
            api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
        )
        report = GateReport(Gate.READINESS, "staging", "deployed")
        gates.settle_check(report, reviews, held)
        assert _check(report, "held load-test answers").verdict is Verdict.PASS, report.render()
        platform.drain()
        listed = platform.review_api("GET", PENDING, query={"useCase": "rfp-drafting"}, user_arn=REVIEWER_ARN)
        assert listed.body["items"] == []


# ------------------------------------------------------------------ a deployed gate without AWS credentials


@pytest.mark.parametrize(
    "argv",
    [
        ["readiness", "--env", "staging"],
        ["canary", "--env", "prod"],
        [
            "readiness",
            "--env",
            "staging",
            "--role-arn",
            "arn:aws:iam::222222222222:role/bedrock-platform-staging-readiness",
        ],
    ],
    ids=["readiness", "canary", "readiness with a role"],
)
def test_a_deployed_gate_without_credentials_is_bad_usage_with_the_fix(
    argv: list[str], no_aws_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN a gate that calls AWS starts with no credentials (README: "gate 2, your credentials")
    code = gates.main([*argv, "--out", str(tmp_path / "out")])

    # THEN it stops before any call, exit 2 (bad usage, not a HOLD), naming the problem and the fix
    assert code == 2
    error = capsys.readouterr().err
    assert "no AWS credentials" in error and "Fix:" in error
    assert "Traceback" not in error


def test_each_child_of_the_gate_gets_the_role_session_frozen_as_it_starts(tmp_path: Path) -> None:
    # GIVEN the gate's role session (botocore's refreshable credentials, as assumed_session gives), whose
    # keys have a little over the refresh window left when the suites child starts
    from datetime import UTC, datetime, timedelta

    from botocore.credentials import RefreshableCredentials

    clock = {"now": datetime(2026, 12, 3, 12, 0, tzinfo=UTC)}
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"KEY{len(issued)}")
        expiry = clock["now"] + timedelta(hours=1)  # a chained role session: one hour at most
        return {"access_key": issued[-1], "secret_key": "s", "token": "t", "expiry_time": expiry.isoformat()}

    credentials = RefreshableCredentials.create_from_metadata(
        refresh(), refresh_using=refresh, method="assume-role"
    )
    credentials._time_fetcher = lambda: clock["now"]  # botocore's own clock hook
    clock["now"] += timedelta(minutes=40)
    suites = gates.child_environment(credentials, "us-east-1", folder=tmp_path)
    # WHEN the human review walk starts 10 minutes later, after the suites and the load tests
    clock["now"] += timedelta(minutes=10)
    walk = gates.child_environment(credentials, "us-east-1", folder=tmp_path)
    # THEN it gets keys refreshed for it, not the suites' copy with 10 minutes left (it got that before)
    assert suites["AWS_ACCESS_KEY_ID"] == "KEY0" and walk["AWS_ACCESS_KEY_ID"] == "KEY1"
    assert walk["AWS_REGION"] == "us-east-1" and "AWS_PROFILE" not in walk


class _ContainerAndSts(http.server.BaseHTTPRequestHandler):
    """CodeBuild's container credentials endpoint (GET) and STS (POST AssumeRole), on one local port:
    each AssumeRole is answered with new keys that expire in five minutes (inside botocore's refresh
    window, so a client that can refresh does so on each use)."""

    container_key = "CONTAINERKEY"
    assumed: ClassVar[list[dict[str, list[str]]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        expiry = (datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._answer(
            json.dumps(
                {
                    "AccessKeyId": self.container_key,
                    "SecretAccessKey": "s",
                    "Token": "t",
                    "Expiration": expiry,
                }
            ),
            "application/json",
        )

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        form["Authorization"] = [self.headers.get("Authorization", "")]
        self.assumed.append(form)
        expiry = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._answer(
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
            f"<Credentials><AccessKeyId>ROLEKEY{len(self.assumed)}</AccessKeyId><SecretAccessKey>s"
            f"</SecretAccessKey><SessionToken>t</SessionToken><Expiration>{expiry}</Expiration></Credentials>"
            "<AssumedRoleUser><AssumedRoleId>AROA:gate</AssumedRoleId>"
            "<Arn>arn:aws:sts::111111111111:assumed-role/r/gate</Arn></AssumedRoleUser>"
            "</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            "</AssumeRoleResponse>",
            "text/xml",
        )


def test_in_a_build_container_each_child_of_the_gate_assumes_its_role_itself_and_refreshes_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the gate in a CodeBuild step: its own credentials from the container endpoint, the role it
    # runs as assumed from them (--role-arn; a chained session lasts an hour at most)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ContainerAndSts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{endpoint}/credentials")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # as CodeBuild sets them
        monkeypatch.setenv(variable, "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    role = "arn:aws:iam::111111111111:role/Staging-ReadinessGate"
    session = gates.assumed_session(role, "us-east-1")
    try:
        # WHEN a child process starts with the environment the gate gives it, and uses its keys twice
        env = gates.child_environment(session.get_credentials(), "us-east-1", role_arn=role, folder=tmp_path)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import botocore.session; c = botocore.session.get_session().get_credentials(); "
                "print(c.method, c.get_frozen_credentials().access_key, c.get_frozen_credentials().access_key)",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        server.shutdown()
    # THEN it assumed the gate's role itself, with the container's keys, under the gate's session name,
    # and fetched new keys as they neared expiry (frozen keys would fail a child that outlives them)
    method, first, second = child.stdout.split()
    assert method == "assume-role" and first != second, child.stdout
    assert "AWS_ACCESS_KEY_ID" not in env
    from_child = _ContainerAndSts.assumed[-2:]
    assert all(a["RoleArn"] == [role] and a["RoleSessionName"] == [gates.GATE_SESSION] for a in from_child)
    assert all("Credential=CONTAINERKEY/" in a["Authorization"][0] for a in from_child)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_bake_run_by_hand_stops_on_a_termination_signal_as_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    # GIVEN `python -m delivery.gates canary --env prod` baking in a terminal (run_bake rolls its canary back
    # when it is interrupted: KeyboardInterrupt, SystemExit) whose terminal closes (SIGHUP) or whose
    # container is stopped (SIGTERM) mid-bake. Their default action ends the process at once with no Python
    # code run, so nothing would roll the canary back. (A handler of the test's own stands in for that
    # default action, which would end the test process too.)
    import delivery.canary

    ended: list[int] = []

    def default_action(number: int, _: Any) -> None:
        ended.append(number)

    previous = signal.signal(signum, default_action)
    went_on: list[str] = []

    def baking(clients: Any, **_: Any) -> list[Any]:
        signal.raise_signal(signum)  # WHEN the signal arrives during the bake
        went_on.append("the bake went on")
        return [SimpleNamespace(decision=BakeDecision.HOLD, detail="baking")]

    monkeypatch.setattr(delivery.canary, "run_bake", baking)
    session = SimpleNamespace(client=lambda name: SimpleNamespace(name=name))
    try:
        # THEN it stops the bake as an exit does (run_bake's roll back runs), and the handler is put back
        with pytest.raises(SystemExit):
            gates.canary_deployed(ROOT, "prod", session=session)
        assert went_on == [] and ended == []
        assert signal.getsignal(signum) is default_action
    finally:
        signal.signal(signum, previous)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["suites (golden, adversarial)", "human review path"])
def test_a_child_of_the_readiness_gate_that_hangs_is_stopped_and_holds_the_gate(
    tmp_path: Path, name: str
) -> None:
    # GIVEN a stand-in command (a package of the same name in a stand-in checkout, found first) that never
    # ends, as a deployed run whose API or scoring never answers might: without a bound the gate waited
    # for it until the build step's own timeout (2 h) killed the step with no result written
    module = "evaluation" if name.startswith("suites") else HUMAN_REVIEW_MODULE
    package = tmp_path / module
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(600)\n")
    report = GateReport(Gate.READINESS, "staging", "deployed")
    # WHEN the gate runs it with a bound of one second
    if module == "evaluation":
        config = load_platform(examples_root())
        gates.suites_check(
            report, config, tmp_path, "staging", out=tmp_path / "out", use_cases=[STS], env={}, timeout_s=1
        )
    else:
        gates.human_review_check(report, tmp_path, "staging", env={}, timeout_s=1)
    # THEN the child is stopped and the check holds the gate, saying why and for how long it ran
    check = _check(report, name)
    assert check.verdict is Verdict.HOLD and report.verdict is Verdict.HOLD, check
    assert "did not finish within 1 s" in check.detail and "started" in check.detail, check.detail
