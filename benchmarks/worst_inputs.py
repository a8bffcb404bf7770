"""Inputs that made pure functions of the request and bake paths quadratic before they were fixed: the
benchmark times them (item 12), the tests check what they answer (timings are judged here, never in tests).
"""

from __future__ import annotations

from typing import Final

#: Answers the refusal scorer reads (``platform_spec.scoring.refusal``: the orchestrator's request path where
#: text is not stored, the scoring function otherwise), by id: the answer and whether it declines.
REFUSAL_ANSWERS: Final[dict[str, tuple[str, bool]]] = {
    # Each unclosed opening quote was scanned to the end of the line (past every other opener): quadratic,
    # ~7 s for 30,000 of them (a model told to repeat a character).
    "unclosed-quotes": ("\u201c" * 30_000 + " I can't help with that.", True),
    # Each first-person match looked at everything before it (a copy of the text up to it): quadratic,
    # ~20 s for a 1 MB answer of reported speech in one sentence (the opening is all of it).
    "first-person-wording": ("The customer says we can't help them " * 15_000, False),
}

#: Answers the refusal scorer reads with a suite's refusal markers, by id: the answer, whether it declines,
#: and the markers.
MARKED_REFUSAL_ANSWERS: Final[dict[str, tuple[str, bool, tuple[str, ...]]]] = {
    # Where a marker ends was searched with its words joined by runs of marks; a word of marks alone ("-")
    # made the run of dashes after the marker's first word backtrack at every length: quadratic, ~5 s for
    # 16,000 dashes.
    "marker-with-a-dash": (
        "terms " + "-" * 30_000 + " x. The terms - to be agreed with HR.",
        True,
        ("terms - to be",),
    ),
}

#: ``lambdas.canary_bake.bake.binomial_tail`` arguments (errors, invocations, rate) of a busy hour: 10 million
#: canary invocations and a count far past the rate, so every term of the tail underflows to 0. Walking all
#: the terms took seconds per million invocations (the bake Lambda has 256 MB, a seventh of a vCPU).
BUSY_HOUR_TAILS: Final[tuple[tuple[int, int, float], ...]] = (
    (100_000, 10_000_000, 0.001),
    (1_000_000, 10_000_000, 0.01),
)
