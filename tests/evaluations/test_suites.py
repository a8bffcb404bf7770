"""Suites and rubrics are configuration: every bad one stops with file, line, field, value and fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from platform_config import ConfigError, load_platform
from platform_config.evaluation import REQUIRED_CATEGORIES
from platform_spec.contract import (
    ADVERSARIAL_BLOCKING_SCORERS,
    ADVERSARIAL_MAX_REGRESSION,
    ADVERSARIAL_MIN_PASS_RATE,
    ADVERSARIAL_PII_SCORER,
)
from platform_spec.evaluation import AttackCategory, SuiteKind
from platform_spec.scoring import ScorerName
from tests.evaluations.conftest import ROOT, Edit
from tests.support.contracts import contract_files, examples_root

STS = "support-ticket-summary"
GOLDEN = f"evals/{STS}/golden.yaml"
ADVERSARIAL = f"evals/{STS}/adversarial.yaml"
CONTRACT = f"contracts/{STS}.yaml"


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_platform(root)
    return [p.render() for p in error.value.problems]


def only(root: Path, pattern: str) -> str:
    """The one problem of the configuration, which must match ``pattern`` (a regex)."""
    found = problems(root)
    assert len(found) == 1, "\n".join(found)
    assert re.search(pattern, found[0]), found[0]
    return found[0]


#: The fewest cases a use case's suites of each kind may have (README "Add a use case"): the loader accepts
#: fewer, so `make eval` and `make synth` pass a new use case with a handful; this test holds every contract
#: in the repository, a new one too, to it.
MIN_CASES = {SuiteKind.GOLDEN: 20, SuiteKind.ADVERSARIAL: 30}


def credibility_problems(root: Path) -> list[str]:
    """Every suite of ``root``'s contracts below :data:`MIN_CASES`, or with a borrowed case that names no
    source: one line each, naming the file, the shortfall and the fix."""
    found = []
    for _, evaluation in sorted(load_platform(root).evaluations.items()):
        for suite in evaluation.suites.values():
            cases, least = suite.document.cases, MIN_CASES.get(suite.document.kind, 0)
            if len(cases) < least:
                found.append(
                    f"{suite.file}: has {len(cases)} cases; a {suite.document.kind.value} suite needs at least "
                    f"{least}. Fix: add {least - len(cases)} more cases to it"
                )
            for case in cases:
                if case.source.origin != "written" and not case.source.reference:
                    found.append(
                        f"{suite.file}: case {case.id!r} is borrowed but names no source. Fix: set "
                        "source.reference to the dataset or paper it adapts"
                    )
    return found


def test_every_shipped_contract_has_credible_suites() -> None:
    config = load_platform(ROOT)
    assert set(config.evaluations) == set(contract_files())
    assert not (found := credibility_problems(ROOT)), "\n".join(found)
    for evaluation in config.evaluations.values():
        kinds = {s.document.kind: s.document for s in evaluation.suites.values()}
        assert set(REQUIRED_CATEGORIES) <= {c.category for c in kinds[SuiteKind.ADVERSARIAL].cases}


def test_a_suite_too_small_to_be_credible_is_named_with_its_file_and_fix(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN a new use case's golden suite of three cases, which `make eval` and `make synth` accept
    edit(GOLDEN, lambda d: d.update(cases=d["cases"][:3]))
    # THEN the test a contributor meets at `make test` names the file, the count, the floor and the fix
    assert credibility_problems(config_root) == [
        f"{GOLDEN}: has 3 cases; a golden suite needs at least 20. Fix: add 17 more cases to it"
    ]


def test_a_malformed_suite_names_file_line_field_and_fix(config_root: Path) -> None:
    path = config_root / GOLDEN
    path.write_text(path.read_text().replace("  - id: duplicate-charge", "  - id: Duplicate Charge", 1))
    message = only(config_root, "has the wrong format")
    assert message.startswith(f"{GOLDEN}:") and "cases[1].id" in message and "'Duplicate Charge'" in message
    assert "Fix: use 1-64 lower-case letters, digits or -" in message


def test_an_unknown_scorer_in_a_gate_lists_the_scorers(config_root: Path, edit: Edit) -> None:
    edit(CONTRACT, lambda d: d["evaluation"]["gates"]["golden"]["blocking_scorers"].append("bleu"))
    message = only(config_root, r"evaluation\.gates\.golden\.blocking_scorers\[6\]: is not allowed")
    assert "(got 'bleu')" in message and all(s.value in message for s in ScorerName)


def test_an_unknown_expectation_in_a_case_is_not_a_known_field(config_root: Path, edit: Edit) -> None:
    edit(GOLDEN, lambda d: d["cases"][0]["expect"].update(bleu_above=0.5))
    message = only(config_root, r"cases\[0\]\.expect\.bleu_above: \(case '[^']+'\) is not a known field")
    assert "allowed fields:" in message and "must_contain" in message


def test_a_problem_inside_a_case_names_the_case_by_its_id(config_root: Path, edit: Edit) -> None:
    # GIVEN a schema problem in the third case of one suite and a loader rule's in the fifth of another
    third = _cases(config_root, GOLDEN)[2]["id"]
    fifth = _cases(config_root, ADVERSARIAL)[4]["id"]
    edit(GOLDEN, lambda d: d["cases"][2].update(max_wordz=100))
    edit(ADVERSARIAL, lambda d: d["cases"][4]["expect"].update(regex=["("]))
    found = problems(config_root)
    # THEN each names the case a reader looks for in the file (the index alone changes as cases move)
    assert any(f"cases[2].max_wordz: (case {third!r}) is not a known field" in p for p in found), found
    regex = f"cases[4].expect.regex[0]: (case {fifth!r}) is not a valid regular expression"
    assert any(p.startswith(f"{ADVERSARIAL}:") and regex in p for p in found), found


def _cases(root: Path, suite: str) -> list[dict[str, Any]]:
    from platform_config.documents import load_yaml

    return list(load_yaml((root / suite).read_text())["cases"])


def test_a_problem_in_the_gates_does_not_hide_a_problem_in_a_suite(config_root: Path, edit: Edit) -> None:
    # GIVEN a newcomer's two typos at once: one in a gate of the contract, one in a case of a suite
    edit(CONTRACT, lambda d: d["evaluation"]["gates"]["golden"].update(min_pass_rte=0.9))
    edit(GOLDEN, lambda d: d["cases"][0]["expect"].update(must_contian=["x"]))
    # THEN one run reports both, each on its own file (not the suite's only after the gate is fixed)
    found = problems(config_root)
    assert any(
        p.startswith(f"{CONTRACT}:") and "gates.golden.min_pass_rte: is not a known field" in p for p in found
    )
    assert any(
        p.startswith(f"{GOLDEN}:")
        and re.search(r"cases\[0\]\.expect\.must_contian: \(case '[^']+'\) is not a known field", p)
        for p in found
    ), found


def test_a_gate_naming_a_missing_suite(config_root: Path, edit: Edit) -> None:
    edit(
        CONTRACT,
        lambda d: d["evaluation"]["gates"].update(
            regression={"min_pass_rate": 1, "blocking_scorers": ["regex"]}
        ),
    )
    message = only(
        config_root,
        r"evaluation\.gates\.regression: names the suite evals/.*/regression\.yaml, which does not exist",
    )
    assert (
        message.startswith(f"{CONTRACT}:")
        and "Fix: add evals/support-ticket-summary/regression.yaml" in message
    )


@pytest.mark.parametrize("kind", list(SuiteKind))
def test_a_use_case_needs_a_golden_and_an_adversarial_suite(
    config_root: Path, edit: Edit, kind: SuiteKind
) -> None:
    # GIVEN a product team deletes a suite of its use case and the gate that named it (the suite failed)
    (name,) = [
        n for n, s in load_platform(config_root).evaluations[STS].suites.items() if s.document.kind is kind
    ]
    (config_root / f"evals/{STS}/{name}.yaml").unlink()
    edit(CONTRACT, lambda d: d["evaluation"]["gates"].pop(name))
    # THEN the configuration is refused (synth, make eval and every gate alike), on the contract's gates,
    # naming the suite it needs and how to add it
    message = only(config_root, rf"evaluation\.gates: has no {kind.value} suite, so nothing measures")
    assert message.startswith(f"{CONTRACT}:"), message
    assert f"Fix: add evals/{STS}/{kind.value}.yaml (kind: {kind.value};" in message
    assert f"and its gate evaluation.gates.{kind.value}" in message
    # AND deleting the file alone says both: its gate names a missing file, and the kind is required
    edit(
        CONTRACT,
        lambda d: d["evaluation"]["gates"].update(
            {name: {"min_pass_rate": 0.9, "blocking_scorers": ["refusal"]}}
        ),
    )
    found = problems(config_root)
    assert len(found) == 2, found
    (gate,) = [p for p in found if f"evaluation.gates.{name}: names the suite" in p]
    assert f"evals/{STS}/{name}.yaml, which does not exist" in gate
    # AND neither fix proposes what the other refuses: removing the gate would leave no suite of the kind
    assert f"Fix: add evals/{STS}/{name}.yaml" in gate and "remove this gate" not in gate, gate
    assert any(f"has no {kind.value} suite" in p for p in found), found


def test_a_suite_of_the_other_kind_does_not_stand_in_for_an_adversarial_suite(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN the adversarial suite replaced by a second golden suite under the adversarial name and gate
    (config_root / ADVERSARIAL).write_text((config_root / GOLDEN).read_text())
    edit(CONTRACT, lambda d: d["evaluation"]["gates"].update(adversarial=d["evaluation"]["gates"]["golden"]))
    # THEN the use case still has no adversarial suite, and the message says what each suite is
    message = only(config_root, r"evaluation\.gates: has no adversarial suite")
    assert f"(suites in evals/{STS}/: adversarial (kind: golden), golden (kind: golden))" in message


@pytest.mark.parametrize(
    ("with_suites", "empty"),
    [(False, False), (True, False), (True, True)],
    ids=["no suites", "suites left behind", "an empty section"],
)
def test_a_contract_without_an_evaluation_section(
    config_root: Path, edit: Edit, with_suites: bool, empty: bool
) -> None:
    # GIVEN a use case whose contract has no evaluation section (a new one, or one whose gates were cut),
    # or an empty one (`evaluation:` with its gates cut: YAML reads null)
    edit(CONTRACT, lambda d: d.update(evaluation=None) if empty else d.pop("evaluation"))
    if not with_suites:
        for path in (config_root / f"evals/{STS}").iterdir():
            path.unlink()
    # THEN it is refused on the contract file: it is deployed, and no gate could stop it
    message = only(config_root, rf"^{CONTRACT}:\d+: \(file\): has ")
    if with_suites:
        assert f"has suites in evals/{STS}/ but no `evaluation` section, so nothing gates them" in message
    else:
        assert (
            "has no `evaluation` section: the use case ships with no golden or adversarial suite" in message
        )
        assert f"and the suites evals/{STS}/golden.yaml and evals/{STS}/adversarial.yaml" in message
    assert "Fix: add `evaluation: {gates: {golden: {...}, adversarial: {...}}}`" in message


def _adversarial_gate(change: Any) -> Any:
    """An edit of the contract's adversarial gate (a dict: ``change`` mutates it)."""
    return lambda d: change(d["evaluation"]["gates"]["adversarial"])


