"""Stage configuration read from params.yaml, checked before any work.

Every stage declares the keys of its params section as a spec (key -> kind) and calls
:func:`check`: an unknown key (a typo) is an error naming it and the valid keys, a missing key
is an error (every knob lives in params.yaml, with its comment, never behind a default in the
code), and each value must be of its kind::

    SPEC = {"seed": int, "truncation": float, "format": one_of("png", "tiff"),
            "seeds": list_of(int), "factors": optional(list_of(int))}
    section = check("render", load_params("render"), SPEC)

Presets are YAML mappings that inherit with YAML's own merge key (``gpu512: &gpu512`` /
``<<: *gpu256``), so that every value of every preset exists as a key of the file and
``dvc exp run -S train_gan.presets.gpu256.style_mixing=0`` works like any other param;
:func:`preset_chain` reads the inheritance back for ``--print-config``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from marcus.atomic import write_text
from marcus.errors import UserError


@dataclass(frozen=True)
class Kind:
    """A value check with a name for messages."""
    name: str
    accepts: Any  # callable(value) -> bool

    def __call__(self, value) -> bool:
        return self.accepts(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


BASIC = {int: Kind("an integer", _is_int),
         float: Kind("a number", _is_number),
         str: Kind("a string", lambda v: isinstance(v, str)),
         bool: Kind("true or false", lambda v: isinstance(v, bool)),
         dict: Kind("a mapping", lambda v: isinstance(v, dict))}


def _kind(kind) -> Kind:
    return BASIC.get(kind, kind)


def optional(kind) -> Kind:
    """``kind`` or null."""
    inner = _kind(kind)
    return Kind(f"{inner.name} or null", lambda v: v is None or inner(v))


def list_of(kind, length: int | None = None) -> Kind:
    """A list of ``kind`` (of exactly ``length`` items when given)."""
    inner = _kind(kind)
    size = "" if length is None else f"{length} "
    return Kind(f"a list of {size}{inner.name.removeprefix('a ').removeprefix('an ')}s",
                lambda v: isinstance(v, list) and (length is None or len(v) == length)
                and all(inner(x) for x in v))


def one_of(*choices) -> Kind:
    """One of the given values."""
    return Kind("one of " + ", ".join(map(repr, choices)), lambda v: v in choices)


@dataclass(frozen=True)
class each:  # noqa: N801 (reads as a kind, like list_of)
    """A mapping of names the user chooses (presets, sources) to sections of ``spec``."""
    spec: Mapping


def check(where: str, values, spec: Mapping) -> dict:
    """``values`` unchanged when it matches ``spec``; else a UserError naming the first
    unknown key (with the valid ones), missing key, or value of the wrong kind."""
    if not isinstance(values, dict):
        raise UserError(f"{where} must be a mapping of settings, got {values!r}")
    unknown = [k for k in values if k not in spec]
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (valid keys: {', '.join(spec)})")
    missing = [k for k in spec if k not in values]
    if missing:
        raise UserError(f"{where}: missing key {missing[0]!r} (every setting is spelled out "
                        "in params.yaml; see the repository's params.yaml for its meaning)")
    for key, kind in spec.items():
        value, name = values[key], f"{where}.{key}"
        if isinstance(kind, Mapping):
            check(name, value, kind)
        elif isinstance(kind, each):
            if not isinstance(value, dict):
                raise UserError(f"{name} must be a mapping of named sections, got {value!r}")
            for member, section in value.items():
                check(f"{name}.{member}", section, kind.spec)
        elif not _kind(kind)(value):
            raise UserError(f"{name} must be {_kind(kind).name}, got {value!r}")
    return values


def resolve_preset(stage: str, params: dict, preset_name: str | None = None,
                   overrides: dict | None = None) -> dict:
    """The named preset of a stage's (checked) params section, default its ``preset``, with
    the non-None ``overrides`` (command-line flags) on top; ``config["preset"]`` names it."""
    name = preset_name or params["preset"]
    presets = params["presets"]
    if name not in presets:
        raise UserError(f"{stage}: unknown preset {name!r} (have: {', '.join(presets)})")
    config = dict(presets[name])
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config["preset"] = name
    return config


def preset_chain(params_file: str | Path, stage: str, name: str) -> list[str]:
    """``[name, parent, grandparent, ...]``: the presets ``name`` inherits from through YAML
    merge keys (``<<: *other``) in ``params_file``'s ``stage.presets``."""
    # Composed, not loaded: an alias is the very node its anchor names, so a merge key's value
    # identifies the preset it points to.
    root = yaml.compose(Path(params_file).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)

    def child(node, key):
        for k, v in getattr(node, "value", []) if isinstance(node, yaml.MappingNode) else []:
            if k.value == key:
                return v
        return None

    presets = child(child(root, stage), "presets")
    if presets is None:
        return [name]
    preset_of = {id(v): k.value for k, v in presets.value}
    chain, node = [name], child(presets, name)
    while node is not None and len(chain) <= len(presets.value):
        parent = child(node, "<<")
        if isinstance(parent, yaml.SequenceNode):  # <<: [*a, *b]: the first one wins
            parent = parent.value[0] if parent.value else None
        if parent is None or id(parent) not in preset_of:
            break
        chain.append(preset_of[id(parent)])
        node = parent
    return chain


def print_config(stage: str, params_file: str | Path, config: dict, settings: dict) -> None:
    """The dry run of a training stage: the resolved preset, where it inherits from, and the
    stage's other settings, as YAML on stdout."""
    chain = preset_chain(params_file, stage, config["preset"])
    print(f"# {stage}: preset {' <- '.join(chain)}")
    print(yaml.safe_dump({"settings": settings, "preset": config}, sort_keys=False), end="")


def write_run_config(run_dir: str | Path, settings: dict, config: dict) -> None:
    """``config.json`` in a training run folder, before the first step: the stage's settings
    (its section without the presets) and the resolved preset the run trains with."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_text(Path(run_dir) / "config.json",
               json.dumps({"settings": settings, "preset": config}, indent=2) + "\n")


def stage_settings(params: dict) -> dict:
    """A training stage's section without its presets: what ``--print-config`` and
    ``config.json`` show beside the resolved preset."""
    return {k: v for k, v in params.items() if k != "presets"}
