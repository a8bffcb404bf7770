"""YAML documents validated against their ``platform_spec`` dataclasses, with every problem located.

:class:`Document` parses one YAML file, remembers the line of every key (for error messages) and
validates it with pydantic against its dataclass. Every pydantic error becomes a
:class:`~platform_config.errors.Problem` naming the file, line, field, bad value and fix; the field's
``Spec`` (description, ``fix``) supplies the fix where it has one.

A document with problems still answers :meth:`Document.field` for each field that is valid on its own,
so rules across fields and files run, and report, even when another field of the same file is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import pickle
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from platform_config.errors import Problem
from platform_spec.fields import Spec, field_types

D = TypeVar("D")
Path_ = tuple[str | int, ...]


@cache
def adapter(tp: Any) -> TypeAdapter[Any]:
    """pydantic's validator (and JSON Schema generator) for a platform_spec type, built once."""
    return TypeAdapter(tp)


def dotted(parts: Iterable[str | int]) -> str:
    """``("notifications", "emails", 0)`` -> ``notifications.emails[0]``."""
    text = ""
    for part in parts:
        index = isinstance(part, int) and not isinstance(part, bool)
        text += f"[{part}]" if index else (f".{part}" if text else str(part))
    return text or "(file)"


#: Above this many characters of allowed values a fix names the schema instead of listing them all.
_MAX_LISTED_CHARS = 240


def _closest(value: str, options: list[str]) -> list[str]:
    """The allowed value ``value`` most likely means: one it extends or abbreviates by whole words
    (``PHONE_NUMBER`` -> ``PHONE``, ``AWS_SECRET`` -> ``AWS_SECRET_KEY``; the closest of several), else the
    closest spelling. By spelling alone ``PHONE_NUMBER`` is nearer ``CA_HEALTH_NUMBER`` than ``PHONE``."""
    shorter = [o for o in options if value.startswith(o + "_")]
    if shorter:
        return [max(shorter, key=len)]
    longer = [o for o in options if o.startswith(value + "_")]
    return difflib.get_close_matches(value, longer or options, n=1, cutoff=0.0 if longer else 0.6)


def one_of(value: Any, allowed: Iterable[Any], *, schema: str = "") -> str:
    """A fix listing the allowed values, led by the closest one to ``value``."""
    options = list(allowed)
    close = _closest(value, [str(o) for o in options]) if isinstance(value, str) else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    if isinstance(value, bool):
        hint = "YAML reads unquoted yes/no/on/off as true/false: quote it. " + hint
    listed = ", ".join(repr(o) for o in options)
    if len(listed) > _MAX_LISTED_CHARS and schema:
        return f"{hint}use one of the {len(options)} values listed in {schema}"
    return f"{hint}use one of {listed}"


