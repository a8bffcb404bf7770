"""Names the infrastructure tests import; the session fixtures live in tests/conftest.py."""

from tests.support.synth import (
    PROBE_ACCOUNT,
    PROBE_REGION,
    ROOT,
    Stages,
    Synthesized,
    cdk_context,
    new_app,
    probe_app,
    probe_stack,
)

__all__ = [
    "PROBE_ACCOUNT",
    "PROBE_REGION",
    "ROOT",
    "Stages",
    "Synthesized",
    "cdk_context",
    "new_app",
    "probe_app",
    "probe_stack",
]
