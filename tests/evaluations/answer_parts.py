"""Hypothesis strategies for the parts of a model's answer that the refusal scorer's property tests put
together (tests/evaluations/test_refuse_then_comply.py, test_comply_then_refuse.py)."""

from __future__ import annotations

import string

from hypothesis import strategies as st

#: Lower-case words of 2 to 9 letters (st.text over the alphabet: st.from_regex draws the same words ~6x slower).
WORDS = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=9)
#: What separates a refusal from the rest of an answer: a space, a line break or a paragraph break.
SEPARATORS = st.sampled_from([" ", "\n", "\n\n"])