def freeze(value: Any) -> Any:
    """``value`` with every mapping inside it made read-only (pydantic builds plain dicts)."""
    if isinstance(value, _SCALARS):  # most of a document: nothing inside to freeze
        return value
    if isinstance(value, tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    names = _field_names(type(value))
    if names is not None:
        for name in names:
            object.__setattr__(value, name, freeze(getattr(value, name)))
    return value


_SCALARS = (str, int, float, type(None))  # bool and enum.IntEnum are ints, enum.StrEnum strs


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The fields of a dataclass type, ``None`` for any other type (looked up once per type)."""
    if cls not in _FIELD_NAMES:
        is_dataclass = dataclasses.is_dataclass(cls)
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls)) if is_dataclass else None
    return _FIELD_NAMES[cls]


#: libyaml's parser where PyYAML was built with it (the wheels are), else the pure-Python one: same nodes,
#: marks and errors, ~10x faster on the evaluation suites.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse.

    The node tree is shared between the calls given the same text: read it, never change it. The data is
    the caller's own (a fresh copy each call)."""
    node, data = _parsed(text)
    return node, pickle.loads(data)


@lru_cache(maxsize=128)
def _parsed(text: str) -> tuple[yaml.Node | None, bytes]:
    """One parse of ``text``, kept: a process reading the same file again (``load_platform`` once per
    command of a long-running tool, a test suite loading one repository and its many edited copies)
    parses only what changed. The data is kept pickled, since callers may change theirs: unpickling
    costs ~2 % of parsing (~0.07 ms against ~2.8 ms for a 20 KB evaluation suite), a deep copy ~12 %.
    A YAML error is raised, not kept, so the next call reports it again. An entry holds ~15x its text
    (~280 KB for the largest suite, 20 KB): the last 128 texts, at most ~36 MB."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's parser where available."""
    return parse_yaml(text)[1]


class Document(Generic[D]):
    """One YAML file validated against the dataclass ``kind``."""

    def __init__(self, path: Path, root: Path, kind: type[D], *, what: str) -> None:
        self.path = path
        self.kind = kind
        self.what = what  # "contract", "environment", ... for messages
        self.display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        self.data: Any = None
        self.value: D | None = None  # the validated document, when it has no problem at all
        self.problems: list[Problem] = []
        self.lines: dict[Path_, int] = {}
        self._invalid: list[Path_] = []  # paths of the fields the schema found wrong
        self._parse()
        if isinstance(self.data, dict):
            self._validate()

    # ---------------------------------------------------------------- parsing

    def _parse(self) -> None:
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.append(self._not_utf8(raw, exc))
            return
        try:
            node, self.data = parse_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            detail = getattr(exc, "problem", None) or str(exc)
            context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            fix = (
                "fix the YAML syntax at that line, or just above it (check indentation, close every quote, "
                "and quote values that contain ': ')"
            )
            if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
                detail += f" ({context} that starts at line {context_mark.line + 1})"
                if "end of stream" in detail:
                    # read on to the end of the file (an unclosed quote or bracket): the mistake is where
                    # the unfinished part starts, not at the end
                    what = context.removeprefix("while scanning ").removeprefix("while parsing ")
                    fix = (
                        f"close what starts at line {context_mark.line + 1} ({what}): a quote, bracket or brace "
                        "left open makes the parser read on to the end of the file"
                    )
                    mark = context_mark
            self.problems.append(
                Problem(
                    self.display,
                    "(file)",
                    f"is not valid YAML: {detail}",
                    fix,
                    line=mark.line + 1 if mark else None,
                )
            )
            return
        if node is not None:
            self._index(node, ())
        if not isinstance(self.data, dict):
            self.problems.append(
                self.problem(
                    [],
                    f"must be a YAML mapping of {self.what} fields",
                    f"write one `field: value` line per field, as described in "
                    f"platform_config/schemas/{self.what}.schema.json",
                    value=self.data,
                )
            )

    def _not_utf8(self, raw: bytes, exc: UnicodeDecodeError) -> Problem:
        """A file that is not UTF-8 (YAML's encoding here): where the first bad byte is, and what to do."""
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        return Problem(
            self.display,
            "(file)",
            f"is not UTF-8 text: byte {raw[exc.start : exc.end].hex(' ')} at column {exc.start - line_start + 1} "
            "cannot be decoded",
            "save the file as UTF-8 (in the editor's encoding setting); a file saved as Latin-1 or "
            "Windows-1252 has such bytes where it has accented letters",
            line=raw.count(b"\n", 0, exc.start) + 1,
        )

    def _index(self, node: yaml.Node, path: Path_) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key, value in node.value:
                child = (*path, key.value)
                if key.value in seen:  # YAML would silently keep only the last value
                    self.problems.append(
                        Problem(
                            self.display,
                            dotted(child),
                            "is set more than once; YAML would silently keep only the last value",
                            "remove the duplicate key",
                            line=key.start_mark.line + 1,
                        )
                    )
                    self._invalid.append(child)
                seen.add(key.value)
                self._index(value, child)
                self.lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, (*path, i))

    def line_of(self, path: Iterable[str | int]) -> int | None:
        parts = tuple(path)
        while parts and parts not in self.lines:
            parts = parts[:-1]
        return self.lines.get(parts)

    def problem(self, path: Iterable[str | int], message: str, fix: str = "", **value: Any) -> Problem:
        parts = tuple(path)
        return Problem(
            file=self.display,
            field=dotted(parts),
            message=self._item_named(parts) + message,
            fix=fix,
            value=value.get("value"),
            has_value="value" in value,
            line=self.line_of(parts),
        )

    def _item_named(self, parts: Path_) -> str:
        """``(case 'refund-window') `` for a path inside a list item that carries an ``id`` (a suite's
        cases): an index alone does not say which item to open once cases are added or moved. The
        innermost such item names it; nothing where there is none."""
        named, node = "", self.data
        for previous, part in zip((None, *parts), parts, strict=False):
            if isinstance(node, Mapping) and isinstance(part, str):
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                item_id = node.get("id") if isinstance(node, Mapping) else None
                if isinstance(item_id, str) and isinstance(previous, str):
                    named = f"({previous.removesuffix('s')} {item_id!r}) "
            else:
                break
        return named

    # ---------------------------------------------------------------- validation

    def _validate(self) -> None:
        try:
            value = adapter(typing.cast(Any, self.kind)).validate_python(self.data)
        except ValidationError as error:
            for detail in error.errors():
                if _counted_only_valid_items(detail):
                    continue
                loc = tuple(detail["loc"])
                self._invalid.append(_field_path(loc))
                self.problems.append(self._problem_for(detail))
            return
        if not self.problems:
            self.value = freeze(value)

    def _problem_for(self, detail: Mapping[str, Any]) -> Problem:
        loc = tuple(detail["loc"])
        kind = str(detail["type"])
        ctx = detail.get("ctx") or {}
        value = detail.get("input")
        is_key = bool(loc) and loc[-1] == "[key]"
        path = _field_path(loc)
        if is_key and isinstance(value, bool):  # pydantic reports a YAML `no:` key as index 0
            path = (*path[:-1], str(value))
        field_type, specs = type_at(self.kind, path, key=is_key)
        spec_fix = next((s.fix for s in reversed(specs) if s.fix), "")
        description = next((s.description for s in reversed(specs) if s.description), "")

        if kind == "missing":
            return self.problem(path, "is required but missing", f"add `{path[-1]}`" + _about(description))
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            parent, _ = type_at(self.kind, path[:-1])
            allowed = (
                sorted(f.name for f in dataclasses.fields(parent)) if dataclasses.is_dataclass(parent) else []
            )
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            return self.problem(path, "is not a known field", f"{hint}allowed fields: {', '.join(allowed)}")
        if kind in ("enum", "literal_error"):
            allowed = _allowed_values(field_type)
            fix = one_of(value, allowed, schema=f"platform_config/schemas/{self.what}.schema.json")
            return self.problem(
                path, "is not an allowed key" if is_key else "is not allowed", fix, value=value
            )
        if kind == "string_pattern_mismatch":
            return self.problem(
                path,
                "has the wrong format",
                spec_fix or description or f"match the pattern {ctx.get('pattern')}",
                value=value,
            )
        expected = _TYPE_ERRORS.get(kind)
        if expected is not None:
            if expected == "string" and isinstance(value, int | float) and not isinstance(value, bool):
                return self.problem(
                    path,
                    "must be of type string, but YAML read it as a number (unquoted digits are a number: "
                    "leading zeros are lost, and a 0 followed by the digits 0-7 only is read as octal)",
                    spec_fix or "put the value in quotes",
                    value=value,
                )
            number = _yaml_text_number(value) if expected in ("number", "integer") else None
            if number is not None:
                return self.problem(
                    path,
                    f"must be of type {expected}, but YAML read it as text: YAML 1.1 reads an exponent as a "
                    "number only with a dot and a sign (1.0e+9, not 1e9)",
                    f"write {number:.0f}" if number.is_integer() else f"write {number!r}",
                    value=value,
                )
            if expected == "object":
                return self.problem(
                    path,
                    "must be of type object",
                    f"write the fields of `{dotted(path)}` as `name: value` lines under it",
                    value=value,
                )
            what = _TYPE_FIXES.get(expected, f"write a value of type {expected}").format(range=_range(specs))
            return self.problem(
                path, f"must be of type {expected}", spec_fix or what + _about(description), value=value
            )
        bound = _BOUNDS.get(kind)
        if bound is not None:
            message, fix, key = bound
            limit = ctx.get(key)
            # a field's own fix says why its lower bound is there (min_pass_rate: a gate of 0 cannot fail);
            # it does not explain an upper one ("at most 1 (a gate of 0 ...)" misleads)
            own = spec_fix if spec_fix and kind.startswith("greater_than") else ""
            fix = fix.format(limit) + (f" ({own})" if own else "")
            return self.problem(path, message.format(limit), fix, value=value)
        if kind == "finite_number":
            return self.problem(
                path,
                "must be a finite number (YAML reads .inf and .nan as numbers)",
                spec_fix or f"write a number{_range(specs)}",
                value=value,
            )
        if kind == "value_error" and "repeat" in str(detail.get("msg")):
            return self.problem(path, "repeats an item", "remove the repeated items", value=value)
        return self.problem(path, str(detail.get("msg")), spec_fix or description, value=value)

    # ---------------------------------------------------------------- reading fields

    @property
    def valid(self) -> bool:
        return self.value is not None

    def field(self, *path: str | int) -> Any:
        """The validated value at ``path`` if it is valid on its own, else ``None``.

        Lets rules across fields and files run on a document whose other fields have problems.
        """
        if any(bad[: len(path)] == path or path[: len(bad)] == bad for bad in self._invalid):
            return None
        raw: Any = self.data
        for part in path:
            if isinstance(raw, list):
                if not (isinstance(part, int) and 0 <= part < len(raw)):
                    return _default_at(self.kind, path)
                raw = raw[part]
            elif isinstance(raw, Mapping) and part in raw:
                raw = raw[part]
            else:
                return _default_at(self.kind, path)
        field_type, _ = type_at(self.kind, path)
        try:
            return freeze(adapter(field_type).validate_python(raw))
        except ValidationError:
            return None


