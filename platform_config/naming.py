"""Construct IDs derived from configuration identifiers.

The stacks name a use case's constructs with this (so its resources' logical IDs start with it), and
the compliance report uses the same function to group resources by use case.
"""

from __future__ import annotations

#: The construct ID of each environment's platform stack inside its Stage (``Prod/Platform``).
PLATFORM_STACK_ID = "Platform"


def pascal(identifier: str) -> str:
    """``support-ticket-summary`` -> ``SupportTicketSummary``."""
    return "".join(part.capitalize() for part in identifier.split("-"))


def platform_stack_path(environment: str) -> str:
    """The platform stack of environment ``prod`` in the app and its assembly: ``Prod/Platform`` (the
    Stage's ID, then the stack's)."""
    return f"{pascal(environment)}/{PLATFORM_STACK_ID}"
