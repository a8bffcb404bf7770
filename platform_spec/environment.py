"""An environment (``environments/<name>.yaml``): one deployment target, declared once.

pydantic validates the YAML against these dataclasses and generates the editor schema from them;
cross-file rules (one logging owner per account and region, production retains) are in
``platform_config.loader``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal

from platform_spec.contract import EnforcedGuardrailSpec
from platform_spec.fields import Spec, spec

#: The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]


class RemovalPolicyName(StrEnum):
    RETAIN = "retain"
    DESTROY = "destroy"


@spec
class NotificationTargets:
    """Where alarms and budget alerts are sent."""

    emails: Annotated[
        tuple[
            Annotated[str, Spec(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", fix="write an e-mail address")], ...
        ],
        Spec(unique=True),
    ] = ()
    https_endpoints: Annotated[
        tuple[Annotated[str, Spec(pattern=r"^https://[^\s]+$", fix="write an https:// URL")], ...],
        Spec(unique=True),
    ] = ()


#: AWS resource ids: the type's prefix and 8 or 17 hexadecimal digits, as Lambda's own API documents them for a
#: function's VPC (https://docs.aws.amazon.com/inspector/v2/APIReference/API_LambdaVpcConfig.html).
VPC_ID_PATTERN = r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$"
SUBNET_ID_PATTERN = r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$"
SECURITY_GROUP_ID_PATTERN = r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$"
#: A function's VpcConfig takes at most 16 subnets and 5 security groups
#: (https://docs.aws.amazon.com/lambda/latest/dg/API_VpcConfig.html).
MAX_FUNCTION_SUBNETS = 16
MAX_FUNCTION_SECURITY_GROUPS = 5


@spec
class NetworkSubnet:
    """One subnet of the VPC where Lambda places the functions' network interfaces, and its Availability Zone."""

    subnet_id: Annotated[
        str,
        Spec(
            "The subnet's id (VPC console, Subnets).",
            pattern=SUBNET_ID_PATTERN,
            fix="write a subnet id: subnet- and 8 or 17 hexadecimal digits, e.g. subnet-0123456789abcdef0",
        ),
    ]
    availability_zone: Annotated[
        str,
        Spec(
            "The subnet's Availability Zone name (VPC console, Subnets, column Availability Zone), e.g. us-east-1a.",
            pattern=r"^[a-z]{2}-(gov-)?[a-z]+-[0-9][a-z]$",
            fix="write the subnet's Availability Zone name, the region and a letter, e.g. us-east-1a; a zone ID "
            "(use1-az1) or a Local Zone (us-east-1-atl-1a) is not accepted here",
        ),
    ]


@spec
class NetworkPlacement:
    """Places the environment's request-path functions (the orchestrator and the three human review
    functions) in an existing VPC, given by ids (no lookup: synth stays offline). Without it they run
    outside any VPC. The subnets need a route to DynamoDB, Bedrock Runtime, SQS and X-Ray (VPC endpoints
    or NAT): see the README, "Environments"."""

    vpc_id: Annotated[
        str,
        Spec(
            "The id of the existing VPC (VPC console, Your VPCs).",
            pattern=VPC_ID_PATTERN,
            fix="write a VPC id: vpc- and 8 or 17 hexadecimal digits, e.g. vpc-0123456789abcdef0",
        ),
    ]
    subnets: Annotated[
        tuple[NetworkSubnet, ...],
        Spec(
            "The VPC's subnets for the functions' network interfaces, each with its Availability Zone: at least "
            "one (Lambda's minimum), in at least two Availability Zones in a production environment; at most 16.",
            min_length=1,
            max_length=MAX_FUNCTION_SUBNETS,
        ),
    ]
    security_group_ids: Annotated[
        tuple[
            Annotated[
                str,
                Spec(
                    pattern=SECURITY_GROUP_ID_PATTERN,
                    fix="write a security group id: sg- and 8 or 17 hexadecimal digits, e.g. sg-0123456789abcdef0",
                ),
            ],
            ...,
        ],
        Spec(
            "Existing security groups of the VPC for every one of the four functions (at most 5); they must allow "
            "outbound HTTPS to the endpoints. Empty: aws-cdk-lib creates one group per function, all outbound "
            "allowed, no inbound rule.",
            max_length=MAX_FUNCTION_SECURITY_GROUPS,
            unique=True,
        ),
    ] = ()


@spec
class EnvironmentDocument:
    """One deployment target: environments/<name>.yaml. The file name (without .yaml) must equal `name`."""

    name: Annotated[
        str,
        Spec(
            "Environment name, lower-case (dev, staging, prod). Contracts list it under `environments`.",
            pattern=r"^[a-z][a-z0-9-]{1,11}$",
            fix="use 2-12 lower-case letters, digits or -, starting with a letter",
        ),
    ]
    account: Annotated[
        str,
        Spec(
            "The 12-digit AWS account id this environment deploys to. Quote it in YAML so leading zeros survive.",
            pattern=r"^[0-9]{12}$",
            fix='write the 12-digit account id in quotes, e.g. account: "012345678901"',
        ),
    ]
    region: Annotated[
        str,
        Spec(
            "The AWS region this environment deploys to, e.g. us-east-1.",
            pattern=r"^(us|eu|ap|ca|sa|me|af|il|mx)-(gov-)?[a-z]+-[0-9]$",
            fix="write a region name such as us-east-1",
        ),
    ]
    tags: Annotated[
        Mapping[
            Annotated[
                str,
                Spec(
                    pattern=r"^[A-Za-z0-9 _.:/=+@-]{1,128}$",
                    fix="use 1-128 letters, digits, spaces or _.:/=+@-",
                ),
            ],
            Annotated[str, Spec(max_length=256)],
        ],
        Spec(
            "Tags applied to every resource in the environment (besides the per-use-case cost allocation tags)."
        ),
    ] = field(default_factory=lambda: MappingProxyType({}))
    log_retention_days: Annotated[
        RetentionDays,
        Spec(
            "Retention of every log group and of the invocation-log bucket objects. One of CloudWatch Logs' allowed values."
        ),
    ]
    production: Annotated[
        bool,
        Spec("Marks a production environment: stateful resources must be retained (removal_policy: retain)."),
    ] = False
    removal_policy: Annotated[
        RemovalPolicyName,
        Spec(
            "What happens to stateful resources (keys, buckets, log groups) when the stack is deleted. Production must use retain."
        ),
    ]
    owns_invocation_logging: Annotated[
        bool,
        Spec(
            "Whether this environment sets the account-and-region-wide Bedrock model invocation logging configuration. "
            "Exactly one environment per account and region may own it."
        ),
    ]
    notifications: NotificationTargets = field(default_factory=NotificationTargets)
    enforced_guardrail: EnforcedGuardrailSpec | None = None
    network: NetworkPlacement | None = None
    reserved_concurrency: Annotated[
        int,
        Spec(
            "Reserved concurrency of the orchestrator Lambda in this environment: its ceiling and its guaranteed "
            "share of the account's concurrency.",
            ge=1,
            le=1000,
        ),
    ]
