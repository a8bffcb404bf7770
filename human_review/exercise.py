"""The human review path exercised once, end to end, against any :class:`ReviewClient`: offline
(:class:`OfflineClient`: the functions in-process on moto and the local Bedrock endpoint) or a deployed
environment (:class:`DeployedClient`: the API signed with SigV4, as the caller and as a session of the
reviewer role).

The walk (:func:`exercise`), each step checked, the first failure stops it with what was expected:

1. the caller asks a use case that holds its answers for review: 202 and a review id;
2. the caller fetches the held answer: 202 pending (nothing released before a decision);
3. the caller tries the reviewer endpoints: 403 (API Gateway's IAM policy deployed, ``NOT_A_REVIEWER``
   from the function offline);
4. the scoring function scores the output (offline: the queue is drained into it; deployed: polled);
5. a reviewer lists the use case's pending items: the review id is there, scored;
6. the reviewer reads it: scores, prompt version, model, guardrail version, and the text or where it is;
7. the reviewer approves it with a reason: 200; a second decision: 409 ``REVIEW_ALREADY_DECIDED``;
8. the caller fetches the held answer: 200 ``released`` with the text;
9. the item's audit trail holds the decision, by the reviewer's IAM identity;
10. the caller sends feedback on the request: 201; again: 409 ``FEEDBACK_ALREADY_RECORDED``;
11. where the contract stores text: a second held answer, corrected by the reviewer through the use case's
    guardrail: a correction carrying one of the contract's filtered words is refused (422
    ``CORRECTION_BLOCKED``, the item still pending); the answer's own text (with an e-mail address where
    the contract masks them and is not grounded) is stored, masked where it must be (``MASKED``, the
    address gone), and released to the caller as corrected.

Where the environment enables no use case that holds answers, the walk uses a use case whose negative
feedback sends outputs to people: 1-2 become "ask (200)", then, unless the policy already sent the scored
output to people (sampled or flagged), "send a 1-star rating (``sentToReview``)"; 8 is skipped (nothing
is held).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from platform_config.model import Contract, PlatformConfig
from platform_spec.contract import PiiEntityType, ReviewMode, SensitiveAction
from platform_spec.review import negative_feedback_goes_to_people

ITEM = "/reviews/{reviewId}"
DECISION = "/reviews/{reviewId}/decision"
PENDING = "/reviews"
HELD = "/use-cases/{useCaseId}/reviews/{reviewId}"
FEEDBACK = "/use-cases/{useCaseId}/feedback"
INVOKE = "/use-cases/{useCaseId}/invoke"
APPROVAL_REASON = "Exercise of the review path: checked against the request and approved."
CORRECTION_REASON = "Exercise of the review path: a correction through the use case's guardrail."
#: What step 11 adds to a correction where the contract masks e-mail addresses (a reserved domain).
EXERCISE_EMAIL = "review.exercise@example.com"
#: The deployed walk's reviewer session name and source identity (the reviewer role's trust requires one).
#: The reviewer API refuses a decision under the name the request was made under (403 ``SELF_REVIEW``,
#: ``platform_spec.review.self_review``), and the walk asks under its own session's name
#: (``delivery.gates``: ``bedrock-platform-gate``), so the walk decides as another name by design: the
#: readiness role may both call the use cases and assume the reviewer role, which the rule cannot see.
REVIEWER_SESSION = "human-review-exercise"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


class ReviewClient(Protocol):
    """The API as the caller and as a reviewer; ``settle`` gives the scoring function its turn."""

    def caller(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply: ...

    def reviewer(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply: ...

    def settle(self) -> None: ...


class ExerciseFailed(Exception):
    """One step did not hold: ``step`` and what was expected and seen."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


@dataclass
class Walk:
    use_case: str
    review_id: str = ""
    held: bool = False
    steps: list[str] = field(default_factory=list)

    def ok(self, line: str) -> None:
        self.steps.append(line)


def reject_held(client: ReviewClient, review_id: str, reason: str) -> str | None:
    """Reject, as the reviewer session, a held answer nobody waits for (an evaluation case, a gate's request),
    so it is released to nobody and leaves the reviewers' queue: None when done, else what went wrong."""
    try:
        decided = client.reviewer(
            "POST", DECISION, {"reviewId": review_id}, body={"decision": "reject", "reason": reason}
        )
    except Exception as error:  # the reviewer role cannot be assumed, the API does not answer
        return f"the reviewer session failed: {type(error).__name__}: {error}"
    if decided.status != 200:
        code = (decided.body.get("error") or {}).get("code") or ""
        return f"rejecting it as a reviewer answered HTTP {decided.status} {code}".rstrip()
    return None