# ==================================================================== helpers


_TYPE_ERRORS = {
    "string_type": "string",
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "list_type": "array",
    "tuple_type": "array",
    "dict_type": "object",
    "mapping_type": "object",
    "dataclass_type": "object",
    "dataclass_exact_type": "object",
}

#: What to write instead of a value of the wrong type (``{range}``: the field's bounds, if any).
_TYPE_FIXES = {
    "integer": "write a whole number{range}, without quotes",
    "number": "write a number{range}, without quotes",
    "boolean": "write true or false, without quotes",
    "array": "write a list: [a, b] on one line, or one `- item` line per item under the field",
}

#: pydantic error type -> (message, fix, the key of the limit in the error's context); ``{}`` is the limit.
#: (A collection's context also names its type, ``field_type``: the limit is looked up by its key.)
_BOUNDS = {
    "greater_than_equal": ("is less than the minimum of {}", "use a value of at least {}", "ge"),
    "greater_than": ("is less than or equal to the minimum of {}", "use a value greater than {}", "gt"),
    "less_than_equal": ("is greater than the maximum of {}", "use a value of at most {}", "le"),
    "less_than": ("is greater than or equal to the maximum of {}", "use a value less than {}", "lt"),
    "string_too_short": ("is too short", "use at least {} characters", "min_length"),
    "string_too_long": ("is too long", "use at most {} characters", "max_length"),
    "too_short": ("has too few items", "list at least {} item(s)", "min_length"),
    "too_long": ("has too many items", "list at most {} item(s)", "max_length"),
}


