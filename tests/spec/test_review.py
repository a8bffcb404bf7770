"""platform_spec.review: who goes to people, how a live output is scored, who a caller is."""

from __future__ import annotations

import math
import uuid

import pytest

from platform_spec.contract import ReviewFlags, ReviewMode, ReviewPolicy, RiskTier
from platform_spec.evaluation import Expectations
from platform_spec.review import (
    MAX_MESSAGE_BYTES,
    LiveScoring,
    ReviewedTurn,
    ReviewInput,
    ReviewMessage,
    ReviewReason,
    ReviewTable,
    access_key,
    correction_read_timeout_s,
    identity_name,
    is_session_of,
    iso_now,
    negative_feedback_goes_to_people,
    new_item,
    overall_score,
    parse_iso,
    pending_since,
    people_reasons,
    principal_of,
    sample_fraction,
    score_output,
    self_review,
    to_pending_update,
)
from platform_spec.scoring import ScorerName
from tests.support.sqs import refused_in, sqs_accepts

#: Request ids as API Gateway issues them (UUIDs), made reproducible.
IDS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"request-{i}")) for i in range(20_000)]


def binomial_bound(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    """n*p +- sigmas standard deviations: a fair coin lands outside 5 sigmas about once in 3.5 million."""
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.25])
def test_the_sampled_share_lands_within_its_binomial_bound(rate: float) -> None:
    sampled = sum(sample_fraction("policy-qa", rid) < rate for rid in IDS)
    low, high = binomial_bound(len(IDS), rate)
    assert low <= sampled <= high, (sampled, low, high)


def test_sampling_is_reproducible_and_independent_between_use_cases() -> None:
    first = [sample_fraction("policy-qa", rid) < 0.05 for rid in IDS[:2000]]
    assert first == [sample_fraction("policy-qa", rid) < 0.05 for rid in IDS[:2000]]
    other = [sample_fraction("rfp-drafting", rid) < 0.05 for rid in IDS[:2000]]
    both = sum(a and b for a, b in zip(first, other, strict=True))
    # independent selections overlap on about rate^2 of requests (0.25% of 2000 = 5), not on rate (100)
    assert both < 25


def _reasons(policy: ReviewPolicy, **overrides: object) -> tuple[ReviewReason, ...]:
    arguments: dict[str, object] = {
        "risk_tier": RiskTier.LOW,
        "use_case": "uc",
        "request_id": "r",
        "intervened": False,
        "score": 1.0,
    }
    arguments.update(overrides)
    return people_reasons(policy, **arguments)  # type: ignore[arg-type]


def test_mode_none_sends_nothing_even_when_flagged_and_all_sends_everything() -> None:
    flagged = {"intervened": True, "score": 0.0, "risk_tier": RiskTier.HIGH, "negative_feedback": True}
    assert _reasons(ReviewPolicy(mode=ReviewMode.NONE), **flagged) == ()
    assert _reasons(ReviewPolicy(mode=ReviewMode.ALL)) == (ReviewReason.ALL,)


@pytest.mark.parametrize("mode", [ReviewMode.NONE, ReviewMode.FLAGGED, ReviewMode.SAMPLED])
@pytest.mark.parametrize("flag", [True, False])
def test_a_negative_rating_goes_to_people_by_the_rule_people_reasons_applies(
    mode: ReviewMode, flag: bool
) -> None:
    flags = ReviewFlags(guardrail_intervention=False, high_risk=False, low_score=None, negative_feedback=flag)
    policy = ReviewPolicy(mode=mode, flags=flags, sample_rate=0.5 if mode is ReviewMode.SAMPLED else 0.0)
    expected = flag and mode is not ReviewMode.NONE
    assert negative_feedback_goes_to_people(policy) is expected
    assert (ReviewReason.NEGATIVE_FEEDBACK in _reasons(policy, negative_feedback=True)) is expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"intervened": True}, ReviewReason.GUARDRAIL_INTERVENTION),
        ({"risk_tier": RiskTier.HIGH}, ReviewReason.HIGH_RISK),
        ({"score": 0.49}, ReviewReason.LOW_SCORE),
        ({"negative_feedback": True}, ReviewReason.NEGATIVE_FEEDBACK),
    ],
)
def test_each_flag_sends_an_output_to_people_only_while_it_is_on(
    overrides: dict[str, object], reason: ReviewReason
) -> None:
    assert _reasons(ReviewPolicy(), **overrides) == (reason,)
    off = ReviewFlags(guardrail_intervention=False, high_risk=False, low_score=None, negative_feedback=False)
    assert _reasons(ReviewPolicy(flags=off), **overrides) == ()


