"""What a topic of the review pack is: it extracts its facts, compares them, and renders them.

A topic (``compliance/report/topics/<name>.py``) owns everything about one subject a reviewer reads:

- :meth:`Topic.extract`: its facts of one :class:`~compliance.report.environment.Environment`, read from
  the assembly (and from another topic's extract, through ``env.extract(other.TOPIC)``);
- :meth:`Topic.diff`: what changed between two extracts, each :class:`Change` classified by what it means
  to a reviewer (:data:`ATTENTION`, :data:`REVIEW`, :data:`ROUTINE`) and given to a use case;
- :meth:`Topic.render`: its section of the document;
- :meth:`Topic.counts`: a line or two of the one-screen summary;
- :meth:`Topic.evidence`: the evidence checks the control mapping (``controls.yaml``) may cite;
- :attr:`Topic.covers`: the resource properties its diff explains, which the resource-level diff then
  leaves out of its "other changes".

The registry (``compliance/report/topics/__init__.py``) lists the topics in document order. See
``compliance/report/README.md``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from compliance.gate_result import Acknowledgment
from compliance.report.document import Section, anchor_id
from compliance.report.environment import Environment
from compliance.report.matching import Matching

F = TypeVar("F")

#: What a change means to a reviewer, most urgent first.
ATTENTION = (
    "needs attention"  # a decision: a new use case, a guardrail, prompt logging, wider access, data loss
)
REVIEW = "review"  # worth a look: a changed property, a new resource, a replaced stateless resource
ROUTINE = "routine"  # expected or stricter: narrowed access, longer retention, a stronger setting
LEVELS = (ATTENTION, REVIEW, ROUTINE)

#: An evidence check's result. NOT APPLICABLE: what the check looks at is not in this assembly by design
#: (a check "where contracts set it" when no contract does); the detail says what that leaves.
PASS, FAIL, NOT_RUN, NOT_APPLICABLE = "PASS", "FAIL", "NOT RUN", "NOT APPLICABLE"


@dataclass(frozen=True)
class Change:
    """One change from a baseline to the current environment."""

    topic: str  # the id of the topic that found it
    subject: str  # logical ID (for permissions: the principal or the resource holding the policy)
    kind: str  # added, removed, replaced, widened, narrowed, weakened, strengthened, changed, ...
    detail: str
    level: str = REVIEW
    type: str = ""
    stateful: bool = False
    wildcard: bool = False
    use_case: str = ""  # "" for the platform's shared resources; filled in from the subject if empty
    #: more lines shown collapsed under the detail (e.g. the resources a new use case adds)
    items: tuple[str, ...] = ()


Check = Callable[[Any], tuple[str, str]]


@dataclass(frozen=True)
class EvidenceCheck:
    """A check the control mapping can cite as evidence: ``run(extract)`` -> (PASS | FAIL | NOT RUN | NOT APPLICABLE, detail)."""

    what: str
    run: Check


@dataclass
class RenderContext:
    env: Environment
    #: The sections of the topics before this one (the resource index says where each resource is discussed).
    earlier: Sequence[Section] = field(default_factory=list)


class Topic(ABC, Generic[F]):
    """One subject of the review pack. Subclass it, set ``id`` and ``title``, implement ``extract`` and
    ``render``, and add an instance to the registry."""

    id: ClassVar[str]
    title: ClassVar[str]
    #: Resource properties (by resource type) whose changes this topic's diff reports.
    covers: ClassVar[Mapping[str, frozenset[str]]] = {}
    #: Resource types whose additions and removals this topic's diff reports (the resource-level diff
    #: then leaves them out, so a new guardrail is reported once, as a guardrail).
    lifecycle: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def extract(self, env: Environment) -> F:
        """This topic's facts of ``env``. Read the assembly, never the repository's configuration."""

    def diff(self, now: F, then: F, matching: Matching) -> list[Change]:
        """What changed from ``then`` (the baseline's extract) to ``now``."""
        return []

    @abstractmethod
    def render(self, facts: F, ctx: RenderContext) -> Section:
        """This topic's section. Flag a cell BAD for what needs a reviewer's decision: it becomes a red
        flag of the summary, linked to the acknowledgment the row's ``subjects``/``findings`` name."""

    def counts(self, facts: F) -> list[tuple[str, str]]:
        """(what, how many) lines for the summary's counts."""
        return []

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        """Evidence checks by id (unique across topics), each run on this topic's extract."""
        return {}


def verdict(failures: Sequence[str], ok: str) -> tuple[str, str]:
    return (FAIL, "; ".join(failures)) if failures else (PASS, ok)


def acknowledgment_anchor(ack: Acknowledgment) -> str:
    """The element id of an acknowledgment's row (stable: its stack, construct path and finding)."""
    digest = hashlib.sha1(f"{ack.stack}|{ack.construct_path}|{ack.finding}".encode()).hexdigest()[:8]
    return anchor_id("ack", ack.construct_path.rsplit("/", 1)[-1], ack.finding.split("[", 1)[0], digest)
