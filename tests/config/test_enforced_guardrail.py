"""``enforced_guardrail`` in environment files and the contract logging flags: every rule names file,
field, value and fix (one ``pytest.raises`` per rule, through ``load_error``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platform_config import PlatformConfig, load_platform
from platform_config.model import ContentFilterType, ContentGuarding, FilterStrength, SensitiveAction
from tests.config.test_loader import (
    DEV,
    POLICY_QA,
    STAGING,
    SUPPORT,
    DeleteField,
    EditYaml,
    SetField,
    check,
    load_error,
    only_problem,
)
from tests.support.contracts import contract_files, enabled_use_cases


def test_every_owning_environment_enforces_the_baseline(real_config: PlatformConfig) -> None:
    for env in real_config.environments:
        assert env.owns_invocation_logging
        enforced = env.enforced_guardrail
        assert enforced is not None and not enforced.opted_out
        policy = enforced.policy()
        assert policy is not None
        assert (enforced.content_guarding.messages, enforced.content_guarding.system) == (
            ContentGuarding.COMPREHENSIVE,
            ContentGuarding.SELECTIVE,
        )
        # the baseline filters prompt attacks only: no platform default filters are added to it
        assert [f.type for f in policy.filters()] == [ContentFilterType.PROMPT_ATTACK]
        prompt_attack = policy.strength_of(ContentFilterType.PROMPT_ATTACK)
        assert prompt_attack.input_strength is FilterStrength.HIGH
        assert policy.sensitive_information.pii_entities["AWS_SECRET_KEY"] is SensitiveAction.BLOCK
        assert [t.name for t in policy.denied_topics] == ["Weapons of mass destruction"]
        assert policy.blocked_input_message


def test_an_owning_environment_must_set_it(config_root: Path, delete_field: DeleteField) -> None:
    delete_field(DEV, "enforced_guardrail")
    error = load_error(config_root, r"dev.yaml:\d+: enforced_guardrail: is required")
    check(only_problem(error), file=DEV, field="enforced_guardrail", fix="opt_out_reason", line=True)


def test_a_non_owning_environment_must_not_set_it(config_root: Path, set_field: SetField) -> None:
    set_field(STAGING, "owns_invocation_logging", False)
    error = load_error(config_root, r"enforced_guardrail: is set, but this environment does not own")
    check(
        only_problem(error),
        file=STAGING,
        field="enforced_guardrail",
        fix="set it in the environment of this account and region that has owns_invocation_logging: true",
    )


def test_an_environment_may_opt_out_with_a_stated_reason(config_root: Path, set_field: SetField) -> None:
    reason = "This sandbox account has an organization-level enforced guardrail from the security team."
    set_field(DEV, "enforced_guardrail", {"opt_out_reason": reason})
    dev = load_platform(config_root).environment("dev")
    assert dev.enforced_guardrail is not None and dev.enforced_guardrail.opted_out
    assert dev.enforced_guardrail.opt_out_reason == reason


def test_an_opt_out_needs_a_real_reason(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "enforced_guardrail", {"opt_out_reason": "todo"})
    error = load_error(config_root, r"opt_out_reason: must state why")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.opt_out_reason",
        value="todo",
        fix="write the reason a reviewer will read",
    )


def test_an_opt_out_cannot_come_with_a_policy(config_root: Path, set_field: SetField) -> None:
    set_field(
        DEV, "enforced_guardrail.opt_out_reason", "The security team enforces an organization guardrail."
    )
    error = load_error(config_root, r"opt_out_reason: cannot be combined with a baseline policy")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.opt_out_reason",
        fix="either remove opt_out_reason",
    )


def test_a_baseline_needs_its_blocked_messages(config_root: Path, delete_field: DeleteField) -> None:
    delete_field(DEV, "enforced_guardrail.blocked_output_message")
    error = load_error(config_root, r"blocked_output_message: is required for a baseline policy")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.blocked_output_message",
        fix="add blocked_output_message: <text>",
    )


def test_prompt_attack_cannot_be_weakened_below_medium(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "enforced_guardrail.prompt_attack", "LOW")
    error = load_error(config_root, r"enforced_guardrail.prompt_attack: is not allowed \(got 'LOW'\)")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.prompt_attack",
        value="LOW",
        fix="'MEDIUM', 'HIGH'",
    )


def test_an_unknown_pii_type_is_refused(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "enforced_guardrail.pii_entities.AWS_SECRET", "BLOCK")
    error = load_error(config_root, r"pii_entities.AWS_SECRET: is not an allowed key")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.pii_entities.AWS_SECRET",
        value="AWS_SECRET",
        fix="did you mean 'AWS_SECRET_KEY'?",
    )


def test_a_denied_topic_named_twice_is_refused(config_root: Path, edit_yaml: EditYaml) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        topics = data["enforced_guardrail"]["denied_topics"]
        topics.append(dict(topics[0]))

    edit_yaml(DEV, duplicate)
    error = load_error(config_root, r"enforced_guardrail.denied_topics: names a topic twice")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.denied_topics",
        value="Weapons of mass destruction",
        fix="give every denied topic a distinct name",
    )


def test_content_guarding_takes_the_service_values(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "enforced_guardrail.content_guarding.system", "ALL")
    error = load_error(config_root, r"content_guarding.system: is not allowed \(got 'ALL'\)")
    check(
        only_problem(error),
        file=DEV,
        field="enforced_guardrail.content_guarding.system",
        value="ALL",
        fix="'SELECTIVE', 'COMPREHENSIVE'",
    )


def test_a_baseline_block_may_not_contradict_a_contract_anonymize(
    config_root: Path, set_field: SetField
) -> None:
    # support-ticket-summary (enabled in dev) anonymizes EMAIL; a baseline BLOCK would refuse its tickets.
    set_field(DEV, "enforced_guardrail.pii_entities.EMAIL", "BLOCK")
    error = load_error(config_root, r"is BLOCK for every call in the account, but contract")
    problems = [p for p in error.problems if p.file == DEV]
    assert {p.field for p in problems} == {"enforced_guardrail.pii_entities.EMAIL"}
    # one problem per contract enabled in dev that anonymizes EMAIL (read from the copy's files, not listed
    # here)
    anonymizing = {
        cid
        for cid, data in contract_files(config_root).items()
        if cid in enabled_use_cases("dev", config_root)
        and data["guardrail"].get("sensitive_information", {}).get("pii_entities", {}).get("EMAIL")
        == "ANONYMIZE"
    }
    assert {"policy-qa", "support-ticket-summary"} <= anonymizing
    assert {p.message.split("contract ")[1].split(" ")[0] for p in problems} == anonymizing
    check(
        problems[0],
        file=DEV,
        field="enforced_guardrail.pii_entities.EMAIL",
        value="BLOCK",
        fix="use ANONYMIZE in the baseline",
        line=False,
    )
    assert SUPPORT in str(error) and POLICY_QA in str(error)


def test_contract_logging_states_video_and_audio_default_off(
    real_config: PlatformConfig, config_root: Path, set_field: SetField
) -> None:
    assert not any(c.logging.video or c.logging.audio for c in real_config.contracts_for("dev"))
    set_field(POLICY_QA, "logging.video", True)
    policy_qa = next(c for c in load_platform(config_root).contracts_for("dev") if c.id == "policy-qa")
    assert (policy_qa.logging.video, policy_qa.logging.audio) == (True, False)


def test_contract_logging_audio_must_be_a_boolean(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "logging.audio", "no")
    error = load_error(config_root, r"logging.audio: must be of type boolean")
    check(only_problem(error), file=POLICY_QA, field="logging.audio", value="no", fix="audio data")