def test_an_unflagged_output_stays_scored_only_and_a_score_at_the_threshold_is_not_low() -> None:
    assert _reasons(ReviewPolicy()) == ()
    assert _reasons(ReviewPolicy(), score=0.5) == ()
    assert _reasons(ReviewPolicy(), score=None) == ()


def test_sampled_mode_adds_the_hashed_share_to_the_flags() -> None:
    policy = ReviewPolicy(mode=ReviewMode.SAMPLED, sample_rate=0.5)
    chosen = next(rid for rid in IDS if sample_fraction("uc", rid) < 0.5)
    skipped = next(rid for rid in IDS if sample_fraction("uc", rid) >= 0.5)
    assert _reasons(policy, request_id=chosen) == (ReviewReason.SAMPLED,)
    assert _reasons(policy, request_id=skipped, intervened=True) == (ReviewReason.GUARDRAIL_INTERVENTION,)
    assert _reasons(ReviewPolicy(mode=ReviewMode.FLAGGED), request_id=chosen) == ()


def test_a_role_session_is_its_role_and_only_the_reviewer_roles_sessions_are_reviewers() -> None:
    session = "arn:aws:sts::111111111111:assumed-role/Reviewers/alice"
    assert principal_of(session) == "arn:aws:sts::111111111111:assumed-role/Reviewers"
    assert principal_of("arn:aws:iam::111111111111:user/bob") == "arn:aws:iam::111111111111:user/bob"
    assert principal_of(None) == "anonymous"
    role = "arn:aws:iam::111111111111:role/team/Reviewers"  # a path is not part of the session ARN
    assert is_session_of(session, role)
    assert not is_session_of("arn:aws:sts::222222222222:assumed-role/Reviewers/alice", role)
    assert not is_session_of("arn:aws:sts::111111111111:assumed-role/Reviewers2/alice", role)
    assert not is_session_of("arn:aws:iam::111111111111:user/Reviewers", role)
    assert not is_session_of(None, role)


LIVE = LiveScoring(
    expectations=Expectations(must_contain=("Issue:",), max_words=20, pii_absent=True, refusal=False),
    pii_entities=("EMAIL",),
    blocked_messages=("Blocked.",),
)


def test_a_live_output_is_scored_by_the_suites_defaults_and_is_as_good_as_its_worst_check() -> None:
    good = score_output(LIVE, "Issue: a late parcel.", intervened=False)
    assert [r.scorer for r in good] == [
        ScorerName.MUST_CONTAIN,
        ScorerName.LENGTH,
        ScorerName.PII_ABSENT,
        ScorerName.REFUSAL,
    ]
    assert overall_score(good) == 1.0
    leaked = score_output(LIVE, "Issue: write to dana@example.com.", intervened=False)
    assert overall_score(leaked) == 0.0
    assert [r.scorer for r in leaked if not r.passed] == [ScorerName.PII_ABSENT]


def test_a_blocked_output_is_not_scored_its_intervention_is_its_own_flag() -> None:
    assert score_output(LIVE, "Blocked.", intervened=True) == ()
    assert overall_score(()) is None


def _message(**overrides: object) -> ReviewMessage:
    values: dict[str, object] = {
        "review_id": "r-1",
        "use_case": "uc",
        "created_at": iso_now(1_795_431_600.25),
        "caller": "arn:aws:sts::1:assumed-role/c",
        "prompt_version": "v1",
        "guardrail_action": "NONE",
        "text_stored": True,
        "input": ReviewInput(messages=(ReviewedTurn(role="user", content="q"),), context="c" * 10),
        "output": "answer",
    }
    values.update(overrides)
    return ReviewMessage(**values)  # type: ignore[arg-type]


def test_a_message_round_trips_and_times_sort_as_text() -> None:
    message = _message()
    assert ReviewMessage.from_json(message.to_json()) == message
    assert message.created_at == "2026-11-23T11:00:00.250Z"
    assert parse_iso(message.created_at) == 1_795_431_600.25
    assert iso_now(1_795_431_600.25) < iso_now(1_795_431_601)


def test_a_message_too_large_for_the_queue_drops_the_context_then_all_text() -> None:
    big_context = _message(
        input=ReviewInput(messages=(ReviewedTurn(role="user", content="q"),), context="x" * MAX_MESSAGE_BYTES)
    )
    fitted = big_context.fitted()
    assert fitted.input is not None and fitted.input.context is None and fitted.output == "answer"
    assert fitted.text_note and "context" in fitted.text_note
    assert len(fitted.to_json().encode()) <= MAX_MESSAGE_BYTES
    big_answer = _message(output="y" * MAX_MESSAGE_BYTES)
    fitted = big_answer.fitted()
    assert fitted.input is None and fitted.output is None and fitted.text_note
    small = _message()
    assert small.fitted() == small


