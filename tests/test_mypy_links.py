"""mypy's links (``.mypy_path/``) are made by ``make lint`` from pyproject.toml, not committed: the delivery
pipeline's checkout is CodePipeline's download of the commit, which drops symbolic links, and there ``make
lint`` (part of ``make test``, the Build step) failed with a missing ``.mypy_path/bedrock_constructs``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from mypy_links import LinkError, make_links, package_dirs  # noqa: E402


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files make lint's links need, as the pipeline's source artifact holds them: no .mypy_path/."""
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in package_dirs(ROOT).values():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    return tmp_path


def test_a_checkout_without_links_gets_one_per_installed_name(checkout: Path) -> None:
    # GIVEN the pipeline's checkout: no .mypy_path/ at all
    assert not (checkout / ".mypy_path").exists()
    # WHEN make lint makes the links
    make_links(checkout)
    # THEN each installed name resolves to its folder, as pyproject.toml maps them
    expected = package_dirs(ROOT)
    assert sorted(p.name for p in (checkout / ".mypy_path").iterdir()) == sorted(expected)
    for name, folder in expected.items():
        link = checkout / ".mypy_path" / name
        assert link.is_symlink()
        assert link.resolve() == (checkout / folder).resolve()
        assert (link / "__init__.py").is_file()


def test_a_link_replaced_by_a_text_file_is_made_a_link_again(checkout: Path) -> None:
    # GIVEN a link that arrived as a file holding its target's path (how some archives render one)
    (checkout / ".mypy_path").mkdir()
    (checkout / ".mypy_path" / "bedrock_constructs").write_text("../constructs")
    # WHEN the links are made, twice (make lint runs on every call)
    make_links(checkout)
    make_links(checkout)
    # THEN it is a link to the folder
    link = checkout / ".mypy_path" / "bedrock_constructs"
    assert link.is_symlink() and link.resolve() == (checkout / "constructs").resolve()


def test_a_mapping_to_a_missing_folder_is_refused_with_the_fix(checkout: Path) -> None:
    shutil.rmtree(checkout / "devtools")
    with pytest.raises(LinkError, match=r"pyproject.toml.*bedrock_platform_devtools = 'devtools'.*Fix: "):
        make_links(checkout)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout (the pipeline's has no .git)")
def test_the_repository_commits_no_symbolic_link() -> None:
    # CodePipeline's source artifact drops them (scripts/mypy_links.py cites the page): whatever needs one
    # must make it, as make lint makes mypy's.
    listed = subprocess.run(
        ["git", "ls-files", "--stage", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    links = [entry.split("\t", 1)[1] for entry in listed.split("\0") if entry.startswith("120000 ")]
    assert links == [], f"committed symbolic links, dropped in the pipeline's checkout: {links}"


def test_make_lint_makes_the_links_before_mypy() -> None:
    # `make -n` prints the recipe without running it: the link step comes before the type check.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "lint"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    links = next(i for i, line in enumerate(recipe) if "scripts/mypy_links.py" in line)
    mypy = next(i for i, line in enumerate(recipe) if "/mypy " in line)
    assert links < mypy
