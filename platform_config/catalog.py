"""The checked-in model catalog (``data/model_catalog.yaml``): which model sources exist, where they
may be called from, where they route to, and what they cost."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from platform_config.documents import load_yaml
from platform_config.model import ModelSource, ModelSourceKind

CATALOG_FILE = Path(__file__).parent / "data" / "model_catalog.yaml"
ANY_REGION = "*"


def _listed(regions: Any) -> list[str]:
    """A catalog list of regions; ``"*"`` (any region) and a missing list name none."""
    return [str(r) for r in regions] if isinstance(regions, list) else []


@dataclass(frozen=True)
class Resolution:
    source: ModelSource | None
    problem: str = ""
    fix: str = ""


@dataclass(frozen=True)
class ModelCatalog:
    geographies: dict[str, Any]
    models: dict[str, Any]
    retrieved: str

    @classmethod
    def load(cls, path: Path = CATALOG_FILE) -> ModelCatalog:
        data = load_yaml(path.read_text(encoding="utf-8"))
        return cls(
            geographies=dict(data.get("geographies") or {}),
            models=dict(data.get("models") or {}),
            retrieved=str(data.get("retrieved", "")),
        )

    @cached_property
    def regions(self) -> frozenset[str]:
        """Every region the catalog names: where a model is offered on demand, a geography's regions and
        every profile's source and destination regions. A region outside it has no model to call."""
        named: set[str] = set()
        for geography in self.geographies.values():
            named.update(_listed(geography.get("regions")))
        for model in self.models.values():
            named.update(_listed(model.get("in_region")))
            for route in (model.get("cross_region") or {}).values():
                named.update(_listed(route.get("sources")))
                named.update(_listed(route.get("destinations")))
        return frozenset(named)

    def _split(self, identifier: str) -> tuple[str | None, str]:
        prefix, _, rest = identifier.partition(".")
        if prefix in self.geographies and rest:
            return prefix, rest
        return None, identifier

    def end_of_life(self, identifier: str) -> str | None:
        """The model's Bedrock end-of-life date (YYYY-MM-DD) where the catalog gives one, else ``None``."""
        date = (self.models.get(self._split(identifier)[1]) or {}).get("end_of_life")
        return str(date) if date else None

    def max_output_tokens(self, identifier: str) -> int | None:
        """The model's own limit on output tokens per request (``None`` where the catalog does not say)."""
        limit = (self.models.get(self._split(identifier)[1]) or {}).get("max_output_tokens")
        return int(limit) if limit is not None else None

    def resolve(self, identifier: str, region: str) -> Resolution:
        """Resolve a contract's model source as called from ``region``."""
        geography, model_id = self._split(identifier)
        model = self.models.get(model_id)
        if model is None:
            close = difflib.get_close_matches(model_id, list(self.models), n=1)
            # With the cross-region prefix the contract wrote: a model offered only through profiles
            # cannot be invoked by its bare id, so the bare suggestion would fail next.
            suggestion = f"{geography}.{close[0]}" if close and geography else close[0] if close else ""
            hint = f"did you mean {suggestion!r}? " if close else ""
            return Resolution(
                None,
                "is not a model in platform_config/data/model_catalog.yaml",
                f"{hint}use a catalogued model id, optionally with a cross-region prefix "
                f"({', '.join(sorted(self.geographies))}), or add the model to the catalog with its "
                "regions and prices",
            )
        end_of_life = model.get("end_of_life")
        if end_of_life and str(end_of_life) <= self.retrieved:
            return Resolution(
                None,
                f"model {model_id!r} reached its Bedrock end of life on {end_of_life} "
                f"(catalog retrieved {self.retrieved})",
                "choose an active model from platform_config/data/model_catalog.yaml",
            )
        price = model.get("price_per_1k_tokens_usd") or {}
        if geography == "global" and price.get("global"):
            price = {**price, **price["global"]}

        caching = bool(model.get("prompt_caching", False))
        min_tokens = model.get("prompt_cache_min_tokens")
        if caching and (isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 1):
            raise ValueError(
                f"{CATALOG_FILE.name}: model {model_id!r} has prompt_caching: true but prompt_cache_min_tokens "
                f"is {min_tokens!r}; set the model's minimum tokens per cache checkpoint from the Bedrock "
                "prompt-caching page (sources.prompt_caching)"
            )

        def source(kind: ModelSourceKind, geo: str | None, destinations: tuple[str, ...]) -> ModelSource:
            return ModelSource(
                identifier=identifier,
                kind=kind,
                model_id=model_id,
                geography=geo,
                destination_regions=destinations,
                price_per_1k_input_usd=price.get("input"),
                price_per_1k_output_usd=price.get("output"),
                prompt_caching=caching,
                prompt_cache_min_tokens=min_tokens if caching else None,
                price_per_1k_cache_read_usd=price.get("cache_read") if caching else None,
                price_per_1k_cache_write_usd=price.get("cache_write") if caching else None,
                price_confirmed=bool(price.get("confirmed", True)),
            )

        if geography is None:
            in_region = list(model.get("in_region") or [])
            if region not in in_region:
                profiles = sorted(model.get("cross_region") or {})
                alt = (
                    f"use a cross-region profile ({', '.join(p + '.' + model_id for p in profiles)})"
                    if (profiles)
                    else "choose a model offered on demand in this region"
                )
                return Resolution(
                    None,
                    f"cannot be invoked on demand in {region} "
                    f"(on-demand regions: {', '.join(in_region) or 'none'})",
                    alt,
                )
            return Resolution(source(ModelSourceKind.FOUNDATION_MODEL, None, (region,)))
        route = (model.get("cross_region") or {}).get(geography)
        if route is None:
            offered = sorted(model.get("cross_region") or {})
            return Resolution(
                None,
                f"model {model_id!r} has no {geography!r} cross-region inference profile",
                f"use one of the prefixes {offered}" if offered else "call the model id directly",
            )
        sources = route.get("sources")
        if sources != ANY_REGION and region not in (sources or []):
            callable_here = sorted(
                f"{geo}.{model_id}"
                for geo, other in (model.get("cross_region") or {}).items()
                if other.get("sources") == ANY_REGION or region in (other.get("sources") or [])
            )
            return Resolution(
                None,
                f"the {geography!r} profile cannot be called from {region} (source regions: "
                f"{', '.join(sources or [])})",
                f"use a profile callable from {region}: {', '.join(callable_here)}"
                if callable_here
                else "use the cross-region prefix of the environment's geography",
            )
        destinations = route.get("destinations")
        routed = (ANY_REGION,) if destinations == ANY_REGION else tuple(sorted(set(destinations or [region])))
        return Resolution(source(ModelSourceKind.CROSS_REGION_PROFILE, geography, routed))