#: Every character SQS refuses in a body (C0 controls but tab, LF, CR; the surrogates; U+FFFE, U+FFFF).
SQS_REFUSED = [chr(c) for c in range(0x110000) if not sqs_accepts(chr(c))]


def test_the_module_refuses_exactly_the_characters_sqs_documents() -> None:
    from platform_spec.review import SQS_REFUSED_CHARS

    # the documented set, as this file reads it: C0 controls but tab, LF and CR; the surrogates; two
    # noncharacters
    assert len(SQS_REFUSED) == 9 + 2 + 18 + 2048 + 2
    # (surrogates by chr: ruff reads every lone-surrogate literal as the same character)
    assert {"\x00", "\x0b", "\x1f", chr(0xD800), chr(0xDFFF), "\ufffe", "\uffff"} <= set(SQS_REFUSED)
    assert not {"\t", "\n", "\r", " ", "\ud7ff", "\ue000", "\ufffd", "\U0010ffff"} & set(SQS_REFUSED)
    every = "".join(map(chr, range(0x110000)))
    assert SQS_REFUSED_CHARS.findall(every) == SQS_REFUSED


def test_every_character_sqs_refuses_is_escaped_in_the_body_and_read_back_as_sent() -> None:
    # GIVEN model output, a question, a context and request metadata holding every character SQS refuses
    # (one at a time between letters: a high surrogate next to a low one would read back as one character)
    text = "a" + "b".join(SQS_REFUSED) + "c"
    message = _message(
        input=ReviewInput(messages=(ReviewedTurn(role="user", content=text),), context=text),
        output=text,
        request_metadata={"requestId": "r-1", "note": text},
    )
    # WHEN it becomes the queue message's body
    body = message.fitted().to_json()
    # THEN the body holds none of them (SQS would refuse it), and it reads back as the same message
    assert refused_in(body) == []
    assert ReviewMessage.from_json(body) == message
    # each as a JSON escape (6 bytes, 4 hex digits: every refused character is in the BMP)
    assert "\\ufffe" in body and "\\ud800" in body and "\\u0000" in body


