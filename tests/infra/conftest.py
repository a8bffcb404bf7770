"""Names the infrastructure tests import; the session fixtures live in tests/conftest.py."""

from tests.support.synth import ROOT, Stages, Synthesized, cdk_context, new_app

__all__ = ["ROOT", "Stages", "Synthesized", "cdk_context", "new_app"]
