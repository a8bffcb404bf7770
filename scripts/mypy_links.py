"""Create ``.mypy_path/<name>`` -> ``../<folder>`` for every folder installed under another name.

    python3 scripts/mypy_links.py [--root .]

``make lint`` runs this before mypy. Code imports ``constructs/``, ``lambdas/`` and ``devtools/`` by their
installed names (``bedrock_constructs``, ...: ``[tool.setuptools.package-dir]`` in ``pyproject.toml``, the one
place the names are written), which mypy cannot learn from the editable install's import hook; mypy finds
them through these links (``mypy_path = ".mypy_path"``).

The links are made here, not committed: the delivery pipeline's steps run in the source artifact that
CodePipeline downloads, which drops symbolic links ("retains symlinks (symlinks would otherwise be removed by
CodePipeline)", code_build_clone_output in
https://docs.aws.amazon.com/cdk/api/latest/python/aws_cdk.pipelines/ConnectionSourceOptions.html), so committed
links were missing in the Build step and ``make lint`` (part of ``make test``) failed there on every commit.
Standard library only; a link that is already right is left alone, a wrong one is replaced.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

#: The folder mypy searches (``mypy_path`` in pyproject.toml); git ignores it.
LINKS = ".mypy_path"


class LinkError(Exception):
    pass


def package_dirs(root: Path) -> dict[str, str]:
    """``{installed name: folder}`` from ``[tool.setuptools.package-dir]`` of ``root``'s pyproject.toml."""
    pyproject = root / "pyproject.toml"
    table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    mapping = table.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    if not mapping:
        raise LinkError(
            f"{pyproject}: [tool.setuptools.package-dir] is missing or empty, so no installed name maps to a "
            'folder. Fix: restore it (e.g. bedrock_constructs = "constructs")'
        )
    return {str(name): str(folder) for name, folder in mapping.items()}


def make_links(root: Path) -> list[Path]:
    """One relative link per installed name in ``root/.mypy_path``; the links, in name order."""
    mapping = package_dirs(root)
    missing = [
        f"{name} = {folder!r}" for name, folder in sorted(mapping.items()) if not (root / folder).is_dir()
    ]
    if missing:
        raise LinkError(
            f"{root / 'pyproject.toml'}: [tool.setuptools.package-dir] names folders that do not exist: "
            f"{', '.join(missing)}. Fix: name an existing folder of the project"
        )
    folder = root / LINKS
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(exist_ok=True)
    links = []
    for name, target in sorted(mapping.items()):
        link = folder / name
        relative = Path(os.pardir) / target
        if link.is_symlink() and Path(os.readlink(link)) == relative:
            links.append(link)
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            raise LinkError(
                f"{link} is a folder, not a link. Fix: remove it (`rm -r {link}`) and run make lint again"
            )
        link.symlink_to(relative, target_is_directory=True)
        links.append(link)
    return links


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 scripts/mypy_links.py", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    try:
        make_links(args.root)
    except LinkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
