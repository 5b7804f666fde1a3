"""params.yaml as the one place for paths and settings: every path written once, readers move
with their producer, presets checked key by key and reachable with a plain ``dvc exp run -S``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from marcus.config import preset_chain, resolve_preset
from marcus.errors import UserError
from train import train_gan, train_upscaler

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
OUTPUT_ROOTS = ("data/", "metrics/", "plots/", "timings/")


def _leaves(value, where=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{where}[{i}]")
    else:
        yield where, value


def test_every_path_in_params_yaml_is_written_once_in_the_paths_section():
    paths = PARAMS["paths"]
    values = list(paths.values())
    assert len(values) == len(set(values)), "two paths entries name the same place"
    elsewhere = [(where, value) for where, value in _leaves(PARAMS)
                 if not where.startswith("paths.") and isinstance(value, str)
                 and (value.startswith(OUTPUT_ROOTS) or value in values)]
    assert elsewhere == [], f"paths outside the paths section: {elsewhere}"


def test_dvc_yaml_names_no_output_path_itself_only_the_paths_section():
    text = (ROOT / "dvc.yaml").read_text()
    without_templates = re.sub(r"\$\{[^}]*\}", "", text)
    literal = [line.strip() for line in without_templates.splitlines()
               if any(f" {root}" in f" {line.strip().lstrip('- ')}" for root in OUTPUT_ROOTS)]
    assert literal == []
    assert set(re.findall(r"\$\{paths\.(\w+)\}", text)) <= set(PARAMS["paths"])


@pytest.fixture
def project_copy(tmp_path):
    """dvc.yaml and params.yaml in a fresh git + DVC repository."""
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def _stage_paths(repo_dir: Path) -> dict[str, set[str]]:
    """Every stage's deps and outs (metrics and plots included), as DVC resolves them."""
    from dvc.repo import Repo

    with Repo(str(repo_dir)) as repo:
        return {stage.name: {str(Path(o.def_path)) for o in (*stage.deps, *stage.outs)}
                for stage in repo.index.stages}


def test_moving_a_stage_output_in_paths_moves_every_stage_that_reads_it(project_copy):
    before = _stage_paths(project_copy)
    readers = {name for name, used in before.items() if "data/pack" in used}
    assert {"pack", "train_gan", "train_upscaler", "encoder", "evaluate"} <= readers

    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["paths"]["pack"] = "elsewhere/pack"
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    after = _stage_paths(project_copy)
    assert {name for name, used in after.items() if "elsewhere/pack" in used} == readers
    assert not any("data/pack" in used for used in after.values())


