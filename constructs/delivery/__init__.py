"""The path to production: the delivery pipeline in its own account (``DeliveryPipeline``), the canary bake
(``CanaryBake``), the pipeline's artifact store (``ArtifactStore``), and what each environment's stack gives
them (``ReadinessGateAccess``, ``CanaryReleaseAccess``). README: constructs/delivery/README.md."""

from bedrock_constructs.delivery.artifacts import ArtifactStore
from bedrock_constructs.delivery.bake import CanaryBake
from bedrock_constructs.delivery.environment_access import CanaryReleaseAccess, ReadinessGateAccess
from bedrock_constructs.delivery.pipeline import DeliveryPipeline

__all__ = ["ArtifactStore", "CanaryBake", "CanaryReleaseAccess", "DeliveryPipeline", "ReadinessGateAccess"]
