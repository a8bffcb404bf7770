"""cfn-lint over templates, one process per CPU: run by the compliance gate at synth, and nowhere else.

cfn-lint is CPU-bound and takes about three seconds per template of this app (plus ~5 s to import), so the
stacks are split into one batch per CPU, each linted by its own ``python -m compliance.lint`` process
(plain subprocesses: no multiprocessing, which would re-import the caller's main module). Every error and
warning is a :class:`LintFinding` on the resource it is about.

Results are cached by content: a template already linted, byte for byte, for the same region by the same
cfn-lint release is not linted again (``cache_dir()``; a template carries its own cfn-lint configuration
in its metadata, so the three make the whole input; the key also covers this module's source, which
decides how a finding is read). A synth that changes one stack lints one template;
``cdk deploy`` after ``make synth`` lints none. Two processes that miss the same entry at once (two synths,
the test suite's workers) lint it once: the first claims it (a ``flock`` beside the entry), the second
waits for the claim to end and reads the entry (:func:`_claim`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from compliance.assembly import StackTemplate

try:
    import fcntl
except ImportError:  # Windows has no fcntl: there each process lints what it does not find in the cache
    fcntl = None  # type: ignore[assignment]

#: Where ``bedrock_constructs.lint.ignore_cfn_lint_check`` records why a check is ignored (template
#: resource ``Metadata``). Kept here so reading a template does not import aws-cdk-lib.
REASONS_KEY = "bedrock-platform:cfn-lint"
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LintIgnore:
    """A cfn-lint check that a template tells cfn-lint to skip (``Metadata.cfn-lint.config.ignore_checks``),
    with the reason ``ignore_cfn_lint_check`` recorded next to it (None when there is none)."""

    stack: str
    resource: str  # logical ID, or "(whole template)"
    check: str
    reason: str | None


def lint_ignores(stack: StackTemplate) -> list[LintIgnore]:
    """Every check cfn-lint skips in ``stack``'s template, on the template or on one resource."""
    found = []
    template_config = (stack.template.get("Metadata") or {}).get("cfn-lint") or {}
    for check in (template_config.get("config") or {}).get("ignore_checks") or []:
        found.append(LintIgnore(stack.name, "(whole template)", str(check), None))
    for logical_id, resource in stack.resources.items():
        metadata = resource.get("Metadata") or {}
        config = (metadata.get("cfn-lint") or {}).get("config") or {}
        reasons = metadata.get(REASONS_KEY) or {}
        for check in config.get("ignore_checks") or []:
            found.append(LintIgnore(stack.name, logical_id, str(check), reasons.get(check)))
    return found


@dataclass(frozen=True)
class LintFinding:
    check: str  # "W3005"
    message: str
    line: int
    resource: str  # the logical ID the finding is about, "-" for the template as a whole

    def render(self, stack: str) -> str:
        return f"{stack}: {self.check} {self.message} (line {self.line})"


def lint_template(stack: StackTemplate) -> list[LintFinding]:
    """cfn-lint's errors and warnings for one template, linted for the stack's own region."""
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for match in lint_file(Path(stack.path), config=ManualArgs(regions=[stack.region])):
        path = list(getattr(match, "path", None) or [])
        resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else "-"
        findings.append(LintFinding(match.rule.id, str(match.message), int(match.linenumber), resource))
    return findings


def cfn_lint(stack: StackTemplate) -> list[str]:
    """cfn-lint's errors and warnings for one template, as text lines naming the stack."""
    return [finding.render(stack.name) for finding in lint_template(stack)]


#: Where cached results live: ``$BEDROCK_PLATFORM_CACHE_DIR``, else ``$XDG_CACHE_HOME/bedrock-platform``,
#: else ``~/.cache/bedrock-platform``. ``BEDROCK_PLATFORM_CACHE_DIR=off`` disables the cache.
CACHE_ENV = "BEDROCK_PLATFORM_CACHE_DIR"


