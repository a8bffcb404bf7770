"""`python -m human_review exercise --target <env>`'s deployed client, against a local stand-in for API
Gateway (tests/support/review_gateway.py): real SigV4 signing (botocore), real STS AssumeRole of the
reviewer role (moto), real HTTP, the real functions behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_platform_devtools.samples import CALLER_ARN, REVIEWER_ARN, REVIEWER_ROLE_ARN
from human_review.exercise import REVIEWER_SESSION, DeployedClient, ExerciseFailed, exercise
from human_review.offline import OfflinePlatform
from platform_config import PlatformConfig
from tests.support.review_gateway import Seen, review_gateway


@pytest.fixture
def gateway(config: PlatformConfig) -> Iterator[tuple[OfflinePlatform, str, Seen]]:
    with review_gateway(config) as served:
        yield served


def test_the_deployed_client_walks_the_path_as_caller_and_reviewer_role_session(
    config: PlatformConfig, gateway: tuple[OfflinePlatform, str, list[tuple[str, str, str]]]
) -> None:
    platform, url, seen = gateway
    assumed: list[dict[str, Any]] = []
    platform.session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(dict(params))
    )
    client = DeployedClient(
        api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
    )
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the deployed scoring function's turn, on a fake clock
        polls.append(seconds)
        platform.drain()

    walk = exercise(
        client,
        config,
        platform.contracts["rfp-drafting"],
        wait_s=60,
        poll_s=5,
        clock=lambda: 5.0 * len(polls),
        sleep=sleep,
    )
    assert [line.split(" ", 1)[0] for line in walk.steps] == [str(i) for i in range(1, 12)]
    assert polls == [5]  # one poll: scored after the first drain
    # the reviewer role was assumed once, with the source identity its trust requires, named as the session
    assert [(a["RoleArn"], a["RoleSessionName"], a.get("SourceIdentity")) for a in assumed] == [
        (REVIEWER_ROLE_ARN, REVIEWER_SESSION, REVIEWER_SESSION)
    ]
    # the reviewer endpoints were called only with the reviewer role's session; the caller was refused there
    assert {(who, resource) for who, _, resource in seen if resource.startswith("/reviews")} == {
        (CALLER_ARN, "/reviews"),
        (REVIEWER_ARN, "/reviews"),
        (REVIEWER_ARN, "/reviews/{reviewId}"),
        (REVIEWER_ARN, "/reviews/{reviewId}/decision"),
    }


def test_an_output_never_scored_fails_the_walk_after_the_wait_naming_the_dead_letter_queue(
    config: PlatformConfig, gateway: tuple[OfflinePlatform, str, list[tuple[str, str, str]]]
) -> None:
    platform, url, _ = gateway
    client = DeployedClient(
        api_url=url, region="us-east-1", reviewer_role_arn=REVIEWER_ROLE_ARN, session=platform.session
    )
    now = [0.0]

    def sleep(seconds: float) -> None:  # the scoring function never runs
        now[0] += seconds

    with pytest.raises(ExerciseFailed, match=r"after 30 s.*ReviewDeadLetterQueueUrl") as failed:
        exercise(
            client,
            config,
            platform.contracts["rfp-drafting"],
            wait_s=30,
            poll_s=10,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert failed.value.step == "4 scoring"
