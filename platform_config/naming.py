"""Construct IDs derived from configuration identifiers.

The stacks name a use case's constructs with this (so its resources' logical IDs start with it), and
the compliance report uses the same function to group resources by use case.
"""

from __future__ import annotations


def pascal(identifier: str) -> str:
    """``support-ticket-summary`` -> ``SupportTicketSummary``."""
    return "".join(part.capitalize() for part in identifier.split("-"))
