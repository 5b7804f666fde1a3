"""marcus.code_version: the model cards' code version is a hash of the imported project code."""

from __future__ import annotations

import re

from tests.projects import run_py


def test_code_version_is_a_hash_of_the_imported_project_code(tmp_path):
    """Same code, same value in any process (no clock, no git); one more project module
    imported, another value."""
    script = ("from marcus import code_version; a = code_version.code_version(); "
              "import curate.licence; print(a, code_version.code_version())")
    runs = [run_py(["-c", script], cwd=tmp_path) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    (before, after), (again, _) = (r.stdout.split() for r in runs)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", before) and before == again
    assert after != before