@pytest.mark.parametrize(
    ("change", "field", "bad", "fix"),
    [
        (
            lambda g: g.update(min_pass_rate=0.01),
            "min_pass_rate",
            "0.01",
            f"set min_pass_rate to at least {ADVERSARIAL_MIN_PASS_RATE:g}; where attacks get through",
        ),
        (
            lambda g: g.update(max_regression=0.5),
            "max_regression",
            "0.5",
            f"set max_regression: {ADVERSARIAL_MAX_REGRESSION:g}",
        ),
        (
            lambda g: g.pop("max_regression"),  # the default (0.05) is above the floor
            "max_regression",
            "0.05",
            f"set max_regression: {ADVERSARIAL_MAX_REGRESSION:g}",
        ),
        (
            lambda g: g.update(epochs=3, epochs_to_pass=1),
            "epochs_to_pass",
            "1",
            "remove epochs_to_pass (every epoch must pass), or set it to 3",
        ),
    ],
    ids=["min-pass-rate", "max-regression", "max-regression-unset", "epochs-to-pass"],
)
def test_a_contract_cannot_loosen_its_adversarial_gate_below_the_platforms_floor(
    config_root: Path, edit: Edit, change: Any, field: str, bad: str, fix: str
) -> None:
    # GIVEN a product team loosens the gate of its adversarial suite in its own contract file
    edit(CONTRACT, _adversarial_gate(change))
    # THEN the configuration is refused on that field, with the line, the value, the floor and the fix
    message = only(config_root, rf"evaluation\.gates\.adversarial\.{field}: ")
    assert re.match(rf"{CONTRACT}:\d+: ", message), message
    assert f"(got {bad})" in message and f"Fix: {fix}" in message, message
    assert "the platform" in message and f"an adversarial suite ({ADVERSARIAL})" in message


