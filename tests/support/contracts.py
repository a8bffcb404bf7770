"""What the contract files in the repository say, read straight from the YAML (not through the loader).

Tests derive their expectations from this instead of naming today's use cases, so adding a use case as
the README says does not break them (`make check-new-use-case` proves it on a copy of the repository)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from platform_config.documents import load_yaml

ROOT = Path(__file__).resolve().parents[2]


def contract_files(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """Every ``contracts/*.yaml`` as plain data, by its ``id``."""
    documents = [load_yaml(p.read_text(encoding="utf-8")) for p in sorted(root.glob("contracts/*.yaml"))]
    return {document["id"]: document for document in documents}


def enabled_use_cases(environment: str, root: Path = ROOT) -> set[str]:
    """The ids of the contracts whose ``environments`` list names ``environment``."""
    return {cid for cid, data in contract_files(root).items() if environment in data["environments"]}


#: The tests' own copy of the use cases the project ships as examples (contract, prompt, suites), in the
#: layout of a configuration root. While the repository ships an example, the copy is the same file
#: (tests/test_examples.py holds them equal); once a fork retires one (README "Quality gates": contract,
#: prompt and suites deleted), the tests that break a copy of the configuration still find it here.
EXAMPLES = Path(__file__).resolve().parent / "examples"


def example_ids() -> list[str]:
    """The ids of the examples the tests keep a copy of."""
    return sorted(p.stem for p in (EXAMPLES / "contracts").glob("*.yaml"))


def example_files(use_case: str) -> list[Path]:
    """An example's files, relative to a configuration root: its contract, its prompt and its suites."""
    suites = sorted((EXAMPLES / "evals" / use_case).glob("*.yaml"))
    return [
        Path("contracts") / f"{use_case}.yaml",
        Path("prompts") / f"{use_case}.yaml",
        *(p.relative_to(EXAMPLES) for p in suites),
    ]


def copy_configuration(target: Path, root: Path = ROOT) -> Path:
    """``root``'s configuration (``CONFIGURATION_FOLDERS``) copied to ``target``, plus every shipped example
    ``root`` no longer has, from the tests' own copy (:data:`EXAMPLES`): a copy a test may break, naming
    the example it breaks, in the repository as in a fork that retired that example. Returns ``target``."""
    from platform_config.loader import CONFIGURATION_FOLDERS

    for folder in CONFIGURATION_FOLDERS:
        shutil.copytree(root / folder, target / folder)
    for use_case in example_ids():
        if not (root / "contracts" / f"{use_case}.yaml").exists():
            for relative in example_files(use_case):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(EXAMPLES / relative, target / relative)
    return target


def example_file(relative: str, root: Path = ROOT) -> Path:
    """``root / relative`` (``contracts/policy-qa.yaml``), or the tests' copy of that example's file where
    ``root`` retired it: for the tests that read one example's file as the document they break."""
    shipped = root / relative
    return shipped if shipped.exists() else EXAMPLES / relative


@functools.cache
def examples_root() -> Path:
    """A configuration root with every shipped example: this repository, or where a fork retired one, a
    copy of its configuration and delivery pipeline with the tests' copy of that example added
    (:func:`copy_configuration`),
    made once per process and removed at its exit. For the tests of code that takes a contract (the
    orchestrator, a construct), which test what a grounded, tiered or held use case does, whichever of the
    examples the repository still ships."""
    if all((ROOT / "contracts" / f"{use_case}.yaml").exists() for use_case in example_ids()):
        return ROOT
    from platform_config.delivery import DELIVERY_FILE

    folder = tempfile.mkdtemp(prefix="examples-configuration-")
    atexit.register(shutil.rmtree, folder, True)
    root = copy_configuration(Path(folder) / "repo")
    # and the delivery pipeline, as the repository has it: the environment it bakes releases in and the
    # one its readiness gate probes are the repository's (tests of the bake read the examples' app)
    if (ROOT / DELIVERY_FILE).is_file():
        (root / DELIVERY_FILE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / DELIVERY_FILE, root / DELIVERY_FILE)
    return root
