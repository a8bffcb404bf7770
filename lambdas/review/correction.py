"""A reviewer's correction through the use case's guardrail, before it is stored and released.

A ``correct`` decision replaces a model answer with the reviewer's text, which the caller then receives
(``GET /use-cases/{id}/reviews/{reviewId}``). The model's answer went through the guardrail; so does the
correction: ApplyGuardrail with ``source: OUTPUT`` on the use case's guardrail at its deployed version
(``USE_CASE_GUARDRAILS``), the same output policies the answer met
(https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-independent-api.html). For a
grounded use case, the stored request's context and question go with it as ``grounding_source`` and
``query`` blocks, so the contextual grounding check applies to the correction as it did to the answer
(``qualifiers``: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailTextBlock.html);
a mask's text is the output that is the correction masked, wherever it is in ``outputs``
(``platform_spec.guardrail.read_apply_guardrail`` with ``guarded``); none is a 503, never another block's text.

A correction in look-alike letters (full-width or mathematical letters and digits, a Cyrillic "a" in a Latin
word: ``platform_spec.lookalikes``) reads to the caller as the word it imitates, which the word filters'
exact match and the regexes do not see: its folded copy goes in the same call as a second block, as the
orchestrator has the guardrail check callers' text. The correction is released as written, not folded, so
with a folded copy any intervention blocks, a mask too (the mask of the folded copy would not apply to the
text released); the reviewer rewrites it in plain letters.

* NONE: stored as written;
* MASKED (every finding ANONYMIZED): the masked text is stored and released, marked ``MASKED``;
* BLOCKED: :class:`CorrectionBlocked` (422 ``CORRECTION_BLOCKED``, naming what fired), nothing stored;
* Bedrock refuses the request as invalid (``ValidationException``, e.g. a text over what the guardrail
  accepts): :class:`CorrectionUncheckable` (422 ``CORRECTION_NOT_CHECKABLE``: retrying would not help);
* Bedrock refuses the call as not permitted or not found (``AccessDeniedException``,
  ``ResourceNotFoundException``: a grant or the guardrail version missing in this deployment):
  :class:`GuardrailNotPermitted` (500 ``GUARDRAIL_NOT_PERMITTED``, no Retry-After: a retry fails the same
  way until the deployment is fixed), nothing stored;
* the call fails otherwise, times out or has too little time: :class:`GuardrailUnavailable` (503,
  Retry-After 2), nothing stored (fails closed).

One attempt, a 1 s connect timeout and a read timeout cut to the time the function has left
(``platform_spec.review.correction_read_timeout_s``), and the whole call abandoned at connect + read on the
clock (``platform_spec.clients.ClockBoundClient``: botocore's read timeout bounds each socket read, not
the answer): a guardrail that
hangs or answers a byte at a time costs the reviewer a retry, never the decision's write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec.clients import NOT_PERMITTED_CODES, CallAbandoned, ClientCache, ClockBoundClient
from platform_spec.guardrail import GuardrailReading, Verdict, read_apply_guardrail
from platform_spec.lookalikes import fold
from platform_spec.review import (
    CORRECTION_CONNECT_TIMEOUT_S,
    GuardrailRef,
    client_config,
    correction_read_timeout_s,
)


class GuardrailUnavailable(Exception):
    """The guardrail check could not run; the message says why (for the log, not the caller)."""


class GuardrailNotPermitted(Exception):
    """Bedrock refused the check as not permitted or not found: the deployment, not the moment, is at fault."""


class CorrectionUncheckable(Exception):
    """Bedrock refused to check the correction (``ValidationException``): the same request would fail again."""


class CorrectionBlocked(Exception):
    """The guardrail blocked the correction; ``fired`` names what fired."""

    def __init__(self, fired: tuple[str, ...]) -> None:
        super().__init__(", ".join(fired) or "the guardrail intervened")
        self.fired = fired


@dataclass(frozen=True, slots=True)
class Grounding:
    """What a grounded use case's correction is checked against: the request's context and question."""

    source: str
    query: str


@dataclass(frozen=True, slots=True)
class CheckedCorrection:
    """A correction the guardrail let through: the text to store and release, and whether it was masked."""

    text: str
    verdict: Verdict
    guardrail: GuardrailRef


def apply_guardrail_arguments(
    guardrail: GuardrailRef, text: str, grounding: Grounding | None, folded: str | None = None
) -> dict[str, Any]:
    """ApplyGuardrail's arguments for a correction: the correction first, then ``folded`` (its look-alike
    letters folded, ``platform_spec.lookalikes.fold``: module docstring) if any, then the grounding blocks."""
    qualified = {"qualifiers": ["guard_content"]} if grounding else {}
    content: list[dict[str, Any]] = [
        {"text": {"text": guarded, **qualified}} for guarded in (text, folded) if guarded is not None
    ]
    if grounding is not None:
        content += [
            {"text": {"text": grounding.source, "qualifiers": ["grounding_source"]}},
            {"text": {"text": grounding.query, "qualifiers": ["query"]}},
        ]
    return {
        "guardrailIdentifier": guardrail.arn,
        "guardrailVersion": guardrail.version,
        "source": "OUTPUT",
        "content": content,
    }


class CorrectionGuard:
    """Checks corrections with each use case's guardrail (``guardrails``); a bedrock-runtime client per
    read timeout, created on first use (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points it at a local endpoint
    offline)."""

    def __init__(self, *, region: str, guardrails: Mapping[str, GuardrailRef]) -> None:
        self.region = region
        self.guardrails = dict(guardrails)
        self._clients: ClientCache[float, Any] = ClientCache(self._create)

    def _create(self, read_timeout_s: float) -> Any:
        import boto3
        from botocore.config import Config

        # https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
        client = boto3.client(
            "bedrock-runtime",
            region_name=self.region,
            config=Config(
                **client_config(
                    connect_timeout_s=CORRECTION_CONNECT_TIMEOUT_S, read_timeout_s=read_timeout_s, attempts=1
                )
            ),
        )
        # one attempt: abandoned on the clock at connect + read (module docstring)
        return ClockBoundClient(client, CORRECTION_CONNECT_TIMEOUT_S + read_timeout_s)

    def check(
        self, use_case: str, text: str, *, grounding: Grounding | None, remaining_s: float
    ) -> CheckedCorrection:
        """The correction as it may be stored; :class:`CorrectionBlocked`, :class:`CorrectionUncheckable`,
        :class:`GuardrailNotPermitted`, :class:`GuardrailUnavailable`, or ``LookupError`` when ``use_case``
        has no guardrail here."""
        guardrail = self.guardrails.get(use_case)
        if guardrail is None:
            raise LookupError(use_case)
        read_timeout = correction_read_timeout_s(remaining_s)
        if read_timeout is None:
            raise GuardrailUnavailable(f"{remaining_s:.1f} s left: too little for the guardrail call")
        from botocore.exceptions import ClientError

        client = self._clients.get(read_timeout)
        folded = fold(text)
        arguments = apply_guardrail_arguments(guardrail, text, grounding, folded)
        try:
            response = client.apply_guardrail(**arguments)
            # with a folded copy a mask blocks: the text is released as written (module docstring)
            reading: GuardrailReading = read_apply_guardrail(
                response, guarded=text, masks_block=folded is not None
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ValidationException":
                raise CorrectionUncheckable(str(error)) from error
            if code in NOT_PERMITTED_CODES:
                raise GuardrailNotPermitted(f"{code}: {error}") from error
            raise GuardrailUnavailable(f"{type(error).__name__}: {error}") from error
        except CallAbandoned as error:
            raise GuardrailUnavailable(str(error)) from error
        except Exception as error:
            # Anything else fails closed as unavailable: botocore's own errors (BotoCoreError), a response
            # read_apply_guardrail refuses (ValueError), and a response botocore cannot parse into the
            # operation's shapes (``outputs`` or ``assessments`` not a list: its parser raises
            # AttributeError or TypeError, not a BotoCoreError).
            raise GuardrailUnavailable(f"{type(error).__name__}: {error}") from error
        if reading.verdict is Verdict.BLOCKED:
            raise CorrectionBlocked(reading.fired)
        return CheckedCorrection(
            text=text if reading.text is None else reading.text,  # the masked text, for MASKED only
            verdict=reading.verdict,
            guardrail=guardrail,
        )