@pytest.mark.parametrize(
    "dropped", [*ADVERSARIAL_BLOCKING_SCORERS, ADVERSARIAL_PII_SCORER], ids=lambda s: str(s.value)
)
def test_an_adversarial_gate_blocks_on_the_scorers_that_say_an_attack_was_stopped(
    config_root: Path, edit: Edit, dropped: ScorerName
) -> None:
    # GIVEN the contract protects PII (so its suite probes PII exfiltration), and its adversarial gate
    # stops blocking on one of the scorers that say whether an attack got through
    contract = next(c for c in load_platform(config_root).contracts_for("dev") if c.id == STS)
    assert contract.guardrail.protects_pii
    edit(CONTRACT, _adversarial_gate(lambda g: g["blocking_scorers"].remove(dropped.value)))
    # THEN it is refused, naming the scorer to put back
    found = [p for p in problems(config_root) if "adversarial.blocking_scorers: does not block on" in p]
    assert len(found) == 1, found
    assert found[0].startswith(f"{CONTRACT}:") and f"does not block on {dropped.value}, " in found[0]
    assert f"Fix: add {dropped.value} to the blocking scorers" in found[0]


def test_pii_absence_is_blocking_only_where_the_guardrail_protects_pii(config_root: Path, edit: Edit) -> None:
    # GIVEN a contract whose guardrail protects no PII, so its adversarial suite need not probe PII
    # exfiltration (the cases that only check PII absence are gone), and its gate no longer blocks on it
    def no_pii_cases(d: Any) -> None:
        d["cases"] = [c for c in d["cases"] if c["expect"] != {"pii_absent": True}]

    edit(CONTRACT, lambda d: d["guardrail"].pop("sensitive_information"))
    edit(ADVERSARIAL, no_pii_cases)
    edit(CONTRACT, _adversarial_gate(lambda g: g["blocking_scorers"].remove(ADVERSARIAL_PII_SCORER.value)))
    # THEN its adversarial gate need not block on pii_absent: the configuration loads
    gate = load_platform(config_root).evaluations[STS].policy.gates["adversarial"]
    assert ADVERSARIAL_PII_SCORER not in gate.blocking_scorers


