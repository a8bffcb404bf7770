"""Declare a field once: its type, constraints and description, for pydantic and for the Lambdas alike.

A shared dataclass field looks like this::

    max_output_tokens: Annotated[int, Spec("maxTokens sent to Bedrock", ge=1, le=64_000)]

* On the CDK side, pydantic validates YAML files against these dataclasses and generates the editors'
  JSON Schemas from them: :class:`Spec` implements pydantic's documented hooks
  (``__get_pydantic_core_schema__``, ``__get_pydantic_json_schema__``), so this module never imports
  pydantic and a Lambda never needs it.
* In a Lambda, :func:`from_dict` checks the same types and the same constraints with the standard library
  only, and :func:`to_dict` writes what :func:`from_dict` reads.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``StrEnum`` subclasses, ``Literal[...]``,
nested ``@spec`` dataclasses, ``X | None``, ``tuple[X, ...]`` and ``Mapping[str, X]`` (keys may be a
``StrEnum``), each optionally wrapped in ``Annotated[..., Spec(...)]``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

#: pydantic config for every shared dataclass: unknown fields are errors, never silently ignored, and a
#: number is finite (YAML reads `.inf` and `.nan` as floats: a budget of `.inf` would be no budget).
PYDANTIC_CONFIG: Mapping[str, Any] = types.MappingProxyType({"extra": "forbid", "allow_inf_nan": False})


class Spec:
    """Constraints and description of one field (``Annotated`` metadata).

    ``ge``/``gt``/``le``/``lt`` bound numbers; ``min_length``/``max_length`` bound strings, tuples and
    mappings; ``pattern`` is a regular expression a string must match (``re.search``, anchored by the
    pattern itself); ``unique`` forbids repeated items in a tuple; ``description`` is shown in editors
    and error messages, and ``fix`` tells a user how to repair a bad value.
    """

    __slots__ = (
        "description",
        "fix",
        "ge",
        "gt",
        "le",
        "lt",
        "max_length",
        "min_length",
        "pattern",
        "unique",
    )

    def __init__(
        self,
        description: str = "",
        *,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
        fix: str = "",
    ) -> None:
        self.description = description
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt
        self.min_length, self.max_length = min_length, max_length
        self.pattern = pattern
        self.unique = unique
        self.fix = fix

    def __repr__(self) -> str:
        set_ = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) not in (None, "", False)}
        return f"Spec({', '.join(f'{k}={v!r}' for k, v in sorted(set_.items()))})"

    # ---------------------------------------------------------------- the standard-library check

    def problems(self, value: Any) -> list[str]:
        """What is wrong with ``value`` (already of the right type) under these constraints."""
        found = []
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.ge is not None and value < self.ge:
                found.append(f"must be at least {self.ge:g}")
            if self.gt is not None and value <= self.gt:
                found.append(f"must be greater than {self.gt:g}")
            if self.le is not None and value > self.le:
                found.append(f"must be at most {self.le:g}")
            if self.lt is not None and value >= self.lt:
                found.append(f"must be less than {self.lt:g}")
        if isinstance(value, str | tuple | Mapping):
            unit = "characters" if isinstance(value, str) else "items"
            if self.min_length is not None and len(value) < self.min_length:
                found.append(f"must have at least {self.min_length} {unit}")
            if self.max_length is not None and len(value) > self.max_length:
                found.append(f"must have at most {self.max_length} {unit}")
        if isinstance(value, str) and self.pattern is not None and not re.search(self.pattern, value):
            found.append(f"must match {self.pattern}")
        if isinstance(value, tuple) and self.unique and len(set(map(repr, value))) != len(value):
            found.append("must not repeat an item")
        return found

    # ---------------------------------------------------------------- pydantic hooks (CDK side only)

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        schema = handler(source)
        inner = schema
        while inner.get("type") in ("nullable", "default"):
            inner = inner["schema"]
        for key in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(self, key)
            if value is not None:
                inner[key] = value
        if inner.get("type") in ("int", "float", "bool", "str"):
            # Same types as from_dict: no "12" for 12, no true for 1, no "yes" for true.
            inner["strict"] = True
        if self.unique:
            from pydantic_core import core_schema  # only ever reached on the CDK side

            def no_repeats(value: Any) -> Any:
                if value is not None and len(set(map(repr, value))) != len(value):
                    raise ValueError("must not repeat an item")
                return value

            schema = core_schema.no_info_after_validator_function(no_repeats, schema)
        return schema

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Callable[[Any], Any]) -> Any:
        json_schema = handler(core_schema)
        if self.description:
            json_schema["description"] = self.description
        if self.unique:
            json_schema["uniqueItems"] = True
        return json_schema


@typing.dataclass_transform(frozen_default=True, kw_only_default=True)
def spec(cls: type[T]) -> type[T]:
    """Make ``cls`` a shared, frozen, keyword-only dataclass that pydantic validates strictly."""
    made = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    made.__pydantic_config__ = dict(PYDANTIC_CONFIG)  # type: ignore[attr-defined]  # a dict: pydantic's ConfigDict
    return made


# ==================================================================== from_dict / to_dict


class SpecError(ValueError):
    """A document does not match its dataclass; ``problems`` lists every problem with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))

    def without_values(self) -> str:
        """The problems without the values they quote (``... (got <value>)``): what may be logged of a
        document that carries text the log must not (a caller's request, a model's answer)."""
        return "; ".join(problem.split(" (got ", 1)[0] for problem in self.problems)


