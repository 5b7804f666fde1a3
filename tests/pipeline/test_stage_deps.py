"""Every stage in dvc.yaml lists, as deps, all of the project's code its command runs.

A module a stage imports but does not list is code DVC cannot see: change it, and
``dvc repro`` keeps the old outputs as if nothing happened. The imports are followed
statically (every ``import``, also inside functions) from the module the command runs. A
command that dispatches on a subcommand (``python -m curate hash met``) runs its dispatcher
(that file and its module-level imports) and the module in ``SUBCOMMANDS``; the dispatcher's
other branches are not the stage's code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("demo", "crawl", "curate", "train", "evaluate", "style", "marcus")
SUBCOMMANDS = {
    ("demo", "build"): "demo.build",
    ("curate", "hash"): "curate.hash_stage",
    ("curate", "run"): "curate.stage",
}


def _module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _has_code(path: Path) -> bool:
    """False for an ``__init__.py`` holding only a docstring and ``__future__`` imports."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                    or isinstance(node, ast.ImportFrom) and node.module == "__future__")
               for node in body)


def _imported(path: Path, name: str, module_level: bool = False) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    for node in tree.body if module_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # submodules, if any
    return {m for m in found if m.split(".")[0] in PACKAGES}


def code_closure(module: str, subcommand: str = "") -> set[Path]:
    """The project files that running ``python -m module subcommand`` may execute."""
    seen, files, todo = set(), set(), [module]
    dispatcher = f"{module}.__main__" if _module_file(f"{module}.__main__") else module
    if (module, subcommand) in SUBCOMMANDS:
        path = _module_file(dispatcher)
        files.add(path.relative_to(ROOT))
        seen.add(dispatcher)
        todo += [SUBCOMMANDS[module, subcommand],
                 *sorted(_imported(path, dispatcher, module_level=True))]
    elif dispatcher != module:
        todo.append(dispatcher)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None:
            continue  # a name imported from a module, not a module
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        if path.name != "__init__.py" or _has_code(path):
            files.add(path.relative_to(ROOT))
        todo += sorted(_imported(path, name))
    return files


def _stages() -> list[tuple[str, str, list[str]]]:
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return [(stage.addressing, stage.cmd, [d.def_path for d in stage.deps])
                for stage in repo.index.stages if stage.cmd]


STAGES = _stages()


def test_every_stage_command_is_a_project_module():
    assert len(STAGES) >= 10
    for _, cmd, _ in STAGES:
        assert re.search(r"-m ([\w.]+)", cmd), cmd


@pytest.mark.parametrize("name,cmd,deps", STAGES, ids=[s[0] for s in STAGES])
def test_stage_deps_cover_the_code_it_runs(name, cmd, deps):
    module, subcommand = re.search(r"-m ([\w.]+) ?([\w-]*)", cmd).groups()
    covered = [Path(d) for d in deps]
    missing = sorted(str(f) for f in code_closure(module, subcommand)
                     if not any(f == d or d in f.parents for d in covered))
    assert not missing, f"stage {name} runs code it does not list in deps: {missing}"


def test_the_closure_follows_imports_inside_functions():
    closure = code_closure("train.render")
    assert Path("train/generate.py") in closure  # imported inside a function
    assert Path("train/networks.py") in closure  # through train.generate
    assert Path("marcus/atomic.py") in closure


def test_a_subcommand_brings_only_its_own_branch():
    hashing = code_closure("curate", "hash")
    assert {Path("curate/__main__.py"), Path("curate/hash_stage.py"), Path("curate/hashing.py"),
            Path("marcus/params.py")} <= hashing
    assert Path("curate/dedup.py") not in hashing  # the `run` branch's
    assert Path("curate/dedup.py") in code_closure("curate", "run")
    assert Path("curate/dedup.py") in code_closure("curate")  # unknown subcommand: everything
