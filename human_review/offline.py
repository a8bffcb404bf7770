"""The review path offline: the orchestrator and the three review functions in-process, with real
botocore against moto (DynamoDB, SQS) and the local Bedrock Runtime endpoint (the emulator: guardrails
from the contracts, answers from the suites, the judge).

What this stands in for, and how:

* API Gateway: each call is the REST proxy event API Gateway would send (``devtools.samples.api_event``),
  with ``requestContext.identity.userArn`` set to the identity a SigV4 signature would prove. API Gateway's
  own IAM authorization is not emulated: the reviewer function's own check (403 ``NOT_A_REVIEWER``) is
  what refuses a caller here.
* Lambda's SQS event source: :meth:`OfflinePlatform.drain` receives up to 10 messages, calls the scoring
  function with them, and deletes those not listed in ``batchItemFailures`` (the partial batch response);
  the others become visible again (visibility timeout 0) and, after
  ``platform_spec.review.MAX_RECEIVE_COUNT`` receives, SQS (moto) moves them to the dead-letter queue.
* EventBridge's schedule: :meth:`OfflinePlatform.backlog` calls the backlog function.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self

from platform_config.model import PlatformConfig
from platform_spec.fields import to_dict
from platform_spec.review import (
    REVIEW_API_TIMEOUT_S,
    SCORING_TIMEOUT_S,
    InvocationLogLocation,
    ReviewEnv,
    backlog_timeout_s,
)
from platform_spec.runtime import Env

ORCHESTRATOR = "lambdas.orchestrator.handler"
SCORING = "lambdas.review.scoring"
REVIEW_API = "lambdas.review.api"
BACKLOG = "lambdas.review.backlog"
HANDLERS = (ORCHESTRATOR, SCORING, REVIEW_API, BACKLOG)


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class _Context:
    """The attributes of Lambda's context object that Powertools and the handlers read; the remaining time
    counts down from ``timeout_ms`` as Lambda's does from the function's timeout."""

    def __init__(self, name: str, timeout_ms: int) -> None:
        self._ends = time.monotonic() + timeout_ms / 1000
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = f"{name}-invocation"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "offline"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


class OfflinePlatform:
    """One environment's orchestrator and review path, offline (module docstring). A context manager.

    ``mutate`` may change the runtime configuration document (a ``runtime_config.json`` dict) before the
    functions read it, e.g. a test's sample rate. ``stdout`` receives what the functions print (their log
    lines and EMF metric documents); by default it is kept in :attr:`output`.
    """

    def __init__(
        self,
        config: PlatformConfig,
        environment: str = "dev",
        *,
        mutate: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.environment = environment
        self.contracts = {c.id: c for c in config.contracts_for(environment)}
        self.mutate = mutate
        self.output = io.StringIO()
        self._stack = contextlib.ExitStack()
        self.modules: dict[str, ModuleType] = {}
        self.session: Any = None
        self.resources: Any = None
        self._clients: dict[str, Any] = {}
        #: Each function's timeout, from which its context's remaining time counts down (a test may
        #: shorten one); the review path's are the construct's.
        self.timeouts_ms: dict[str, int] = {name: 28_000 for name in HANDLERS} | {
            SCORING: SCORING_TIMEOUT_S * 1000,
            REVIEW_API: REVIEW_API_TIMEOUT_S * 1000,
            BACKLOG: backlog_timeout_s(len(self.contracts)) * 1000,
        }

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        import boto3
        from moto import mock_aws

        from bedrock_platform_devtools.review_store import create_review_resources
        from bedrock_platform_devtools.samples import REVIEWER_ROLE_ARN
        from evaluation.targets import (
            OFFLINE_REGION,
            _environment,
            emulated_bedrock,
            offline_arns,
            offline_aws_environment,
        )
        from platform_config.runtime import runtime_config

        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bedrock-review-")))
        stub = emulated_bedrock(self._stack, self.config, self.contracts)
        self.stub = stub
        profiles, guardrails, judges = offline_arns(self.contracts)
        document = to_dict(runtime_config(list(self.contracts.values()), self.environment))
        if self.mutate is not None:
            self.mutate(document)
        config_path = folder / "runtime_config.json"
        config_path.write_text(json.dumps(document), encoding="utf-8")
        resources = {
            "use_cases": {
                uc: {"profile_arns": profiles[uc], "guardrail_arn": guardrails[uc], "guardrail_version": "1"}
                for uc in self.contracts
            }
        }
        # Every variable the construct sets on one function or another; the functions ignore the others'.
        self._stack.enter_context(
            _environment(
                {
                    **offline_aws_environment(folder, stub.endpoint_url),
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    Env.RESOURCES: json.dumps(resources),
                    Env.IDEMPOTENCY_TABLE: "offline-idempotency",
                    Env.SERVICE_NAME: "bedrock-review-offline",
                    Env.METRICS_NAMESPACE: "BedrockPlatformOffline",
                    Env.RUNTIME_CONFIG_PATH: str(config_path),
                }
            )
        )
        self._stack.enter_context(mock_aws())
        self.session = boto3.Session(region_name=OFFLINE_REGION)
        self.resources = create_review_resources(self, region=OFFLINE_REGION)
        location = InvocationLogLocation(
            log_group="/aws/bedrock/invocations", bucket=None, region=OFFLINE_REGION
        )
        import os

        os.environ.update(
            {
                ReviewEnv.REVIEW_TABLE: self.resources.review_table,
                ReviewEnv.REVIEW_QUEUE_URL: self.resources.queue_url,
                ReviewEnv.AUDIT_TABLE: self.resources.audit_table,
                ReviewEnv.REVIEWER_ROLE_ARN: REVIEWER_ROLE_ARN,
                ReviewEnv.GUARDRAILS: json.dumps(
                    {uc: {"arn": guardrails[uc], "version": "1"} for uc in self.contracts}
                ),
                ReviewEnv.JUDGE_PROFILES: json.dumps(judges),
                ReviewEnv.INVOCATION_LOGS: json.dumps(to_dict(location)),
            }
        )
        for name in HANDLERS:
            sys.modules.pop(name, None)
            self._stack.callback(sys.modules.pop, name, None)
            with contextlib.redirect_stdout(self.output):
                self.modules[name] = importlib.import_module(name)
            logger = getattr(self.modules[name], "logger", None)
            if logger is not None:
                logger.logger_handler.stream = self.output
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    # ---------------------------------------------------------------- calls

    def client(self, service: str, region_name: str | None = None) -> Any:
        """The platform's own client of ``service`` (moto's DynamoDB, SQS), made once: a new client cost
        ~7 CPU-milliseconds, and the tests and :meth:`drain` call the stores hundreds of times. The
        functions make their own clients, as deployed; a client created here holds no state of the
        stores (moto keeps that), only its settings, which are the session's."""
        assert region_name in (None, self.session.region_name), region_name
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def _call(self, module: str, event: Mapping[str, Any]) -> dict[str, Any]:
        handler = self.modules[module]
        with contextlib.redirect_stdout(self.output):
            response: dict[str, Any] = handler.lambda_handler(
                dict(event), _Context(module.rsplit(".", 1)[-1], self.timeouts_ms[module])
            )
        return response

    def api(self, module: str, event: Mapping[str, Any]) -> Reply:
        response = self._call(module, event)
        body = json.loads(response["body"]) if response.get("body") else {}
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(values)
        return Reply(status=int(response["statusCode"]), body=body, headers=headers)

    def invoke(self, use_case: str, body: Mapping[str, Any], *, caller: str | None = None) -> Reply:
        from bedrock_platform_devtools.samples import CALLER_ARN, api_event

        event = api_event(
            "POST",
            "/use-cases/{useCaseId}/invoke",
            {"useCaseId": use_case},
            body=dict(body),
            user_arn=caller or CALLER_ARN,
        )
        return self.api(ORCHESTRATOR, event)

    def review_api(
        self,
        method: str,
        resource: str,
        path_parameters: dict[str, str] | None = None,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        user_arn: str | None,
    ) -> Reply:
        from bedrock_platform_devtools.samples import api_event

        return self.api(
            REVIEW_API,
            api_event(method, resource, path_parameters, body=body, query=query, user_arn=user_arn),
        )

    def drain(self, *, max_rounds: int = 20) -> list[str]:
        """Deliver queued messages to the scoring function until the queue is empty (or ``max_rounds``):
        the message ids it reported as failed, in delivery order."""
        from bedrock_platform_devtools.samples import sqs_event

        sqs = self.client("sqs")
        failed: list[str] = []
        for _ in range(max_rounds):
            received = sqs.receive_message(
                QueueUrl=self.resources.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
            if not received:
                break
            try:
                response = self._call(SCORING, sqs_event(received))
                failures = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            except Exception:  # the whole batch failed (Powertools raises when every record fails)
                failures = {m["MessageId"] for m in received}
            failed.extend(m["MessageId"] for m in received if m["MessageId"] in failures)
            for message in received:
                if message["MessageId"] not in failures:
                    sqs.delete_message(
                        QueueUrl=self.resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
        return failed

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.resources.dead_letter_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    def backlog(self) -> dict[str, Any]:
        return self._call(BACKLOG, {"source": "aws.events", "detail-type": "Scheduled Event"})

    def emf(self) -> list[dict[str, Any]]:
        """Every EMF document the functions printed so far."""
        documents = []
        for line in self.output.getvalue().splitlines():
            line = line.strip()
            if line.startswith("{") and '"_aws"' in line:
                with contextlib.suppress(ValueError):
                    documents.append(json.loads(line))
        return documents
