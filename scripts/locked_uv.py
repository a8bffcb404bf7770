"""Print the pip requirement that bootstraps uv: the exact version uv.lock pins, with its wheels' hashes.

    python3 scripts/locked_uv.py uv.lock > .venv/uv-requirement.txt
    .venv/bin/pip install --require-hashes --no-deps --only-binary :all: -r .venv/uv-requirement.txt

`make` runs this once, on a fresh .venv, before `uv sync`. uv is locked like every other package (it is in
the `dev` extra), so the installer that installs the lock is itself the locked, hash-checked version, and
`uv sync` keeps it (an exact sync removes whatever the lock does not list, uv included). Standard library
only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path


class LockError(Exception):
    pass


def uv_requirement(lock_text: str) -> str:
    """``uv==<version> --hash=sha256:...`` (one hash per wheel) for the uv release that the lock pins."""
    lock = tomllib.loads(lock_text)
    packages = [p for p in lock.get("package", []) if p.get("name") == "uv"]
    if len(packages) != 1:
        raise LockError(
            f"uv.lock pins {len(packages)} versions of uv, expected exactly 1. "
            'Fix: keep "uv==<version>" in the dev extra of pyproject.toml and run `make lock`'
        )
    (package,) = packages
    hashes = sorted({wheel["hash"] for wheel in package.get("wheels", []) if "hash" in wheel})
    if not hashes:
        raise LockError(f"uv.lock has no wheel hashes for uv {package['version']}. Fix: run `make lock`")
    lines = [f"uv=={package['version']}", *(f"    --hash={digest}" for digest in hashes)]
    return " \\\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 scripts/locked_uv.py",
        description="Print the hash-pinned pip requirement for the uv version that uv.lock pins.",
    )
    parser.add_argument("lock", type=Path, help="the project's uv.lock")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(uv_requirement(args.lock.read_text(encoding="utf-8")))
    except (OSError, LockError, tomllib.TOMLDecodeError) as error:
        print(f"locked_uv: {args.lock}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