def from_dict(cls: type[T], data: Any, *, where: str = "") -> T:
    """Build ``cls`` from a JSON-like document, checking every type and :class:`Spec` constraint.

    Raises :class:`SpecError` listing every problem, each prefixed with its path (``where`` is the
    document's name in those messages).
    """
    problems: list[str] = []
    result = _reader(typing.cast(Any, cls))(data, where or cls.__name__, problems)
    if problems:
        raise SpecError(problems)
    return typing.cast(T, result)


def to_dict(value: Any) -> Any:
    """The JSON-ready form of a shared dataclass (or of any value inside one)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {to_dict(k): to_dict(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_dict(v) for v in value]
    return value


_MISSING = object()


@cache
def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types (``Annotated`` kept), once per class: ``typing.get_type_hints``
    evaluates every annotation string again on each call. The configuration loader uses it too."""
    module = sys.modules.get(cls.__module__)
    return typing.get_type_hints(cls, globalns=vars(module) if module else None, include_extras=True)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _describe(typing.get_args(tp)[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if dataclasses.is_dataclass(tp):
        return "an object"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if tp in names:
        return names[tp]
    if origin in (tuple, list):
        return "a list"
    if origin in (Mapping, dict, typing.Mapping):
        return "an object"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None)) + " or null"
    return str(tp)


#: Reads one value of a field type: ``read(value, where, problems)`` returns the value as the dataclass
#: holds it, appending to ``problems`` what is wrong (each prefixed with ``where``, the value's path).
Reader = Callable[[Any, str, list[str]], Any]


