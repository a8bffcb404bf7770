"""Read ``delivery/pipeline.yaml`` (the delivery pipeline), validate it against its ``platform_spec`` dataclass
and against the environments and contracts, and resolve it into a frozen :class:`DeliveryConfig`.

Besides the schema (:mod:`platform_config.documents`): every environment it names exists; production comes
last and only last; the delivery account is none of the environments' accounts; the source connection lives
in the delivery account and region; every use case enabled in production is enabled in the environment
before it, where the readiness gate tests it; the bake polls at least once; the canary can serve
``bake.min_invocations`` in ``bake.minutes`` at production's declared peaks. The loader runs these with the
other files' rules, so every problem of every file is reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from platform_config.documents import Document
from platform_config.errors import Problem
from platform_config.model import EnvironmentConfig
from platform_spec.contract import ContractDocument
from platform_spec.delivery import (
    CANARY_WEIGHT,
    LOAD_TEST_MULTIPLIER,
    MAX_BAKE_CHECKS,
    DeliveryDocument,
    readiness_and_production,
)
from platform_spec.environment import EnvironmentDocument

#: The delivery pipeline's file, relative to the repository root (optional: without it there is no pipeline).
DELIVERY_FILE = "delivery/pipeline.yaml"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryConfig(DeliveryDocument):
    """``delivery/pipeline.yaml`` with its environments resolved, in release order."""

    source_file: str
    stages: tuple[EnvironmentConfig, ...]

    @property
    def first(self) -> EnvironmentConfig:
        """Where a release goes first, after the governance gate."""
        return self.stages[0]

    @property
    def readiness(self) -> EnvironmentConfig:
        """The environment before production: its deployment ends with the readiness gate."""
        return readiness_and_production(self.stages)[0]

    @property
    def production(self) -> EnvironmentConfig:
        """The last environment: approval, then the canary bake."""
        return readiness_and_production(self.stages)[1]

    def stage(self, name: str) -> EnvironmentConfig:
        for environment in self.stages:
            if environment.name == name:
                return environment
        raise KeyError(
            f"{name!r} is not an environment of {self.source_file} ({', '.join(self.environments)})"
        )


def _arn_parts(arn: str) -> tuple[str, str]:
    """(region, account) of an ARN."""
    parts = arn.split(":")
    return parts[3], parts[4]


def _region_exists(doc: Document[DeliveryDocument], region: str, problems: list[Problem]) -> bool:
    """``region`` is an AWS region (cfn-lint's list: its format alone lets a typo such as ``us-easst-1``
    through); else a problem with a did-you-mean, and ``False``."""
    from cfnlint.helpers import REGIONS  # ~1 s to import: only for a region the catalog does not name

    if region in REGIONS:
        return True
    close = difflib.get_close_matches(region, REGIONS, n=1)
    problems.append(
        doc.problem(
            ["region"],
            "is not an AWS region",
            (f"did you mean {close[0]!r}? " if close else "") + "write the delivery account's region",
            value=region,
        )
    )
    return False


def delivery_rules(
    root: Path,
    env_docs: Sequence[Document[EnvironmentDocument]],
    contract_docs: Sequence[Document[ContractDocument]],
    environments: Mapping[str, EnvironmentConfig],
    problems: list[Problem],
    known_regions: frozenset[str] = frozenset(),
) -> DeliveryConfig | None:
    """Validate ``delivery/pipeline.yaml`` (appending to ``problems``) and resolve it; ``None`` when the
    file does not exist or has problems. ``known_regions``: regions known to exist (the model catalog's),
    so that only another region costs a look at the full list."""
    path = root / DELIVERY_FILE
    if not path.is_file():
        stray = path.with_suffix(".yml")
        if stray.is_file():
            problems.append(
                Problem(
                    f"{DELIVERY_FILE[:-5]}.yml",
                    "(file)",
                    "is ignored: only .yaml is read",
                    f"rename it to {DELIVERY_FILE}",
                )
            )
        return None
    doc = Document(path, root, DeliveryDocument, what="delivery")
    problems.extend(doc.problems)
    before = len(problems)
    known_docs = {d.path.stem: d for d in env_docs}
    names: tuple[str, ...] = doc.field("environments") or ()
    for i, name in enumerate(names):
        if name not in known_docs:
            close = difflib.get_close_matches(name, list(known_docs), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                doc.problem(
                    ["environments", i],
                    "is not a known environment",
                    f"{hint}use one of {sorted(known_docs)} or add environments/{name}.yaml",
                    value=name,
                )
            )
    named = [(i, name, known_docs[name]) for i, name in enumerate(names) if name in known_docs]
    for i, name, env_doc in named:
        production = env_doc.field("production")
        last = i == len(names) - 1
        if last and production is False:
            problems.append(
                doc.problem(
                    ["environments", i],
                    f"comes last, so it is where the canary bake releases to production, but "
                    f"{env_doc.display} says production: false",
                    "list the production environment last, or set production: true in its file",
                    value=name,
                )
            )
        if not last and production is True:
            problems.append(
                doc.problem(
                    ["environments", i],
                    f"is a production environment ({env_doc.display}) but is not last: a release would reach "
                    "production before the readiness gate and without the canary bake",
                    "list the production environment last, after the environment the readiness gate tests",
                    value=name,
                )
            )
    delivery_account = doc.field("account")
    for _, name, env_doc in named:
        if delivery_account is not None and env_doc.field("account") == delivery_account:
            problems.append(
                doc.problem(
                    ["account"],
                    f"is also the account of environment {name} ({env_doc.display}): the pipeline, its artifacts "
                    "and the roles that deploy every environment belong in an account of their own",
                    "use a dedicated delivery account",
                    value=delivery_account,
                )
            )
    connection = doc.field("source", "connection_arn")
    region = doc.field("region")
    if region is not None and region not in known_regions and not _region_exists(doc, region, problems):
        region = None  # a typo: not also a connection in "another" region
    if connection is not None and delivery_account is not None and region is not None:
        connection_region, connection_account = _arn_parts(connection)
        if (connection_region, connection_account) != (region, delivery_account):
            # CodePipeline runs a source action in the pipeline's own region (aws-cdk#4303: "source
            # actions have to be in the same region as the pipeline"), and this pipeline uses its
            # connection from there: the connection must be the delivery account's, in its region.
            problems.append(
                doc.problem(
                    ["source", "connection_arn"],
                    f"is in account {connection_account}, region {connection_region}, but the pipeline runs in "
                    f"account {delivery_account}, region {region}",
                    "create the connection in the delivery account and region and use its ARN",
                    value=connection,
                )
            )
    poll, minutes = doc.field("bake", "poll_minutes"), doc.field("bake", "minutes")
    if poll is not None and minutes is not None and poll > minutes:
        problems.append(
            doc.problem(
                ["bake", "poll_minutes"],
                f"is longer than the bake itself ({minutes} minutes): the critical alarms would be checked only "
                "after the bake ended",
                f"use at most {minutes}",
                value=poll,
            )
        )
    if poll is not None and minutes is not None and minutes / poll > MAX_BAKE_CHECKS:
        problems.append(
            doc.problem(
                ["bake", "poll_minutes"],
                f"would check the alarms {minutes // poll} times in a {minutes}-minute bake; a Step Functions "
                f"execution fails at 25,000 history events, which allows about {MAX_BAKE_CHECKS} checks",
                f"use at least {-(-minutes // MAX_BAKE_CHECKS)} minutes",
                value=poll,
            )
        )
    if len(named) >= 2 and len(named) == len(names):
        readiness, production = readiness_and_production(names)
        _untested_in_readiness(doc, readiness, production, contract_docs, set(known_docs), problems)
        _capacity(known_docs[readiness], known_docs[production], contract_docs, problems)
        _reachable_invocations(doc, production, contract_docs, problems)
    if doc.value is None or len(problems) != before:
        return None
    missing = [name for name in names if name not in environments]
    if missing:
        return None  # those environment files have problems of their own
    value = doc.value
    if not any(readiness_and_production(names)[1] in (c.field("environments") or ()) for c in contract_docs):
        # No use case is enabled in production, so nothing can send its canary the traffic
        # bake.min_invocations asks for and every bake would roll back: the requirement is off (0) until a
        # use case is enabled there (the alarms still watch the bake).
        value = dataclasses.replace(value, bake=dataclasses.replace(value.bake, min_invocations=0))
    return DeliveryConfig(
        **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)},
        source_file=doc.display,
        stages=tuple(environments[name] for name in names),
    )


def _untested_in_readiness(
    doc: Document[DeliveryDocument],
    readiness: str,
    production: str,
    contract_docs: Sequence[Document[ContractDocument]],
    known: set[str],
    problems: list[Problem],
) -> None:
    """A use case enabled in production must be enabled in the environment before it: the readiness gate
    (smoke request, suites, load test) only tests what is deployed there. A contract naming an unknown
    environment (``stagin``) is told that instead, not also to add the one it probably meant."""
    for contract_doc in contract_docs:
        enabled = contract_doc.field("environments") or ()
        if production in enabled and readiness not in enabled and set(enabled) <= known:
            problems.append(
                contract_doc.problem(
                    ["environments"],
                    f"enables {production} but not {readiness}, the environment whose readiness gate "
                    f"({doc.display}) tests every release before production: this use case would reach "
                    "production untested",
                    f"add {readiness} to environments",
                    value=list(enabled),
                )
            )


def _reachable_invocations(
    doc: Document[DeliveryDocument],
    production: str,
    contract_docs: Sequence[Document[ContractDocument]],
    problems: list[Problem],
) -> None:
    """``bake.min_invocations`` is at most what the canary's CANARY_WEIGHT of the traffic would serve in
    ``bake.minutes`` with every use case enabled in production at its declared peak (``release.peak_rps``)
    all the time: more, and the bake could never promote a release (it rolls back a canary that served
    fewer). Without use cases in production there is no declared traffic to compare with."""
    wanted, minutes = doc.field("bake", "min_invocations"), doc.field("bake", "minutes")
    peaks = {
        str(c.field("id")): float(peak)
        for c in contract_docs
        if production in (c.field("environments") or ())
        and (peak := c.field("release", "peak_rps")) is not None
    }
    if wanted is None or minutes is None or not peaks:
        return
    peak = sum(peaks.values())
    reachable = CANARY_WEIGHT * peak * minutes * 60
    if wanted > reachable:
        detail = ", ".join(f"{uc} {rps:g}" for uc, rps in sorted(peaks.items()))
        problems.append(
            doc.problem(
                ["bake", "min_invocations"],
                f"is more than the canary could serve: {CANARY_WEIGHT:.0%} of {production}'s declared peak of "
                f"{peak:g} requests per second (release.peak_rps: {detail}) for the {minutes}-minute bake is "
                f"{reachable:g} invocations, so the bake would roll back every release as untested",
                f"use at most {math.floor(reachable)}, or lengthen bake.minutes"
                if reachable >= 1
                else "lengthen bake.minutes",
                value=wanted,
            )
        )


def _concurrency(contract_doc: Document[ContractDocument], rate_multiple: float) -> float | None:
    """Little's law: requests in flight = arrival rate x time in the system, at the contract's p95."""
    peak, latency_ms = contract_doc.field("release", "peak_rps"), contract_doc.field("latency_p95_ms")
    if peak is None or latency_ms is None:
        return None
    return float(peak) * rate_multiple * float(latency_ms) / 1000


def _capacity(
    readiness: Document[EnvironmentDocument],
    production: Document[EnvironmentDocument],
    contract_docs: Sequence[Document[ContractDocument]],
    problems: list[Problem],
) -> None:
    """The declared peaks fit the orchestrator's reserved concurrency: in the readiness environment each use
    case's load test (LOAD_TEST_MULTIPLIER x peak_rps, one use case at a time) and in production every use
    case at its peak at once, at the contract's p95 latency. Otherwise Lambda throttles the load test (and
    the readiness gate holds on it) or production traffic at its declared peak."""
    checks = (
        (readiness, LOAD_TEST_MULTIPLIER, max, "the readiness load test of the busiest use case"),
        (production, 1.0, sum, "every use case at its declared peak"),
    )
    for env_doc, multiple, combine, what in checks:
        name, reserved = env_doc.field("name"), env_doc.field("reserved_concurrency")
        if name is None or reserved is None:
            continue
        needs = {
            str(c.field("id")): need
            for c in contract_docs
            if name in (c.field("environments") or ()) and (need := _concurrency(c, multiple)) is not None
        }
        if needs and combine(needs.values()) > reserved:
            detail = ", ".join(f"{uc} {n:g}" for uc, n in sorted(needs.items()))
            total = combine(needs.values())
            problems.append(
                env_doc.problem(
                    ["reserved_concurrency"],
                    f"is below what {what} needs in {name}: {total:g} concurrent executions "
                    f"({multiple:g} x release.peak_rps x latency_p95_ms in seconds; per use case: {detail}), "
                    "so Lambda would throttle it",
                    "raise reserved_concurrency, or lower the contracts' release.peak_rps",
                    value=reserved,
                )
            )
