"""The canary bake's state machine as the delivery stack synthesizes it, the ASL data flow the tests need to
feed its payloads to the bake Lambda, and a clock that advances only when the code under test waits."""

from __future__ import annotations

import json
import re
from typing import Any

from compliance.assembly import StackTemplate

_REFERENCE = re.compile(r"^@ref(\d+)@$")


class FakeClock:
    """Time that passes only when the code under test waits; ``slept`` lists each wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def bake_definition(delivery: StackTemplate) -> tuple[dict[str, Any], list[Any]]:
    """The bake state machine's definition (``Fn::Join`` of the template) and the CloudFormation values
    it joins: each appears in the definition as the string ``@ref<i>@``, the i-th of the list."""
    ((_, machine),) = delivery.resources_of_type("AWS::StepFunctions::StateMachine")
    definition = machine["Properties"]["DefinitionString"]
    parts = definition["Fn::Join"][1] if isinstance(definition, dict) else [definition]
    references = [p for p in parts if not isinstance(p, str)]
    text, index = "", 0
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            text += f"@ref{index}@"
            index += 1
    return json.loads(text), references


def reference(value: str, references: list[Any]) -> Any:
    """The CloudFormation value behind ``@ref<i>@`` (``value`` itself when it is no reference)."""
    found = _REFERENCE.match(value)
    return references[int(found.group(1))] if found else value


def _path(document: Any, path: str, context: Any = None) -> Any:
    if path.startswith("$$."):  # the context object (execution, state machine)
        if context is None:
            raise ValueError(f"{path!r} reads the context object: pass context=")
        document, path = context, path[1:]
    if path == "$":
        return document
    if not path.startswith("$."):
        raise ValueError(f"only $, $.a.b and $$.a.b paths are supported here, not {path!r}")
    for name in path[2:].split("."):
        document = document[name]
    return document


def resolve_parameters(parameters: Any, document: Any, *, context: Any = None) -> Any:
    """An ASL ``Parameters`` template applied to a state's input: each ``"key.$": "<path>"`` becomes
    ``"key": <the value at path>`` (plain ``$``/``$.a.b`` paths, and ``$$.a.b`` paths of ``context``, the
    execution's context object; intrinsic functions are not evaluated)."""
    if isinstance(parameters, dict):
        resolved: dict[str, Any] = {}
        for key, value in parameters.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = _path(document, value, context)
            else:
                resolved[key] = resolve_parameters(value, document, context=context)
        return resolved
    if isinstance(parameters, list):
        return [resolve_parameters(v, document, context=context) for v in parameters]
    return parameters


def fail_cause(state: dict[str, Any], document: Any) -> str:
    """The cause a ``Fail`` state ends its execution with, given its input ``document``: its ``Cause``, or
    its ``CausePath`` (a ``$.a.b`` path, or ``States.JsonToString($...)``)."""
    if "Cause" in state:
        return str(state["Cause"])
    path = state["CausePath"]
    found = re.fullmatch(r"States\.JsonToString\((\$[^)]*)\)", path)
    if found:
        return json.dumps(_path(document, found.group(1)), separators=(",", ":"))
    return str(_path(document, path))


def retrier_for(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier of a Task state that handles ``error``, as Step Functions picks it: the first whose
    ``ErrorEquals`` names it, ``States.TaskFailed`` (any error but ``States.Timeout``) or ``States.ALL``
    (any but ``States.DataLimitExceeded`` and ``States.Runtime``)
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). None: not retried
    (no retrier, or one of 0 attempts)."""
    for retrier in state.get("Retry", []):
        names = set(retrier["ErrorEquals"])
        if (
            error in names
            or ("States.TaskFailed" in names and error != "States.Timeout")
            or ("States.ALL" in names and error not in ("States.DataLimitExceeded", "States.Runtime"))
        ):
            return dict(retrier) if retrier.get("MaxAttempts", 3) > 0 else None
    return None


def transform_input(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """An EventBridge target's ``InputTransformer`` applied to ``event``: each ``<name>`` of the template
    becomes the JSON of the value at its ``InputPathsMap`` path (plain ``$.a.b`` paths, values outside
    quotes, as aws-cdk-lib's ``RuleTargetInput.from_object`` writes them)."""
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        text = text.replace(f"<{name}>", json.dumps(_path(event, path)))
    return json.loads(text)
