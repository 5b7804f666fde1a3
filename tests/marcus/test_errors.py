"""User errors (marcus/errors.py): library code raises ``marcus.errors.UserError``; every
command's ``main`` turns it into ``PROG: message`` on stderr and exit status 2, never a
traceback.

    PYTHONPATH=. .venv/bin/python -m pytest -q tests/marcus/test_errors.py
"""

import importlib

import pytest

from marcus.errors import USER_ERROR_EXIT, UserError, reported

# (module, argv before --params, prog): every stage entry point of dvc.yaml, and generate.
COMMANDS = [
    ("demo.__main__", ["build", "--out", "unused"], "demo"),
    ("crawl.__main__", ["met"], "crawl"),
    ("curate.__main__", ["run"], "curate"),
    ("train.pack", [], "pack"),
    ("train.train_gan", [], "train_gan"),
    ("train.train_upscaler", [], "train_upscaler"),
    ("evaluate.train_encoder", [], "encoder"),
    ("evaluate.stage", [], "evaluate"),
]


def test_reported_turns_a_user_error_into_a_message_and_status_2(capsys):
    @reported("thing")
    def main(argv=None):
        raise UserError("the widget is missing (make one first)")

    assert main([]) == USER_ERROR_EXIT == 2
    assert capsys.readouterr().err == "thing: the widget is missing (make one first)\n"


def test_reported_leaves_a_bug_its_traceback():
    @reported("thing")
    def main(argv=None):
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        main([])


@pytest.mark.parametrize("module,argv,prog", COMMANDS, ids=[c[2] for c in COMMANDS])
def test_every_command_reports_a_broken_params_file_without_a_traceback(module, argv, prog,
                                                                         tmp_path, capsys):
    broken = tmp_path / "params.yaml"
    broken.write_text("crawl: {sources: [unclosed\n")
    main = importlib.import_module(module).main
    assert main(["--params", str(broken), *argv] if module.endswith("__main__")
                else [*argv, "--params", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{prog}: ") and "not a readable YAML file" in err, err
    assert "Traceback" not in err