def _counted_only_valid_items(detail: Mapping[str, Any]) -> bool:
    """pydantic checks a tuple's ``min_length`` against the items that validated, so a list with one bad item
    also reads "has too few items" (``actual_length`` 0 for a list of one): that error is dropped where the
    list as written is long enough, and the item's own error says what is wrong."""
    value, ctx = detail.get("input"), detail.get("ctx") or {}
    return (
        detail.get("type") == "too_short"
        and isinstance(value, list | tuple)
        and isinstance(ctx.get("min_length"), int)
        and len(value) >= ctx["min_length"]
    )


def _range(specs: Iterable[Spec]) -> str:
    """`` from 0 to 0.99``, `` above 0``: the bounds the ``Spec``s put on a number, as a fix reads them."""
    low = high = ""
    for s in specs:
        if s.ge is not None or s.gt is not None:
            low = f"at least {s.ge:g}" if s.ge is not None else f"above {s.gt:g}"
        if s.le is not None or s.lt is not None:
            high = f"at most {s.le:g}" if s.le is not None else f"below {s.lt:g}"
    return f" {low} and {high}" if low and high else (f" {low or high}" if low or high else "")


def _yaml_text_number(value: Any) -> float | None:
    """The number in a string YAML 1.1 did not read as one (``1e9``, ``2E3``: an exponent without a dot)."""
    if not isinstance(value, str) or "e" not in value.lower():
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _about(description: str) -> str:
    return f" ({description.rstrip('.')})" if description else ""