@cache
def _reader(tp: Any) -> Reader:
    """The reader of field type ``tp``, built once per type: what to check is decided here, from the type,
    instead of again for every value (``from_dict`` of an evaluation run reads ~3,000 values). A type
    this module does not support gets a reader that raises when it is reached, as a field of that type
    in a document is."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _annotated_reader(tp)
    if origin in (types.UnionType, typing.Union):
        return _optional_reader(tp)
    if origin is typing.Literal:
        return _literal_reader(tp)
    if origin in (tuple, list):
        return _tuple_reader(tp)
    if origin in (Mapping, dict, typing.Mapping):
        return _mapping_reader(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_reader(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_reader(tp)
    if tp is float:
        return _read_float
    if tp in (str, int, bool):
        return _scalar_reader(tp)
    if tp is Any:
        return lambda value, where, problems: value
    return _unsupported(f"field type {tp!r} is not supported by platform_spec.fields")


def _unsupported(message: str) -> Reader:
    def read(value: Any, where: str, problems: list[str]) -> Any:
        raise TypeError(f"{where}: {message}")

    return read


def _annotated_reader(tp: Any) -> Reader:
    inner, *metadata = typing.get_args(tp)
    read_inner = _reader(inner)
    specs = tuple(meta for meta in metadata if isinstance(meta, Spec))
    if not specs:
        return read_inner

    def read(value: Any, where: str, problems: list[str]) -> Any:
        before = len(problems)
        result = read_inner(value, where, problems)
        if len(problems) == before:
            for spec in specs:
                problems.extend(f"{where} {p} (got {value!r})" for p in spec.problems(result))
        return result

    return read


def _optional_reader(tp: Any) -> Reader:
    options = typing.get_args(tp)
    concrete = [o for o in options if o is not type(None)]
    read_one = (
        _reader(concrete[0])
        if len(concrete) == 1
        else _unsupported("unions other than X | None are not supported")
    )
    if type(None) not in options:
        return read_one

    def read(value: Any, where: str, problems: list[str]) -> Any:
        return None if value is None else read_one(value, where, problems)

    return read


def _literal_reader(tp: Any) -> Reader:
    allowed = typing.get_args(tp)
    any_bool = any(isinstance(a, bool) for a in allowed)

    def read(value: Any, where: str, problems: list[str]) -> Any:
        if value not in allowed or isinstance(value, bool) != any_bool:
            problems.append(f"{where} must be {_describe(tp)} (got {value!r})")
        return value

    return read


def _tuple_reader(tp: Any) -> Reader:
    read_item = _reader(typing.get_args(tp)[0])

    def read(value: Any, where: str, problems: list[str]) -> Any:
        if not isinstance(value, list | tuple):
            problems.append(f"{where} must be {_describe(tp)} (got {value!r})")
            return ()
        return tuple(read_item(item, f"{where}[{i}]", problems) for i, item in enumerate(value))

    return read


def _mapping_reader(tp: Any) -> Reader:
    key_type, value_type = typing.get_args(tp)
    read_key, read_value = _reader(key_type), _reader(value_type)

    def read(value: Any, where: str, problems: list[str]) -> Any:
        if not isinstance(value, Mapping):
            problems.append(f"{where} must be {_describe(tp)} (got {value!r})")
            return types.MappingProxyType({})
        return types.MappingProxyType(
            {
                read_key(k, f"{where} key {k!r}", problems): read_value(v, f"{where}[{k!r}]", problems)
                for k, v in value.items()
            }
        )

    return read


def _dataclass_reader(cls: type) -> Reader:
    # The fields' readers are looked up when the first value is read, not here: a dataclass may hold
    # itself (through X | None or a tuple), and a field type is only resolved once it is needed. The
    # table is built whole, then assigned: a thread reading at the same time builds its own, never half of
    # one.
    table: tuple[frozenset[str], tuple[tuple[str, Reader, bool], ...]] | None = None

    def read(value: Any, where: str, problems: list[str]) -> Any:
        nonlocal table
        if not isinstance(value, Mapping):
            problems.append(f"{where} must be an object (got {value!r})")
            return None
        if table is None:
            table = _field_table(cls)
        known, fields = table
        for key in value:
            if key not in known:
                problems.append(f"{where}.{key} is not a known field (allowed: {', '.join(sorted(known))})")
        arguments: dict[str, Any] = {}
        before = len(problems)
        for name, read_field, required in fields:
            if name in value:
                arguments[name] = read_field(value[name], f"{where}.{name}", problems)
            elif required:
                problems.append(f"{where}.{name} is required")
        if len(problems) != before:
            return None
        return cls(**arguments)

    return read


def _field_table(cls: type) -> tuple[frozenset[str], tuple[tuple[str, Reader, bool], ...]]:
    """A dataclass's init fields: their names, and for each its reader and whether it is required."""
    hints = field_types(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    return frozenset(f.name for f in fields), tuple(
        (
            f.name,
            _reader(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in fields
    )


def _enum_reader(tp: type[enum.Enum]) -> Reader:
    def read(value: Any, where: str, problems: list[str]) -> Any:
        try:
            return tp(value)
        except ValueError:
            problems.append(f"{where} must be {_describe(tp)} (got {value!r})")
            return next(iter(tp))

    return read


def _read_float(value: Any, where: str, problems: list[str]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where} must be a number (got {value!r})")
        return 0.0
    if not math.isfinite(value):
        problems.append(f"{where} must be a finite number (got {value!r})")
        return 0.0
    return float(value)


def _scalar_reader(tp: type) -> Reader:
    is_bool = tp is bool

    def read(value: Any, where: str, problems: list[str]) -> Any:
        if isinstance(value, bool) != is_bool or not isinstance(value, tp):
            problems.append(f"{where} must be {_describe(tp)} (got {value!r})")
            return tp()
        return value

    return read
