"""``network`` in environment files: the request-path functions placed in an existing VPC. Every rule names
file, field, value and fix (one ``pytest.raises`` per rule, through ``load_error``), and is reported with the
other problems of the configuration in one run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from platform_config import PlatformConfig, load_platform
from platform_config.model import NetworkPlacement, NetworkSubnet
from tests.config.test_loader import (
    _NO_VALUE,
    DEV,
    PROD,
    SetField,
    check,
    load_error,
    only_problem,
    problem_at,
)

VPC = "vpc-0a1b2c3d4e5f67890"
SUBNET_A, SUBNET_B = "subnet-0a1b2c3d4e5f67890", "subnet-1a2b3c4d"
GROUP = "sg-0a1b2c3d4e5f67890"


def network(region: str = "us-east-1", **changes: Any) -> dict[str, Any]:
    """A valid ``network`` section for an environment in ``region``: two subnets in two zones, one group."""
    return {
        "vpc_id": VPC,
        "subnets": [
            {"subnet_id": SUBNET_A, "availability_zone": f"{region}a"},
            {"subnet_id": SUBNET_B, "availability_zone": f"{region}b"},
        ],
        "security_group_ids": [GROUP],
        **changes,
    }


def test_no_shipped_environment_is_placed_in_a_vpc(real_config: PlatformConfig) -> None:
    # the default: every function outside any VPC, as before the section existed
    assert [env.network for env in real_config.environments] == [None] * len(real_config.environments)


def test_a_valid_section_loads_into_the_environment(config_root: Path, set_field: SetField) -> None:
    set_field(PROD, "network", network("us-west-2"))
    set_field(
        DEV,
        "network",
        {"vpc_id": VPC, "subnets": [{"subnet_id": SUBNET_A, "availability_zone": "us-east-1c"}]},
    )
    config = load_platform(config_root)
    assert config.environment("prod").network == NetworkPlacement(
        vpc_id=VPC,
        subnets=(
            NetworkSubnet(subnet_id=SUBNET_A, availability_zone="us-west-2a"),
            NetworkSubnet(subnet_id=SUBNET_B, availability_zone="us-west-2b"),
        ),
        security_group_ids=(GROUP,),
    )
    # outside production one subnet is enough (Lambda's minimum); no groups: aws-cdk-lib creates them
    dev = config.environment("dev").network
    assert dev is not None and dev.security_group_ids == () and len(dev.subnets) == 1
    assert config.environment("staging").network is None


@pytest.mark.parametrize(
    ("field", "bad", "fix"),
    [
        ("network.vpc_id", "vpc-123", "write a VPC id: vpc- and 8 or 17 hexadecimal digits"),
        ("network.vpc_id", "VPC-0A1B2C3D", "write a VPC id: vpc- and 8 or 17 hexadecimal digits"),
        ("network.subnets.1.subnet_id", "subnet-xyz12345", "write a subnet id: subnet- and 8 or 17"),
        ("network.subnets.0.availability_zone", "use1-az1", "write the subnet's Availability Zone name"),
        ("network.security_group_ids.0", "sg-12345", "write a security group id: sg- and 8 or 17"),
    ],
)
def test_an_id_of_the_wrong_format_is_named_with_its_fix(
    config_root: Path, set_field: SetField, field: str, bad: str, fix: str
) -> None:
    set_field(PROD, "network", network("us-west-2"))
    set_field(PROD, field, bad)
    dotted = re.sub(r"\.(\d+)", r"[\1]", field)
    error = load_error(config_root, rf"prod.yaml:\d+: {re.escape(dotted)}: has the wrong format")
    check(only_problem(error), file=PROD, field=dotted, value=bad, fix=fix)


@pytest.mark.parametrize("zone", ["use1-az1", "us-east-1-atl-1a"])
def test_the_one_subnet_with_a_bad_zone_is_the_only_problem(
    config_root: Path, set_field: SetField, zone: str
) -> None:
    # a zone ID or a Local Zone on the only subnet: its zone is named, not also "too few items" (pydantic
    # counts only the items that validated against min_length)
    set_field(
        DEV, "network", {"vpc_id": VPC, "subnets": [{"subnet_id": SUBNET_A, "availability_zone": zone}]}
    )
    error = load_error(config_root, r"network.subnets\[0\].availability_zone: has the wrong format")
    check(
        only_problem(error),
        file=DEV,
        field="network.subnets[0].availability_zone",
        value=zone,
        fix="write the subnet's Availability Zone name",
    )
    assert "a zone ID (use1-az1) or a Local Zone (us-east-1-atl-1a) is not accepted here" in str(
        only_problem(error)
    )


def test_a_vpc_without_subnets_is_refused(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "network", network(subnets=[]))
    error = load_error(config_root, r"network.subnets: has too few items")
    check(only_problem(error), file=DEV, field="network.subnets", value=[], fix="list at least 1 item")


def test_an_empty_network_section_is_refused_not_read_as_no_vpc(
    config_root: Path, set_field: SetField
) -> None:
    # every line under `network:` commented out: YAML reads null
    set_field(DEV, "network", None)
    error = load_error(config_root, r"network: is empty \(null\)")
    check(only_problem(error), file=DEV, field="network", value=None, fix="give vpc_id and subnets under it")


def test_a_vpc_id_is_required(config_root: Path, set_field: SetField) -> None:
    section = network()
    del section["vpc_id"]
    set_field(DEV, "network", section)
    error = load_error(config_root, r"network.vpc_id: is required but missing")
    check(only_problem(error), file=DEV, field="network.vpc_id", fix="add `vpc_id`")


def test_lambdas_limits_on_subnets_and_security_groups(config_root: Path, set_field: SetField) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/API_VpcConfig.html: 16 subnets, 5 security groups
    subnets = [{"subnet_id": f"subnet-{i:08x}", "availability_zone": "us-east-1a"} for i in range(17)]
    groups = [f"sg-{i:08x}" for i in range(6)]
    set_field(DEV, "network", network(subnets=subnets, security_group_ids=groups))
    error = load_error(config_root, r"has too many items")
    assert len(error.problems) == 2, str(error)
    for field, value, limit in (("subnets", subnets, 16), ("security_group_ids", groups, 5)):
        problem = problem_at(error, DEV, f"network.{field}")
        check(problem, file=DEV, field=f"network.{field}", value=value, fix=f"at most {limit}")


def test_a_security_group_listed_twice_is_refused(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "network", network(security_group_ids=[GROUP, GROUP]))
    error = load_error(config_root, r"network.security_group_ids: repeats an item")
    check(
        only_problem(error), file=DEV, field="network.security_group_ids", value=[GROUP, GROUP], fix="remove"
    )


def test_a_subnet_listed_twice_is_refused(config_root: Path, set_field: SetField) -> None:
    section = network()
    section["subnets"][1]["subnet_id"] = SUBNET_A
    set_field(DEV, "network", section)
    error = load_error(config_root, r"network.subnets\[1\].subnet_id: is listed more than once")
    check(
        only_problem(error),
        file=DEV,
        field="network.subnets[1].subnet_id",
        value=SUBNET_A,
        fix="list every subnet once",
    )


@pytest.mark.parametrize(
    ("zone", "field", "match", "value", "fix"),
    [
        # prod deploys to us-west-2: a subnet of dev's VPC copied over would fail only at deploy time
        (
            "us-east-1b",
            "network.subnets[1].availability_zone",
            r"is not in the environment's region us-west-2",
            "us-east-1b",
            "use a subnet of a VPC in us-west-2",
        ),
        # both subnets in us-west-2a: production needs two zones
        (
            "us-west-2a",
            "network.subnets",
            r"network.subnets: are all in one Availability Zone \(us-west-2a\) in a production environment",
            _NO_VALUE,
            "add a subnet of the same VPC in another Availability Zone",
        ),
    ],
)
def test_a_production_subnet_must_be_in_its_region_and_the_subnets_in_two_zones(
    config_root: Path, set_field: SetField, zone: str, field: str, match: str, value: Any, fix: str
) -> None:
    set_field(PROD, "network", network("us-west-2"))
    set_field(PROD, "network.subnets.1.availability_zone", zone)
    error = load_error(config_root, match)
    check(only_problem(error), file=PROD, field=field, value=value, fix=fix)


def test_outside_production_one_availability_zone_is_allowed(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "network", network())
    set_field(DEV, "network.subnets.1.availability_zone", "us-east-1a")
    network_of_dev = load_platform(config_root).environment("dev").network
    assert network_of_dev is not None and {s.availability_zone for s in network_of_dev.subnets} == {
        "us-east-1a"
    }


def test_every_network_problem_is_reported_with_the_others_in_one_run(
    config_root: Path, set_field: SetField
) -> None:
    # GIVEN a bad id, a subnet in the wrong region, a duplicate and an unknown field in prod's section,
    # and an unrelated problem elsewhere in the same file
    section = network(
        "us-west-2",
        subnets=[
            {"subnet_id": SUBNET_A, "availability_zone": "us-east-1a"},
            {"subnet_id": SUBNET_A, "availability_zone": "us-west-2b"},
            {"subnet_id": "subnet-nope", "availability_zone": "us-west-2c"},
        ],
    )
    section["vpc"] = VPC
    set_field(PROD, "network", section)
    set_field(PROD, "reserved_concurrency", 0)
    # WHEN it is loaded THEN each is reported, once, together
    error = load_error(config_root, r"configuration problems")
    assert {(p.file, p.field) for p in error.problems} == {
        (PROD, "network.subnets[0].availability_zone"),
        (PROD, "network.subnets[1].subnet_id"),
        (PROD, "network.subnets[2].subnet_id"),
        (PROD, "network.vpc"),
        (PROD, "reserved_concurrency"),
    }, str(error)
    assert "did you mean `vpc_id`?" in problem_at(error, PROD, "network.vpc").fix