def test_a_set_param_reaches_a_value_the_preset_inherits(tmp_path):
    """What `dvc exp run -S train_gan.presets.gpu256.style_mixing=0` does to params.yaml (DVC's
    own override code): gpu256, which inherits style_mixing from cpu, gets the value; cpu keeps
    its own; every preset still passes the check."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    assert "style_mixing" not in _preset_keys_written(ROOT / "params.yaml", "gpu256")
    apply_overrides(path, ["train_gan.presets.gpu256.style_mixing=0",
                           "train_upscaler.presets.gpu.lr=0.001"])
    params = yaml.safe_load(path.read_text())
    assert train_gan.resolve_config(params["train_gan"], "gpu256")["style_mixing"] == 0
    assert train_gan.resolve_config(params["train_gan"], "cpu")["style_mixing"] == 0.9
    assert train_upscaler.resolve_config(params["train_upscaler"], "gpu")["lr"] == 0.001
    for name in params["train_gan"]["presets"]:
        train_gan.resolve_config(params["train_gan"], name)


def _preset_keys_written(params_file: Path, preset: str) -> set[str]:
    """The keys written under a train_gan preset itself (not inherited)."""
    lines = params_file.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    {preset}:"))
    keys = set()
    for line in lines[start + 1:]:
        if not line.startswith("      "):
            break
        keys.add(line.strip().split(":")[0])
    return keys


def test_presets_inherit_through_yaml_merge_keys_and_the_chain_is_read_back():
    assert preset_chain(ROOT / "params.yaml", "train_gan", "gpu1024") == [
        "gpu1024", "gpu512", "gpu256", "cpu"]
    assert preset_chain(ROOT / "params.yaml", "train_upscaler", "tiny") == ["tiny", "cpu"]
    assert preset_chain(ROOT / "params.yaml", "train_gan", "cpu") == ["cpu"]
    gpu512 = resolve_preset("train_gan", PARAMS["train_gan"], "gpu512")
    assert gpu512["mapping_layers"] == 8  # from gpu256
    assert gpu512["style_mixing"] == 0.9  # from cpu


def test_every_preset_of_the_committed_params_passes_the_check():
    for stage, module in (("train_gan", train_gan), ("train_upscaler", train_upscaler)):
        for name in PARAMS[stage]["presets"]:
            config = module.resolve_config(PARAMS[stage], name)
            assert config["preset"] == name


@pytest.mark.parametrize("stage,module", [("train_gan", train_gan),
                                          ("train_upscaler", train_upscaler)])
def test_a_typo_in_any_preset_is_an_error_naming_it_and_the_valid_keys(stage, module):
    section = yaml.safe_load((ROOT / "params.yaml").read_text())[stage]
    other = [name for name in section["presets"] if name != section["preset"]][-1]
    section["presets"][other]["batch_szie"] = 8
    with pytest.raises(UserError, match=rf"{stage}\.presets\.{other}: unknown key 'batch_szie' "
                                        r"\(valid keys: .*batch_size"):
        module.resolve_config(section)  # the active preset is fine; the typo is elsewhere


@pytest.mark.parametrize("change,message", [
    ({"seed": "1234"}, r"train_gan\.seed must be an integer, got '1234'"),
    ({"device": "tpu"}, r"train_gan\.device must be one of 'auto', 'cpu', 'cuda'"),
    ({"threads": None}, r"train_gan\.threads must be an integer, got None"),
])
def test_a_setting_of_the_wrong_kind_is_an_error_naming_it(change, message):
    section = {**PARAMS["train_gan"], **change}
    with pytest.raises(UserError, match=message):
        train_gan.resolve_config(section)


def test_a_missing_setting_is_an_error_rather_than_a_default():
    section = yaml.safe_load((ROOT / "params.yaml").read_text())["train_upscaler"]
    for preset in section["presets"].values():
        preset.pop("consistency_weight")
    with pytest.raises(UserError, match=r"missing key 'consistency_weight'"):
        train_upscaler.resolve_config(section)


def _run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_print_config_shows_the_resolved_preset_and_what_it_inherits_from(tmp_path):
    result = _run("train.train_gan", "--print-config", "--preset", "gpu1024",
                  "--params", str(ROOT / "params.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert first == "# train_gan: preset gpu1024 <- gpu512 <- gpu256 <- cpu"
    shown = yaml.safe_load(rest)
    expected = dict(PARAMS["train_gan"]["presets"]["gpu1024"], preset="gpu1024")
    assert shown["preset"] == expected
    assert shown["settings"]["seed"] == PARAMS["train_gan"]["seed"]
    assert not (tmp_path / "data").exists()  # a dry run: nothing written


@pytest.mark.parametrize("module,section", [("train.train_gan", "train_gan"),
                                            ("train.train_upscaler", "train_upscaler"),
                                            ("train.render", "render"),
                                            ("train.pack", "pack"),
                                            ("evaluate", "evaluate"),
                                            ("evaluate.train_encoder", "evaluate"),
                                            ("style.stage", "stylize")])
def test_each_stage_refuses_an_unknown_key_before_any_work(tmp_path, module, section):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params[section]["colour_mode"] = "sepia"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = _run(module, "--params", "params.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{section}: unknown key 'colour_mode' (valid keys: " in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