def choose_use_case(contracts: Mapping[str, Contract], requested: str | None = None) -> str:
    """The use case to walk: ``requested``, else one that holds answers, else one whose negative feedback
    goes to people. Raises ValueError (with the fix) when none can show the path."""

    def usable(contract: Contract) -> bool:
        review = contract.review
        return (
            review.mode is not ReviewMode.NONE and review.hold_for_review
        ) or negative_feedback_goes_to_people(review)

    if requested is not None:
        if requested not in contracts:
            raise ValueError(
                f"--use-case {requested}: not enabled here (enabled: {', '.join(sorted(contracts)) or 'none'})"
            )
        if not usable(contracts[requested]):
            raise ValueError(
                f"--use-case {requested}: its review policy sends nothing to people (review.mode none, or no "
                "hold and no negative_feedback flag). Fix: pick a use case whose contract reviews outputs"
            )
        return requested
    held = sorted(c.id for c in contracts.values() if c.review.hold_for_review)
    flagged = sorted(c.id for c in contracts.values() if usable(c))
    if held:
        return held[0]
    if flagged:
        return flagged[0]
    raise ValueError(
        "no enabled use case sends outputs to people (every contract has review.mode none). Fix: enable a use "
        "case whose contract reviews outputs in this environment"
    )


def request_body(config: PlatformConfig, use_case: str) -> dict[str, Any]:
    """A request the use case answers: the first case of its golden suite (what the offline emulator has a
    recorded answer for), else a plain question."""
    evaluation = config.evaluations.get(use_case)
    golden = evaluation.suites.get("golden") if evaluation else None
    if golden is not None and golden.document.cases:
        case = golden.document.cases[0]
        body: dict[str, Any] = {"messages": [{"role": "user", "content": case.input}]}
        if case.context is not None:
            body["context"] = case.context
        return body
    return {"messages": [{"role": "user", "content": "What does this service do?"}]}


def _expect(step: str, reply: Reply, status: int, code: str | None = None) -> None:
    """``reply`` has ``status`` and, where given, the error ``code``. A 403 may also come from API
    Gateway's IAM authorization, which answers ``{"Message": ...}`` without a code."""
    error = reply.body.get("error")
    got = error.get("code") if isinstance(error, dict) else None
    code_ok = code is None or got == code or (status == 403 and got is None)
    if reply.status != status or not code_ok:
        raise ExerciseFailed(
            step,
            f"expected HTTP {status}{' ' + code if code else ''}, got {reply.status}: "
            f"{json.dumps(reply.body)[:400]}",
        )