def _field_path(loc: tuple[Any, ...]) -> Path_:
    """pydantic's error location as a path into the YAML document (its markers dropped)."""
    return tuple(part for part in loc if not (isinstance(part, str) and part.startswith("[")))


def _unwrap(tp: Any, specs: list[Spec]) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            inner, *metadata = typing.get_args(tp)
            specs.extend(m for m in metadata if isinstance(m, Spec))
            tp = inner
        elif origin in (types.UnionType, typing.Union):
            concrete = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(concrete) != 1:
                return tp
            tp = concrete[0]
        else:
            return tp


def type_at(root: Any, path: Iterable[str | int], *, key: bool = False) -> tuple[Any, list[Spec]]:
    """The declared type at ``path`` inside ``root`` and the ``Spec``s that apply to it (innermost last).

    With ``key``, the last part of ``path`` is a mapping key and the key type is returned.
    """
    parts = list(path)
    tp: Any = root
    specs: list[Spec] = []
    for index, part in enumerate(parts):
        specs = []
        tp = _unwrap(tp, specs)
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp) and isinstance(part, str):
            hints = field_types(typing.cast(type, tp))  # resolved once per class (~60 % of loading before)
            if part not in hints:
                return Any, []
            tp = hints[part]
        elif origin in (tuple, list):
            tp = typing.get_args(tp)[0]
        elif origin in (Mapping, dict, typing.Mapping):
            key_type, value_type = typing.get_args(tp)
            tp = key_type if key and index == len(parts) - 1 else value_type
        else:
            return Any, []
    specs = []
    return _unwrap(tp, specs), specs


def _allowed_values(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp]
    return []


def _default_at(root: Any, path: tuple[str | int, ...]) -> Any:
    """The dataclass default of a field missing from the YAML (``None`` where there is none)."""
    if not path or not isinstance(path[-1], str):
        return None
    parent, _ = type_at(root, path[:-1])
    if not dataclasses.is_dataclass(parent):
        return None
    for f in dataclasses.fields(parent):
        if f.name == path[-1]:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def orphans(kind: str, paths: Sequence[Path], contract_ids: Sequence[str]) -> list[Problem]:
    """A ``prompts/<id>.yaml`` or ``evals/<id>/`` (``paths``) whose id is no contract's: a use case's files
    go by its contract's file name, so a misspelt or left-over one is read by nothing. ``kind`` says what
    they hold; the problem names the closest contract id, if one is close."""
    problems = []
    for path in paths:
        if path.stem in contract_ids:
            continue
        close = difflib.get_close_matches(path.stem, list(contract_ids), n=1)
        display = f"{path.parent.name}/{path.name}" + ("/" if path.is_dir() else "")
        problems.append(
            Problem(
                display,
                "(folder)" if path.is_dir() else "(file)",
                f"has {kind} but there is no contract contracts/{path.stem}.yaml",
                (f"did you mean {close[0]!r}? " if close else "")
                + f"rename it to the id of its contract, or add contracts/{path.stem}.yaml (a retired use case's "
                "prompt and suites go with its contract)",
            )
        )
    return problems


def unknown_files(root: Path, folder: str) -> list[Problem]:
    """``*.yml`` files, which the loader would otherwise silently ignore."""
    return [
        Problem(
            f"{folder}/{stray.name}",
            "(file)",
            "is ignored: only *.yaml files are read",
            f"rename it to {stray.stem}.yaml",
        )
        for stray in sorted((root / folder).glob("*.yml"))
    ]
