"""The topics of the review pack, in the order the document shows them: the registry.

Adding a topic is one module (a :class:`~compliance.report.topic.Topic` subclass and its ``TOPIC``
instance) and one line here; see ``compliance/report/README.md``.
"""

from __future__ import annotations

from typing import Any

from compliance.report.topic import Topic
from compliance.report.topics import (
    access,
    acknowledgments,
    controls,
    deploy_checks,
    evaluation,
    gate,
    guardrails,
    human_review,
    inventory,
    invocation_logging,
    operations,
    protection,
    resources,
)

TOPICS: tuple[Topic[Any], ...] = (
    gate.TOPIC,
    inventory.TOPIC,
    guardrails.TOPIC,
    invocation_logging.TOPIC,
    access.TOPIC,
    protection.TOPIC,
    operations.TOPIC,
    acknowledgments.TOPIC,
    evaluation.TOPIC,
    human_review.TOPIC,
    deploy_checks.TOPIC,
    controls.TOPIC,  # after every topic whose evidence it maps
    resources.TOPIC,  # last: its index says which of the sections above discusses each resource
)