def exercise(
    client: ReviewClient,
    config: PlatformConfig,
    contract: Contract,
    *,
    wait_s: float = 0.0,
    poll_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Walk:
    """Walk the review path once (module docstring). ``wait_s`` bounds how long to wait for the scoring
    function (0 offline, where ``settle`` runs it); raises :class:`ExerciseFailed` at the first failed step."""
    use_case = contract.id
    walk = Walk(use_case=use_case, held=contract.review.hold_for_review)
    uc = {"useCaseId": use_case}

    answer = client.caller("POST", INVOKE, uc, body=request_body(config, use_case))
    if walk.held:
        _expect("1 ask a held use case", answer, 202)
        walk.review_id = str(answer.body.get("reviewId") or "")
        if not walk.review_id or answer.body.get("status") != "pending" or "output" in answer.body:
            raise ExerciseFailed("1 ask a held use case", f"no review id, or text released: {answer.body}")
        walk.ok(f"1 caller asked {use_case}: 202 held, review id {walk.review_id}")
        pending = client.caller("GET", HELD, {**uc, "reviewId": walk.review_id})
        _expect("2 fetch before a decision", pending, 202)
        if pending.body.get("status") != "pending" or pending.body.get("output"):
            raise ExerciseFailed("2 fetch before a decision", f"released before a decision: {pending.body}")
        walk.ok(f"2 caller fetched it before a decision: 202 pending, due {pending.body.get('dueAt')}")
    else:
        _expect("1 ask", answer, 200)
        walk.review_id = str(answer.body.get("requestId") or "")
        walk.ok(f"1 caller asked {use_case}: 200 answered, request id {walk.review_id}")

    refused = client.caller("GET", PENDING, {}, query={"useCase": use_case})
    _expect("3 a caller on the reviewer endpoints", refused, 403, "NOT_A_REVIEWER")
    walk.ok("3 caller refused on the reviewer endpoints: 403")

    scored = _wait_scored(client, walk, wait_s=wait_s, poll_s=poll_s, clock=clock, sleep=sleep)
    walk.ok(f"4 scoring function scored it: overall score {scored.get('score')}")

    if not walk.held and scored.get("status") == "pending":
        walk.ok(f"4b the policy already sent it to people ({', '.join(scored.get('reasons') or [])})")
    elif not walk.held:
        rating = client.caller(
            "POST",
            FEEDBACK,
            uc,
            body={"requestId": walk.review_id, "rating": 1, "comment": "Exercise: to review."},
        )
        _expect("4b negative feedback", rating, 201)
        if not rating.body.get("sentToReview"):
            raise ExerciseFailed(
                "4b negative feedback", f"a 1-star rating did not reach people: {rating.body}"
            )
        walk.ok("4b caller rated it 1/5: sent to review")

    listed = client.reviewer("GET", PENDING, {}, query={"useCase": use_case, "limit": "100"})
    _expect("5 list pending", listed, 200)
    ids = [i.get("reviewId") for i in listed.body.get("items", [])]
    while walk.review_id not in ids and listed.body.get("nextToken"):
        listed = client.reviewer(
            "GET",
            PENDING,
            {},
            query={"useCase": use_case, "limit": "100", "nextToken": listed.body["nextToken"]},
        )
        _expect("5 list pending", listed, 200)
        ids += [i.get("reviewId") for i in listed.body.get("items", [])]
    if walk.review_id not in ids:
        raise ExerciseFailed("5 list pending", f"{walk.review_id} is not in the pending list of {use_case}")
    walk.ok(f"5 reviewer listed {len(ids)} pending item(s) of {use_case}, this one among them")

    item = client.reviewer("GET", ITEM, {"reviewId": walk.review_id})
    _expect("6 read the item", item, 200)
    missing = [k for k in ("scores", "promptVersion", "modelId", "guardrail", "text") if not item.body.get(k)]
    if missing or item.body.get("status") != "pending":
        raise ExerciseFailed(
            "6 read the item", f"not pending, or lacks {missing}: {json.dumps(item.body)[:400]}"
        )
    stored = item.body["text"].get("stored")
    walk.ok(
        f"6 reviewer read it: {len(item.body['scores'])} scores, prompt {item.body['promptVersion']}, "
        f"guardrail version {item.body['guardrail'].get('version')}, "
        + ("text stored" if stored else "text not stored (invocation log: see invocationLog)")
    )

    decision = {"decision": "approve", "reason": APPROVAL_REASON}
    decided = client.reviewer("POST", DECISION, {"reviewId": walk.review_id}, body=decision)
    _expect("7 approve", decided, 200)
    reviewer = str(decided.body.get("reviewer") or "")
    again = client.reviewer("POST", DECISION, {"reviewId": walk.review_id}, body=decision)
    _expect("7 decide twice", again, 409, "REVIEW_ALREADY_DECIDED")
    walk.ok(f"7 reviewer approved it as {reviewer}; a second decision: 409 REVIEW_ALREADY_DECIDED")

    if walk.held:
        released = client.caller("GET", HELD, {**uc, "reviewId": walk.review_id})
        _expect("8 fetch after approval", released, 200)
        output = released.body.get("output") or {}
        if released.body.get("status") != "released" or not output.get("text"):
            raise ExerciseFailed("8 fetch after approval", f"not released with its text: {released.body}")
        walk.ok(f"8 caller fetched it: 200 released ({len(output['text'])} characters)")

    trail = client.reviewer("GET", ITEM, {"reviewId": walk.review_id})
    _expect("9 audit trail", trail, 200)
    records = [r for r in trail.body.get("audit", []) if r.get("kind") == "decision"]
    if len(records) != 1 or records[0].get("actor") != reviewer or not reviewer:
        raise ExerciseFailed(
            "9 audit trail", f"expected one decision record by {reviewer}: {trail.body.get('audit')}"
        )
    walk.ok(f"9 audit record: decision by {reviewer} at {records[0].get('at')}")

    if walk.held:
        feedback = {"requestId": walk.review_id, "rating": 5, "comment": "Exercise: useful draft."}
        sent = client.caller("POST", FEEDBACK, uc, body=feedback)
        _expect("10 feedback", sent, 201)
        twice = client.caller("POST", FEEDBACK, uc, body=feedback)
        _expect("10 feedback twice", twice, 409, "FEEDBACK_ALREADY_RECORDED")
        walk.ok("10 caller sent feedback: 201; again: 409 FEEDBACK_ALREADY_RECORDED")
    if walk.held and contract.logging.prompts_and_responses:
        walk.ok(_correct_through_guardrail(client, config, contract))
    return walk


def _correct_through_guardrail(client: ReviewClient, config: PlatformConfig, contract: Contract) -> str:
    """Step 11 (module docstring): the line it adds to the walk."""
    step = "11 correct through the guardrail"
    uc = {"useCaseId": contract.id}
    answer = client.caller("POST", INVOKE, uc, body=request_body(config, contract.id))
    _expect(f"{step}: ask again", answer, 202)
    review_id = {"reviewId": str(answer.body.get("reviewId") or "")}
    item = client.reviewer("GET", ITEM, review_id)
    _expect(f"{step}: read it", item, 200)
    original = str((item.body.get("text") or {}).get("output") or "")
    if not original:
        raise ExerciseFailed(step, f"the held answer has no stored text to correct: {item.body.get('text')}")

    def correct(text: str) -> Reply:
        body = {"decision": "correct", "reason": CORRECTION_REASON, "correctedText": text}
        return client.reviewer("POST", DECISION, review_id, body=body)

    done = []
    policy = contract.guardrail
    if policy.word_filters.words:
        refused = correct(f"{original}\n{policy.word_filters.words[0]}")
        _expect(f"{step}: a filtered word", refused, 422, "CORRECTION_BLOCKED")
        still = client.reviewer("GET", ITEM, review_id)
        if still.body.get("status") != "pending":
            raise ExerciseFailed(step, f"a blocked correction changed the item: {still.body.get('status')}")
        done.append("one with a filtered word refused (422 CORRECTION_BLOCKED, still pending)")
    masks = (
        policy.sensitive_information.pii_entities.get(PiiEntityType.EMAIL) is SensitiveAction.ANONYMIZE
        and not policy.grounded  # an added sentence would not be grounded in the request's context
    )
    decided = correct(f"{original}\nContact: {EXERCISE_EMAIL}" if masks else original)
    _expect(f"{step}: correct", decided, 200)
    stored = str(decided.body.get("correctedText") or "")
    action = (decided.body.get("guardrail") or {}).get("action")
    if masks and (action != "MASKED" or EXERCISE_EMAIL in stored):
        raise ExerciseFailed(
            step, f"the e-mail address was not masked: guardrail {action}, text {stored[-200:]!r}"
        )
    released = client.caller("GET", HELD, {**uc, **review_id})
    _expect(f"{step}: fetch", released, 200)
    output = released.body.get("output") or {}
    if not released.body.get("corrected") or output.get("text") != stored:
        raise ExerciseFailed(step, f"the caller did not get the correction as stored: {released.body}")
    done.append(f"the answer's text{' with an e-mail address' if masks else ''} stored ({action})")
    return f"11 reviewer corrected a second held answer through the guardrail: {'; '.join(done)}; released"


def _wait_scored(
    client: ReviewClient,
    walk: Walk,
    *,
    wait_s: float,
    poll_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """The scored item as a reviewer reads it (the scoring function wrote its scores)."""
    deadline = clock() + wait_s
    while True:
        client.settle()
        item = client.reviewer("GET", ITEM, {"reviewId": walk.review_id})
        if item.status == 200 and item.body.get("scores"):
            return item.body
        if item.status not in (200, 404):
            _expect("4 scoring", item, 200)
        if clock() >= deadline:
            raise ExerciseFailed(
                "4 scoring",
                f"no scored item for {walk.review_id} after {wait_s:.0f} s (last reply {item.status}: "
                f"{json.dumps(item.body)[:300]}). Check the scoring function's logs and the dead-letter queue "
                "(stack output ReviewDeadLetterQueueUrl)",
            )
        sleep(poll_s)


# ==================================================================== clients


class OfflineClient:
    """:class:`human_review.offline.OfflinePlatform` as a :class:`ReviewClient`: the caller is
    ``CALLER_ARN``, the reviewer a session of ``REVIEWER_ROLE_ARN`` (devtools.samples)."""

    def __init__(self, platform: Any) -> None:
        from bedrock_platform_devtools.samples import CALLER_ARN, REVIEWER_ARN

        self.platform = platform
        self.caller_arn = CALLER_ARN
        self.reviewer_arn = REVIEWER_ARN

    def _call(
        self, arn: str, method: str, resource: str, path: Mapping[str, str], body: Any, query: Any
    ) -> Reply:
        from bedrock_platform_devtools.samples import api_event
        from human_review.offline import ORCHESTRATOR, REVIEW_API

        module = ORCHESTRATOR if resource == INVOKE else REVIEW_API
        event = api_event(method, resource, dict(path) or None, body=body, query=query, user_arn=arn)
        reply = self.platform.api(module, event)
        return Reply(status=reply.status, body=reply.body)

    def caller(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply:
        return self._call(self.caller_arn, method, resource, path, body, query)

    def reviewer(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply:
        return self._call(self.reviewer_arn, method, resource, path, body, query)

    def settle(self) -> None:
        self.platform.drain()


class DeployedClient:
    """A deployed environment's API (``api_url``, the stage URL) signed with SigV4: as the caller with
    ``session``'s credentials, as a reviewer with a session of ``reviewer_role_arn`` named
    ``reviewer_name`` (STS AssumeRole with the caller's credentials and ``reviewer_name`` as the session's
    name and source identity: they need ``sts:AssumeRole`` and ``sts:SetSourceIdentity`` on it, and the
    role trusts this account). Credentials that already carry a source identity keep it along the chain:
    pass it as ``reviewer_name``, as STS refuses a different one."""

    def __init__(
        self,
        *,
        api_url: str,
        region: str,
        reviewer_role_arn: str,
        session: Any = None,
        timeout_s: float = 35.0,
        reviewer_name: str = REVIEWER_SESSION,
    ) -> None:
        import boto3

        self.reviewer_name = reviewer_name
        self.api_url = api_url.rstrip("/")
        self.region = region
        self.session = session or boto3.Session(region_name=region)
        self.reviewer_role_arn = reviewer_role_arn
        self.timeout_s = timeout_s
        self._reviewer_credentials: Any = None

    def _caller_credentials(self) -> Any:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise ExerciseFailed(
                "credentials",
                "no AWS credentials: the API uses IAM authorization (SigV4). Fix: configure them",
            )
        return credentials.get_frozen_credentials()

    def _reviewer(self) -> Any:
        if self._reviewer_credentials is None:
            from botocore.credentials import ReadOnlyCredentials

            # AssumeRole: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
            sts = self.session.client("sts", region_name=self.region)
            try:
                granted = sts.assume_role(
                    RoleArn=self.reviewer_role_arn,
                    RoleSessionName=self.reviewer_name,
                    SourceIdentity=self.reviewer_name,
                )
            except Exception as error:
                raise ExerciseFailed(
                    "assume the reviewer role",
                    f"{type(error).__name__}: {error}. Fix: run with credentials allowed sts:AssumeRole and "
                    f"sts:SetSourceIdentity on {self.reviewer_role_arn}; if they already carry a source "
                    f"identity, pass it as the reviewer name (it was {self.reviewer_name!r})",
                ) from error
            c = granted["Credentials"]
            self._reviewer_credentials = ReadOnlyCredentials(
                c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]
            )
        return self._reviewer_credentials

    def _send(
        self, credentials: Any, method: str, resource: str, path: Mapping[str, str], body: Any, query: Any
    ) -> Reply:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        route = resource
        for name, value in path.items():
            route = route.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        url = self.api_url + route + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        # SigV4 for API Gateway's IAM authorization: https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html
        SigV4Auth(credentials, "execute-api", self.region).add_auth(request)
        http = urllib.request.Request(url, data=data, headers=dict(request.headers), method=method)
        try:
            with urllib.request.urlopen(http, timeout=self.timeout_s) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode("utf-8", "replace")[:400]}
        return Reply(status=status, body=parsed if isinstance(parsed, dict) else {"body": parsed})

    def caller(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply:
        return self._send(self._caller_credentials(), method, resource, path, body, query)

    def reviewer(
        self, method: str, resource: str, path: Mapping[str, str], *, body: Any = None, query: Any = None
    ) -> Reply:
        return self._send(self._reviewer(), method, resource, path, body, query)

    def settle(self) -> None:
        """The deployed scoring function runs on its own (the walk polls)."""
