"""``runtime_config.json`` and ``BEDROCK_RESOURCES``, read with the platform's shared specification.

The documents are declared once, in ``platform_spec.runtime`` (which the asset ships beside this package):
each use case carries its whole production contract, the model sources of its routes and its prompt;
``BEDROCK_RESOURCES`` carries the ARNs CloudFormation assigned. This module only reads them and checks
them against each other.
"""

from __future__ import annotations

from pathlib import Path

from platform_spec.contract import ModelSource
from platform_spec.fields import SpecError
from platform_spec.runtime import (
    FALLBACK,
    PRIMARY,
    DeployedResources,
    RuntimeConfig,
    UseCaseResources,
    read_runtime_config,
)
from platform_spec.runtime import RuntimeUseCase as UseCase

__all__ = [
    "FALLBACK",
    "PRIMARY",
    "ConfigError",
    "DeployedResources",
    "ModelSource",
    "RuntimeConfig",
    "UseCase",
    "UseCaseResources",
    "load_runtime_config",
]


class ConfigError(ValueError):
    """runtime_config.json is invalid or does not match BEDROCK_RESOURCES."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid runtime config: " + "; ".join(problems))


def load_runtime_config(path: Path, resources: DeployedResources) -> RuntimeConfig:
    """Read, parse and cross-check the file against BEDROCK_RESOURCES; ``ConfigError`` lists every problem."""
    try:
        config = read_runtime_config(path)
    except SpecError as error:
        raise ConfigError(error.problems) from error
    problems = resources.problems(config)
    if problems:
        raise ConfigError(problems)
    return config
