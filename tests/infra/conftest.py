"""Names the infrastructure tests import; the session fixtures live in tests/conftest.py."""

from tests.support.synth import ROOT, Synthesized, cdk_context, new_app

__all__ = ["ROOT", "Synthesized", "cdk_context", "new_app"]