@pytest.mark.parametrize("refused", ["\uffff", "\ufffe", "\ud800", "\udfff"])
def test_a_message_of_refused_characters_is_fitted_by_its_escaped_size(refused: str) -> None:
    # GIVEN text of refused characters small enough raw (3 bytes each in UTF-8) but not escaped (6 bytes
    # each: "\\uffff"); C0 controls are left out: json.dumps escapes them anyway
    n = MAX_MESSAGE_BYTES // 5
    big_context = _message(
        input=ReviewInput(messages=(ReviewedTurn(role="user", content="q"),), context=refused * n)
    )
    # WHEN fitted to the queue
    fitted = big_context.fitted()
    # THEN the context goes, and the body is within SQS's limit and holds no refused character
    body = fitted.to_json()
    assert fitted.input is not None and fitted.input.context is None and fitted.output == "answer"
    assert len(body.encode()) <= MAX_MESSAGE_BYTES and refused_in(body) == []
    big_answer = _message(output=refused * n)
    body = big_answer.fitted().to_json()
    assert ReviewMessage.from_json(body).output is None
    assert len(body.encode()) <= MAX_MESSAGE_BYTES and refused_in(body) == []
    # AND text that fits escaped is kept whole
    fits = _message(output=refused * (MAX_MESSAGE_BYTES // 7))
    body = fits.fitted().to_json()
    assert len(body.encode()) <= MAX_MESSAGE_BYTES and refused_in(body) == []
    assert ReviewMessage.from_json(body) == fits


def test_an_item_pending_from_the_start_is_pending_since_its_answer_and_a_scored_one_is_not_pending() -> None:
    policy = ReviewPolicy()
    pending = new_item(_message(), policy=policy, reasons=(ReviewReason.SAMPLED,), scores=(), now=0)
    assert pending["Item"][ReviewTable.PENDING_SINCE] == {"S": "2026-11-23T11:00:00.250Z"}
    scored = new_item(_message(), policy=policy, reasons=(), scores=(), now=0)
    assert (
        ReviewTable.PENDING_SINCE not in scored["Item"] and ReviewTable.PENDING_USE_CASE not in scored["Item"]
    )


def test_negative_feedback_starts_the_sla_clock_when_it_sends_the_item_to_people() -> None:
    now = parse_iso("2026-12-03T11:00:00.000Z")  # ten days after the answer
    update = to_pending_update("r-1", use_case="policy-qa", reason=ReviewReason.NEGATIVE_FEEDBACK, now=now)
    assigned = update["ExpressionAttributeNames"]["#since"]
    assert assigned == ReviewTable.PENDING_SINCE and "#since = :since" in update["UpdateExpression"]
    assert update["ExpressionAttributeValues"][":since"] == {"S": "2026-12-03T11:00:00.000Z"}
    # an item written before pendingSince existed is pending since its answer
    assert pending_since({ReviewTable.CREATED_AT: "2026-11-13T11:00:00.000Z"}) == "2026-11-13T11:00:00.000Z"


ACCOUNT_ROLE = "arn:aws:sts::123456789012:assumed-role"
REVIEWER_ROLE_SESSION = f"{ACCOUNT_ROLE}/Platform-ReviewerRole/alice"


@pytest.mark.parametrize(
    ("reviewer", "caller_arn", "refused"),
    [
        # the reviewer role's own session asked (principal equal), whatever the session names
        (
            REVIEWER_ROLE_SESSION,
            f"{ACCOUNT_ROLE}/Platform-ReviewerRole/bob",
            "a session of the request's caller",
        ),
        # the same name asked from a role session, from an IAM user, from a federated user
        (
            REVIEWER_ROLE_SESSION,
            f"{ACCOUNT_ROLE}/support-console/alice",
            "has the name the request was made under",
        ),
        (REVIEWER_ROLE_SESSION, "arn:aws:iam::123456789012:user/team/alice", "has the name"),
        (REVIEWER_ROLE_SESSION, "arn:aws:sts::123456789012:federated-user/alice", "has the name"),
        # another name: allowed (the rule cannot see who assumed the reviewer role)
        (REVIEWER_ROLE_SESSION, f"{ACCOUNT_ROLE}/support-console/bob", None),
        (REVIEWER_ROLE_SESSION, "arn:aws:iam::123456789012:user/alicia", None),
        # an item queued before caller_arn was recorded: the principal alone
        (REVIEWER_ROLE_SESSION, None, None),
    ],
)
def test_a_reviewer_is_refused_on_a_request_it_made_itself(
    reviewer: str, caller_arn: str | None, refused: str | None
) -> None:
    caller = principal_of(caller_arn) if caller_arn else f"{ACCOUNT_ROLE}/support-console"
    reason = self_review(reviewer, caller=caller, caller_arn=caller_arn)
    assert (reason is None) if refused is None else (reason is not None and refused in reason), reason


def test_the_readiness_walk_decides_under_another_name_than_it_asks_under() -> None:
    # The gate's readiness role may call the use cases and assume the reviewer role; its walk asks as the
    # gate's session and decides as REVIEWER_SESSION, which the rule allows by design (README "Human review").
    from delivery.gates import GATE_SESSION
    from human_review.exercise import REVIEWER_SESSION

    gate = f"{ACCOUNT_ROLE}/bedrock-platform-staging-readiness/{GATE_SESSION}"
    decider = f"{ACCOUNT_ROLE}/Staging-Platform-HumanReviewReviewerRole/{REVIEWER_SESSION}"
    assert self_review(decider, caller=principal_of(gate), caller_arn=gate) is None
    # the same walk deciding under the gate's own session name would be refused
    same_name = f"{ACCOUNT_ROLE}/Staging-Platform-HumanReviewReviewerRole/{GATE_SESSION}"
    assert self_review(same_name, caller=principal_of(gate), caller_arn=gate) is not None


def test_identity_names_and_access_keys_come_from_the_authenticated_identity_only() -> None:
    assert identity_name(REVIEWER_ROLE_SESSION) == "alice"
    assert identity_name("arn:aws:iam::123456789012:role/r") is None and identity_name(None) is None
    event = {"requestContext": {"identity": {"accessKey": "ASIAEXAMPLE", "userArn": REVIEWER_ROLE_SESSION}}}
    assert access_key(event) == "ASIAEXAMPLE" and access_key({"body": "{}"}) is None


@pytest.mark.parametrize(
    ("remaining_s", "read_s"),
    [(20.0, 5.0), (19.0, 5.0), (14.6, 1.1), (14.05, 0.5), (13.99, None), (0.0, None)],
)
def test_a_corrections_read_timeout_leaves_the_write_its_worst_case(
    remaining_s: float, read_s: float | None
) -> None:
    # connect (1 s) + the decision's write at its worst (12 s) + the margin (0.5 s) come first; the rest,
    # at most 5 s and in whole tenths (floating-point sums rounded, not truncated), is the read timeout
    assert correction_read_timeout_s(remaining_s) == read_s