def cache_dir() -> Path | None:
    """The cache folder (created on demand), or None when caching is off."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "bedrock-platform"


@cache
def cfn_lint_version() -> str:
    try:
        return version("cfn-lint")
    except PackageNotFoundError:
        return "unknown"


def read_cache(name: str) -> Any:
    """A cached JSON document, or None (no cache, no entry, or an unreadable one)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_cache(name: str, document: Any) -> None:
    """Store a JSON document atomically; a cache that cannot be written is skipped, never an error."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=(folder / name).parent, delete=False, suffix=".tmp") as out:
            json.dump(document, out)
        os.replace(out.name, folder / name)
    except OSError:
        return


@cache
def _own_source() -> bytes:
    # How a finding is read from cfn-lint's match (its resource, its line) is part of the result: a
    # change to this module invalidates what an older version of it stored.
    return Path(__file__).read_bytes()


#: How long a run waits for another process that is linting the same template before linting it itself.
LOCK_WAIT_S = 300.0
#: Cache entries this process is linting now (claimed): a second run in this process does not wait on
#: itself, it lints them too.
_HELD: set[str] = set()


def _claim(name: str) -> tuple[bool, int | None]:
    """Claim the cache entry ``name`` for linting: an exclusive, non-blocking ``flock`` on ``<entry>.lock``,
    so two processes that miss the same entry at once (two synths, two pytest-xdist workers) lint it once:
    the second waits (:func:`_wait_for`) and reads what the first wrote. Returns (True, the lock's file
    descriptor), or (True, None) when there is nothing to lock with (no cache, no ``fcntl``, a lock file
    that cannot be created, or this process already linting it), or (False, None) when another process
    holds the claim. The lock goes with the descriptor: a crashed process releases it."""
    folder = cache_dir()
    if folder is None or fcntl is None or name in _HELD:
        return True, None
    path = folder / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return True, None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False, None
    _HELD.add(name)
    return True, descriptor


def _release(name: str, descriptor: int | None) -> None:
    if descriptor is not None:
        _HELD.discard(name)
        os.close(descriptor)  # releases the flock


def _wait_for(name: str, timeout_s: float = LOCK_WAIT_S) -> Any:
    """The entry another process is writing: wait until its claim is released (at most ``timeout_s``), then
    read it. None if it is still not there (that process failed, or took too long): lint it here."""
    deadline = time.monotonic() + timeout_s
    while True:
        claimed, descriptor = _claim(name)
        if claimed:
            try:
                return read_cache(name)
            finally:
                _release(name, descriptor)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def _cache_name(stack: StackTemplate) -> str:
    key = b"\0".join([Path(stack.path).read_bytes(), stack.region.encode(), _own_source()])
    digest = hashlib.sha256(key).hexdigest()
    return f"cfn-lint-{cfn_lint_version()}/{digest}.json"


class LintRun:
    """cfn-lint running on some stacks; :meth:`wait` collects the findings.

    The stacks are split into one batch per CPU: the first batch is linted in this process when
    :meth:`wait` is called, the others by ``python -m compliance.lint`` worker processes started
    right away (plain subprocesses: multiprocessing would re-import the caller's main module). With
    ``in_process=False`` every batch goes to a worker, so this process is free for other work meanwhile.
    """

    def __init__(
        self, stacks: Sequence[StackTemplate], *, parallel: bool = True, in_process: bool = True
    ) -> None:
        self.stacks = list(stacks)
        self.cached: dict[str, list[LintFinding]] = {}
        #: Templates another process is linting right now: :meth:`findings` waits for its results.
        self.elsewhere: list[StackTemplate] = []
        self._claims: dict[str, int | None] = {}
        to_lint = []
        #: Each stack's cache entry, from its template as it was when the run started (read and hashed once).
        self._entries = {stack.name: _cache_name(stack) for stack in self.stacks}
        for stack in self.stacks:
            name = self._entries[stack.name]
            hit = read_cache(name)
            if not isinstance(hit, list):
                claimed, descriptor = _claim(name)
                if not claimed:
                    self.elsewhere.append(stack)
                    continue
                hit = read_cache(name)  # written by the process whose claim ended since the first look
                if isinstance(hit, list):
                    _release(name, descriptor)
                else:
                    self._claims[name] = descriptor
                    to_lint.append(stack)
                    continue
            self.cached[stack.name] = [LintFinding(**record) for record in hit]
        batches = max(1, min(len(to_lint), os.cpu_count() or 1)) if parallel else 1
        self.local = to_lint[::batches] if in_process else []
        self.workers: list[tuple[list[StackTemplate], subprocess.Popen[str]]] = []
        pythonpath = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
        for offset in range(1 if in_process else 0, batches if to_lint else 0):
            batch = to_lint[offset::batches]
            command = [sys.executable, "-m", "compliance.lint"]
            for stack in batch:
                command += [str(stack.path), stack.region, stack.name]
            self.workers.append(
                (
                    batch,
                    subprocess.Popen(
                        command,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env={**os.environ, "PYTHONPATH": pythonpath},
                    ),
                )
            )

    def findings(self) -> dict[str, list[LintFinding]]:
        """Findings by stack name (each template linted for its stack's own region), in stack order."""
        results = dict(self.cached)
        waiting = {stack.name for stack in self.elsewhere}
        try:
            for stack in self.local:
                results[stack.name] = lint_template(stack)
            for batch, worker in self.workers:
                out, err = worker.communicate()
                if worker.returncode != 0:
                    raise RuntimeError(f"cfn-lint of {[s.name for s in batch]} failed: {err.strip()[-2000:]}")
                for name, records in json.loads(out).items():
                    results[name] = [LintFinding(**record) for record in records]
            for stack in self.stacks:
                if stack.name not in self.cached and stack.name not in waiting:
                    write_cache(self._entries[stack.name], [asdict(f) for f in results[stack.name]])
        finally:
            self._release_claims()
        for stack in self.elsewhere:
            hit = _wait_for(self._entries[stack.name])
            results[stack.name] = (
                [LintFinding(**record) for record in hit] if isinstance(hit, list) else lint_template(stack)
            )
        return {stack.name: results[stack.name] for stack in self.stacks}

    def cancel(self) -> None:
        """Stop the workers and give up the claims, without results (nothing is cached)."""
        for _, worker in self.workers:
            worker.kill()
            worker.communicate()
        self.workers = []
        self._release_claims()

    def _release_claims(self) -> None:
        for name, descriptor in getattr(self, "_claims", {}).items():  # also before __init__ got that far
            _release(name, descriptor)
        self._claims = {}

    def __del__(self) -> None:  # a run dropped without findings() or cancel() still lets others lint
        self._release_claims()

    def wait(self) -> dict[str, list[str]]:
        """Findings by stack name as text lines (:func:`cfn_lint`), in stack order."""
        return {
            name: [finding.render(name) for finding in findings] for name, findings in self.findings().items()
        }


def lint_stacks(stacks: Sequence[StackTemplate], *, parallel: bool = True) -> dict[str, list[str]]:
    """cfn-lint findings by stack name, each template linted for its stack's own region."""
    return LintRun(stacks, parallel=parallel).wait()


def _main(argv: list[str]) -> int:
    """Worker: ``<template> <region> <stack name>`` triples in, findings by stack name (JSON) out."""
    results = {}
    for template, region, name in zip(argv[0::3], argv[1::3], argv[2::3], strict=True):
        stack = StackTemplate(name=name, account="", region=region, path=Path(template), template={})
        results[name] = [asdict(finding) for finding in lint_template(stack)]
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
