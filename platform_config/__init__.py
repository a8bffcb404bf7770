"""Load and validate environments and production contracts into frozen typed objects."""

from platform_config.errors import ConfigError, Problem
from platform_config.loader import load_platform
from platform_config.model import (
    Contract,
    EnvironmentConfig,
    GuardrailPolicy,
    ModelSource,
    PlatformConfig,
)

__all__ = [
    "ConfigError",
    "Contract",
    "EnvironmentConfig",
    "GuardrailPolicy",
    "ModelSource",
    "PlatformConfig",
    "Problem",
    "load_platform",
]
