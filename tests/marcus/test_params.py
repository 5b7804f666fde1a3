"""marcus.params: a missing, unreadable or sectionless params file is a user error."""

import pytest

from marcus.errors import UserError
from marcus.params import load_params


def test_a_missing_unreadable_or_sectionless_params_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="params file not found"):
        load_params("pack", tmp_path / "nowhere.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pack: [unclosed\n")
    with pytest.raises(UserError, match="not a readable YAML file"):
        load_params("pack", broken)
    broken.write_text("- a list, not sections\n")
    with pytest.raises(UserError, match="must hold a mapping"):
        load_params("pack", broken)
    broken.write_text("other: {}\n")
    with pytest.raises(UserError, match="no 'pack' section"):
        load_params("pack", broken)
