"""Lambda code assets that carry the shared specification: a handler package and ``platform_spec`` (which
it imports; standard library only) side by side, staged in a temporary folder that CDK copies into the
cloud assembly. The asset hash is the hash of that folder's content."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import platform_spec

#: The shared specification, located from the installed package, so an asset carries the specification
#: the construct was built with, in a checkout or installed.
SPEC_DIRECTORY = Path(platform_spec.__file__).resolve().parent


def package_with_spec(code_directory: Path, package: str, *, skip: tuple[str, ...] = ()) -> Path:
    """A new folder holding ``code_directory`` as the package ``package`` and ``platform_spec`` beside it
    (caches and the ``skip`` patterns left out); removed when the process exits."""
    out = Path(tempfile.mkdtemp(prefix=f"bedrock-platform-{package}-"))
    # CDK copies the asset into the cloud assembly during synth; the staging folder is not needed after.
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", *skip)
    shutil.copytree(code_directory, out / package, ignore=ignore)
    shutil.copytree(SPEC_DIRECTORY, out / SPEC_DIRECTORY.name, ignore=ignore)
    return out
