"""``python -m human_review exercise --target offline|<env>``: the human review path exercised once.

python -m human_review exercise                    # offline: moto + the local Bedrock endpoint (make review-demo)
python -m human_review exercise --target staging   # the deployed staging API, as caller and reviewer
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from human_review.exercise import DeployedClient, Walk
    from platform_config.model import PlatformConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EPILOG = """\
--target offline (the default): the real orchestrator, scoring, reviewer-API and backlog functions
in-process, with real botocore against moto (DynamoDB, SQS) and the local Bedrock Runtime endpoint
(the evaluation emulator answers and judges). API Gateway's IAM authorization is not emulated: the
reviewer function's own check refuses the caller.

--target <env>: the environment's deployed API signed with SigV4: as the caller with your credentials,
and as a reviewer through a session of the stack's reviewer role (STS AssumeRole with a source identity,
which the role's trust requires: your credentials need sts:AssumeRole and sts:SetSourceIdentity on it).
The reviewer session is named --reviewer-name (default human_review.exercise.REVIEWER_SESSION); the
API refuses a decision under the name the request was made under (403 SELF_REVIEW). The API URL and
the role come from the stack outputs ApiUrl and ReviewerRoleArn
(--outputs-file from `npx cdk deploy --outputs-file`, else CloudFormation DescribeStacks of <Env>-Platform).
It leaves one approved review item, and where the contract stores text one corrected item, with their
audit records behind (they expire with the contract's retention); the requests go to a real model and
are billed like any other.

Exit status: 0 the path works end to end, 1 a step failed (printed with what was expected),
2 bad usage or configuration.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m human_review",
        description="Exercise the human review path once: held answer, scoring, reviewer decision, release, audit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", type=Path, default=PROJECT_ROOT, help="repository root (default: this checkout)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("exercise", help="walk the review path once and check every step")
    run.add_argument("--target", default="offline", help="offline (default) or an environment name")
    run.add_argument("--use-case", help="the use case to walk (default: one that holds answers for review)")
    run.add_argument("--outputs-file", type=Path, help="deployed: `cdk deploy --outputs-file` JSON")
    run.add_argument("--api-url", help="deployed: the API's stage URL (default: stack output ApiUrl)")
    run.add_argument(
        "--reviewer-role-arn", help="deployed: the reviewer role (default: stack output ReviewerRoleArn)"
    )
    run.add_argument("--region", help="deployed: the environment's region (default: environments/<env>.yaml)")
    run.add_argument(
        "--reviewer-name",
        help="deployed: the reviewer session's name and source identity (default: the walk's own, "
        "human_review.exercise.REVIEWER_SESSION); credentials that already carry a source identity must pass it",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=180.0,
        help="deployed: seconds to wait for the scoring function (default 180)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from human_review.exercise import ExerciseFailed, choose_use_case
    from platform_config import ConfigError, load_platform

    try:
        config = load_platform(args.root.resolve())
    except ConfigError as error:
        print(error.report("nothing was exercised"), file=sys.stderr)
        return 2
    environment = "dev" if args.target == "offline" else args.target
    environments = {env.name: env for env in config.environments}
    if environment not in environments:
        print(
            f"--target {args.target}: no such environment. Fix: offline or one of {', '.join(sorted(environments))}",
            file=sys.stderr,
        )
        return 2
    contracts = {c.id: c for c in config.contracts_for(environment)}
    try:
        use_case = choose_use_case(contracts, args.use_case)
    except ValueError as error:
        print(f"{args.target}: {error}", file=sys.stderr)
        return 2
    print(f"==> exercising the human review path of {use_case} ({args.target})")
    try:
        if args.target == "offline":
            walk = _offline(config, environment, use_case)
        else:
            client = _deployed_client(args, environment, environments[environment].region)
            if client is None:
                return 2
            from human_review.exercise import exercise

            walk = exercise(client, config, contracts[use_case], wait_s=args.wait)
    except ExerciseFailed as failure:
        print(f"FAILED at step {failure}", file=sys.stderr)
        return 1
    for line in walk.steps:
        print(f"  ok {line}")
    print(f"==> the review path of {use_case} works end to end ({args.target})")
    return 0


def _offline(config: PlatformConfig, environment: str, use_case: str) -> Walk:
    from human_review.exercise import OfflineClient, exercise
    from human_review.offline import OfflinePlatform

    with OfflinePlatform(config, environment) as platform:
        return exercise(OfflineClient(platform), config, platform.contracts[use_case])


def _deployed_client(args: argparse.Namespace, environment: str, region: str) -> DeployedClient | None:
    from evaluation.targets import describe_outputs, read_outputs_file, stack_name
    from human_review.exercise import REVIEWER_SESSION, DeployedClient
    from platform_spec.delivery import Output

    region = args.region or region
    try:
        if args.api_url and args.reviewer_role_arn:
            outputs: dict[str, str] = {}
        elif args.outputs_file:
            outputs = read_outputs_file(args.outputs_file, environment)
        else:
            import boto3

            outputs = describe_outputs(
                boto3.Session(region_name=region).client("cloudformation"), environment
            )
    except Exception as error:  # a missing file, no credentials, no stack
        print(
            f"{args.target}: cannot read the outputs of {stack_name(environment)}: {error}", file=sys.stderr
        )
        return None
    api_url = args.api_url or outputs.get(Output.API_URL)
    role = args.reviewer_role_arn or outputs.get(Output.REVIEWER_ROLE_ARN)
    if not api_url or not role:
        missing = [n for n, v in ((Output.API_URL, api_url), (Output.REVIEWER_ROLE_ARN, role)) if not v]
        print(
            f"{args.target}: the outputs of {stack_name(environment)} lack {', '.join(missing)}. Fix: deploy this "
            "commit first, or pass --api-url and --reviewer-role-arn",
            file=sys.stderr,
        )
        return None
    return DeployedClient(
        api_url=api_url,
        region=region,
        reviewer_role_arn=role,
        reviewer_name=args.reviewer_name or REVIEWER_SESSION,
    )


if __name__ == "__main__":
    sys.exit(main())