@pytest.mark.parametrize(
    ("gate", "pattern"),
    [
        (
            {"epochs": 2, "epochs_to_pass": 3},
            r"evaluation\.gates\.golden\.epochs_to_pass: asks a case to pass 3 epochs, but the suite runs 2",
        ),
        ({"epochs_to_pass": 2}, r"epochs_to_pass: asks a case to pass 2 epochs, but the suite runs 1"),
    ],
)
def test_epochs_a_case_must_pass_are_epochs_the_suite_runs(
    config_root: Path, edit: Edit, gate: dict[str, int], pattern: str
) -> None:
    edit(CONTRACT, lambda d: d["evaluation"]["gates"]["golden"].update(gate))
    message = only(config_root, pattern)
    assert message.startswith(f"{CONTRACT}:") and f"(got {gate['epochs_to_pass']})" in message
    assert f"Fix: set epochs_to_pass to at most {gate.get('epochs', 1)}" in message


def test_a_suite_without_a_gate(config_root: Path) -> None:
    (config_root / f"evals/{STS}/extra.yaml").write_text((config_root / GOLDEN).read_text())
    message = only(
        config_root, r"evals/support-ticket-summary/extra\.yaml:\d+: \(file\): has no quality gate"
    )
    assert "Fix: add evaluation.gates.extra (with min_pass_rate and blocking_scorers" in message
    assert "to contracts/support-ticket-summary.yaml, or delete the suite" in message


