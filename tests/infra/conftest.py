"""Names the infrastructure tests import; the session fixtures live in tests/conftest.py."""

from tests.support.synth import (
    ROOT,
    Stages,
    Synthesized,
    cdk_context,
    new_app,
    probe_app,
    probe_environment,
    probe_stack,
)

__all__ = [
    "ROOT",
    "Stages",
    "Synthesized",
    "cdk_context",
    "new_app",
    "probe_app",
    "probe_environment",
    "probe_stack",
]