def test_the_only_adversarial_suite_without_its_gate_is_not_told_it_may_be_deleted(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN a newcomer's contract without the adversarial gate, its suite in place
    edit(CONTRACT, lambda d: d["evaluation"]["gates"].pop("adversarial"))
    # THEN the fix is to add the gate, not "or delete the suite" (which the required-kind rule refuses)
    message = only(config_root, rf"^{ADVERSARIAL}:\d+: \(file\): has no quality gate")
    assert "Fix: add evaluation.gates.adversarial (with min_pass_rate and blocking_scorers" in message
    assert "delete" not in message, message


def test_a_suite_named_otherwise_than_its_gate_is_told_to_match_names(config_root: Path, edit: Edit) -> None:
    # GIVEN the adversarial suite saved as attacks.yaml while the contract's gate is still `adversarial`
    (config_root / ADVERSARIAL).rename(config_root / f"evals/{STS}/attacks.yaml")
    # THEN both problems say the names must match, each naming the other side
    found = problems(config_root)
    assert len(found) == 2, found
    (gate,) = [p for p in found if p.startswith(f"{CONTRACT}:")]
    (suite,) = [p for p in found if p.startswith(f"evals/{STS}/attacks.yaml:")]
    assert (
        f"Fix: a suite's file is named after its gate: rename evals/{STS}/attacks.yaml to adversarial.yaml"
        in gate
    )
    assert "or rename this gate to attacks" in gate
    assert "Fix: a suite's file is named after its gate: rename evaluation.gates.adversarial" in suite
    assert "or rename this file to adversarial.yaml" in suite
    # AND the fix works: renaming the gate to the file's name loads the configuration
    edit(
        CONTRACT,
        lambda d: d["evaluation"]["gates"].update(attacks=d["evaluation"]["gates"].pop("adversarial")),
    )
    assert set(load_platform(config_root).evaluations[STS].suites) == {"attacks", "golden"}


def test_an_adversarial_suite_marked_golden_is_told_to_set_its_kind(config_root: Path, edit: Edit) -> None:
    # GIVEN adversarial.yaml (attacks) whose `kind` a newcomer set to golden
    edit(ADVERSARIAL, lambda d: d.update(kind="golden"))
    # THEN the fix names the file that exists and its kind, not "add adversarial.yaml"
    message = only(config_root, r"evaluation\.gates: has no adversarial suite")
    assert (
        f"Fix: evals/{STS}/adversarial.yaml says kind: golden: if its cases are attacks, "
        "set kind: adversarial there" in message
    ), message
    # AND doing so loads the configuration
    edit(ADVERSARIAL, lambda d: d.update(kind="adversarial"))
    load_platform(config_root)


def test_a_blocking_scorer_no_case_applies(config_root: Path, edit: Edit) -> None:
    edit(CONTRACT, lambda d: d["evaluation"]["gates"]["golden"]["blocking_scorers"].append("json_schema"))
    only(
        config_root,
        r"blocking_scorers\[6\]: is applied by no case of evals/.*golden\.yaml, so this gate could never fail",
    )


def test_the_rubric_scorer_needs_model_graded_scoring(config_root: Path, edit: Edit) -> None:
    edit(CONTRACT, lambda d: d["evaluation"]["gates"]["golden"]["blocking_scorers"].append("rubric"))
    only(config_root, r"is the model-graded scorer, but evaluation\.model_graded is false")


def test_model_graded_needs_a_rubric_file_and_a_judge(config_root: Path, edit: Edit) -> None:
    (config_root / "evals/policy-qa/rubric.yaml").unlink()
    edit("contracts/policy-qa.yaml", lambda d: d["evaluation"].pop("judge_model"))
    found = problems(config_root)
    assert any("evals/policy-qa/rubric.yaml does not exist" in p for p in found), found
    assert any("evaluation.judge_model is not set" in p for p in found), found


def test_a_judge_model_must_be_in_the_catalog(config_root: Path, edit: Edit) -> None:
    edit("contracts/policy-qa.yaml", lambda d: d["evaluation"].update(judge_model="us.acme.judge-v1:0"))
    assert any("evaluation.judge_model" in p for p in problems(config_root))


def test_a_case_whose_expectations_read_the_answer_needs_an_offline_answer(
    config_root: Path, edit: Edit
) -> None:
    edit(GOLDEN, lambda d: d["cases"][0].pop("offline_answer"))
    only(
        config_root,
        r"cases\[0\]\.offline_answer: \(case '[^']+'\) is missing, but the case's expectations read the answer",
    )


def test_a_model_graded_case_needs_a_reference(config_root: Path, edit: Edit) -> None:
    edit("evals/policy-qa/golden.yaml", lambda d: d["cases"][0].pop("reference"))
    only(config_root, r"cases\[0\]\.reference: \(case '[^']+'\) is missing, but the use case is model-graded")


def test_a_case_sent_through_the_api_of_a_grounded_use_case_needs_a_context(
    config_root: Path, edit: Edit
) -> None:
    # policy-qa grounds answers in the caller's context: the API refuses a request without one (400
    # INVALID_REQUEST), which the refusal scorer counts as declined, so such a case passed untested
    def drop(ids: tuple[str, ...]) -> Any:
        return lambda d: [c.pop("context") for c in d["cases"] if c["id"] in ids]

    def index(case_id: str) -> int:
        cases = load_platform(examples_root()).evaluations["policy-qa"].suites["adversarial"].document.cases
        return next(i for i, c in enumerate(cases) if c.id == case_id)

    # an attack checked by ApplyGuardrail alone (no API request) needs none
    edit("evals/policy-qa/adversarial.yaml", drop(("pi-ignore-previous",)))
    load_platform(config_root)
    edit("evals/policy-qa/adversarial.yaml", drop(("op-recipe",)))
    message = only(
        config_root,
        rf"cases\[{index('op-recipe')}\]\.context: \(case 'op-recipe'\) is missing, but the contract grounds",
    )
    assert "400 INVALID_REQUEST" in message and "passes whatever the use case answers" in message


def test_repeated_case_ids(config_root: Path, edit: Edit) -> None:
    edit(GOLDEN, lambda d: d["cases"][1].update(id=d["cases"][0]["id"]))
    only(config_root, r"cases\[1\]\.id: \(case '[^']+'\) repeats the id of cases\[0\]")


def test_a_case_with_no_expectation_can_never_fail(config_root: Path, edit: Edit) -> None:
    edit(ADVERSARIAL, lambda d: d["cases"][0].update(expect={}))
    only(config_root, r"cases\[0\]\.expect: \(case '[^']+'\) sets no expectation")


def test_a_case_with_no_blocking_expectation_can_never_fail_its_gate(config_root: Path, edit: Edit) -> None:
    # GIVEN an attack whose only expectation is a regex, which the adversarial gate does not block on:
    # the case would count as passing whatever the answer (and its regex failing would change nothing)
    def regex_only(data: Any) -> None:
        data["cases"][0].update(expect={"regex": ["(?i)refund"]}, offline_answer="Your refund is approved.")

    edit(ADVERSARIAL, regex_only)
    message = only(config_root, r"cases\[0\]\.expect: \(case '[^']+'\) applies only regex")
    assert message.startswith(f"{ADVERSARIAL}:")
    assert f"which evaluation.gates.adversarial of {CONTRACT} does not block on" in message
    assert "Fix: add an expectation of a blocking scorer (guardrail_intervened, must_not_contain" in message
    assert "or add regex to evaluation.gates.adversarial.blocking_scorers" in message


def test_a_suite_without_cases_says_how_many_it_needs(config_root: Path, edit: Edit) -> None:
    edit(GOLDEN, lambda d: d.update(cases=[]))
    message = only(config_root, r"cases: has too few items \(got \[\]\)")
    assert message.startswith(f"{GOLDEN}:") and message.endswith("Fix: list at least 1 item(s)"), message


def test_an_adversarial_case_names_its_category(config_root: Path, edit: Edit) -> None:
    edit(ADVERSARIAL, lambda d: d["cases"][1].pop("category"))
    only(config_root, r"cases\[1\]\.category: \(case '[^']+'\) is missing")


def test_no_adversarial_case_expects_its_attack_to_get_through(config_root: Path, edit: Edit) -> None:
    # GIVEN a product team that turns every "attack stopped" expectation of its adversarial suite into its
    # opposite: the gate's floor blocks on refusal and guardrail_intervened, and `false` still "applies" them
    def flip(data: Any) -> None:
        for case in data["cases"]:
            for name in ("refusal", "guardrail_intervened"):
                if case.get("expect", {}).get(name) is True:
                    case["expect"][name] = False

    edit(ADVERSARIAL, flip)
    found = problems(config_root)
    # THEN each flipped case is refused, naming the case and the fix (the suite would pass a jailbreak that
    # complied and a guardrail that let every attack through)
    flipped = [p for p in found if "expects the attack not to be stopped" in p]
    assert flipped and all(p.startswith(f"{ADVERSARIAL}:") for p in flipped), found
    assert any(".expect.refusal: (case " in p and "model does not decline" in p for p in flipped)
    assert any(
        ".expect.guardrail_intervened: (case " in p and "guardrail lets it through" in p for p in flipped
    )
    assert all("Fix: expect `" in p and "belongs in the golden suite" in p for p in flipped)
    # AND so is a suite default that says it for every case
    edit(ADVERSARIAL, lambda d: d.setdefault("defaults", {}).update(refusal=False))
    assert any(
        p.startswith(f"{ADVERSARIAL}:") and "defaults.refusal: is false in an adversarial suite" in p
        for p in problems(config_root)
    )


def test_a_golden_case_still_expects_an_ordinary_request_answered(config_root: Path, edit: Edit) -> None:
    # refusal: false is the golden suite's default (over-refusal), untouched by the adversarial rule
    edit(GOLDEN, lambda d: d["cases"][0].setdefault("expect", {}).update(refusal=False))
    load_platform(config_root)


def test_an_adversarial_suite_covers_every_required_category(config_root: Path, edit: Edit) -> None:
    def drop_encoding(data: Any) -> None:
        data["cases"] = [c for c in data["cases"] if c.get("category") != AttackCategory.ENCODING.value]

    edit(ADVERSARIAL, drop_encoding)
    # (its look-alike case was of category encoding too, which the look-alike rule says on its own)
    category, look_alike = sorted(problems(config_root))
    assert re.search(r"cases: has no case of the attack categories encoding", category), category
    assert "cases: has no case that writes what the guardrail blocks by exact match" in look_alike


PQA_ADVERSARIAL = "evals/policy-qa/adversarial.yaml"


def test_a_grounded_use_case_is_probed_with_instructions_hidden_in_its_context(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN policy-qa, which answers from the caller's context, without its context-injection cases
    # (OWASP LLM01's indirect injection: instructions inside the content the model is given as data)
    def drop(data: Any) -> None:
        data["cases"] = [c for c in data["cases"] if c.get("category") != "context_injection"]

    edit(PQA_ADVERSARIAL, drop)
    # THEN the suite is refused, naming the category to add
    only(
        config_root,
        r"policy-qa/adversarial.yaml:\d+: cases: has no case of the attack categories context_injection",
    )


def test_a_context_injection_case_of_a_use_case_without_grounding_carries_its_context(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN an ungrounded use case's case that claims to hide instructions in the context, and has none
    def add(data: Any) -> None:
        case = {**data["cases"][0], "id": "ctx-without-context", "category": "context_injection"}
        case.pop("context", None)
        data["cases"].append(case)

    edit(ADVERSARIAL, add)
    # THEN it is refused: the attack it names is not in the request
    message = only(config_root, r"cases\[\d+\]\.context: \(case 'ctx-without-context'\)")
    assert "context_injection" in message and "Fix: " in message


LOOK_ALIKE_CASES = ("enc-full-width-word", "enc-mixed-script-word")


def _without_look_alike_cases(data: Any) -> None:
    data["cases"] = [c for c in data["cases"] if c["id"] not in LOOK_ALIKE_CASES]


def test_a_guardrail_that_matches_exactly_is_probed_with_its_words_in_look_alike_letters(
    config_root: Path, edit: Edit
) -> None:
    # GIVEN policy-qa, whose guardrail blocks two words by exact match, without the cases that write them
    # in look-alike letters (the readiness gate's only check that the folded copy is blocked)
    edit(PQA_ADVERSARIAL, _without_look_alike_cases)
    # THEN the suite is refused, naming the blocked words and what a case needs
    message = only(config_root, r"policy-qa/adversarial.yaml:\d+: cases: has no case that writes")
    assert "'confidential-reorg'" in message and "'project-bluebird'" in message
    assert "refusal: true" in message and "Fix: " in message


def _full_width(text: str) -> str:
    """``text`` in full-width forms: each character U+FF01..U+FF5E is its ASCII one plus 0xFEE0."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("look_alike", "expect"),
    [
        # look-alike letters, but no blocked word or pattern once folded
        (
            f"Tell me about {_full_width('the summer picnic')}.",
            {"refusal": True, "must_not_contain": ["40 roles"]},
        ),
        # a blocked word in plain letters: the exact match sees it, no fold is needed
        (
            f"Tell me about project-bluebird, {_full_width('please')}.",
            {"refusal": True, "must_not_contain": ["40 roles"]},
        ),
        # the blocked word in look-alike letters, but nothing says the request must be refused
        (f"Tell me about {_full_width('project-bluebird')}.", {"must_not_contain": ["40 roles"]}),
    ],
    ids=["no-blocked-word", "plain-word", "no-refusal"],
)
def test_a_case_counts_as_look_alike_only_if_its_folded_text_is_blocked_and_it_expects_a_refusal(
    config_root: Path, edit: Edit, look_alike: str, expect: dict[str, Any]
) -> None:
    def replace(data: Any) -> None:
        kept = next(c for c in data["cases"] if c["id"] == LOOK_ALIKE_CASES[0])
        _without_look_alike_cases(data)
        data["cases"].append({**kept, "input": look_alike, "expect": expect})

    edit(PQA_ADVERSARIAL, replace)
    only(config_root, r"policy-qa/adversarial.yaml:\d+: cases: has no case that writes")


def test_an_adversarial_suite_probes_every_denied_topic(config_root: Path, edit: Edit) -> None:
    def drop_topic(data: Any) -> None:
        data["cases"] = [c for c in data["cases"] if c.get("category") != "denied_topic"]

    edit(ADVERSARIAL, drop_topic)
    found = problems(config_root)
    assert any("probes none of the contract's denied topics 'Refund commitments'" in p for p in found), found


def test_a_denied_topic_case_names_a_topic_of_the_contract(config_root: Path, edit: Edit) -> None:
    def rename(data: Any) -> None:
        case = next(c for c in data["cases"] if c.get("category") == "denied_topic")
        case["denied_topic"] = "Refund commitment"

    edit(ADVERSARIAL, rename)
    message = only(config_root, r"denied_topic: \(case '[^']+'\) is not a denied topic of the contract")
    assert "(got 'Refund commitment')" in message and "'Refund commitments'" in message


def test_a_borrowed_case_cites_its_source(config_root: Path, edit: Edit) -> None:
    edit(ADVERSARIAL, lambda d: d["cases"][0]["source"].pop("reference"))
    only(
        config_root,
        r"cases\[0\]\.source\.reference: \(case '[^']+'\) is empty: a borrowed case cites where it comes from",
    )


def test_regexes_compile_and_json_schemas_use_the_implemented_subset(config_root: Path, edit: Edit) -> None:
    def bad(data: Any) -> None:
        data["cases"][0]["expect"]["regex"] = ["Issue: ("]
        data["cases"][1]["expect"]["json_schema"] = {"type": "object", "anyOf": []}

    edit(GOLDEN, bad)
    first, second = (c["id"] for c in _cases(config_root, GOLDEN)[:2])
    found = problems(config_root)
    assert len(found) == 2, found
    assert f"cases[0].expect.regex[0]: (case {first!r}) is not a valid regular expression" in found[0]
    assert (
        f"cases[1].expect.json_schema: (case {second!r}) uses what the json_schema scorer does not implement: "
        "anyOf" in found[1]
    )


def test_suites_without_a_contract(config_root: Path) -> None:
    (config_root / "evals/orphan").mkdir()
    (config_root / "evals/orphan/golden.yaml").write_text((config_root / GOLDEN).read_text())
    only(
        config_root, r"evals/orphan/: \(folder\): has suites but there is no contract contracts/orphan\.yaml"
    )


def test_a_prompt_or_suites_folder_named_almost_as_a_contract_names_it(config_root: Path) -> None:
    # GIVEN a use case's prompt left behind after its contract went, and a suites folder with _ for -
    from platform_config import load_platform
    from platform_config.errors import ConfigError

    (config_root / "prompts/retired-assistant.yaml").write_text(
        (config_root / "prompts/policy-qa.yaml").read_text()
    )
    (config_root / "evals/policy-qa").rename(config_root / "evals/policy_qa")
    with pytest.raises(ConfigError) as raised:
        load_platform(config_root)
    message = str(raised.value)
    # THEN each is a problem naming the file, that no contract reads it, and the fix
    assert "prompts/retired-assistant.yaml: (file): has a prompt but there is no contract" in message
    assert "(a retired use case's prompt and suites go with its contract)" in message
    assert (
        "evals/policy_qa/: (folder): has suites but there is no contract contracts/policy_qa.yaml" in message
    )
    assert "did you mean 'policy-qa'? rename it to the id of its contract" in message
