"""The FID Inception layout (evaluate/inception.py): torchvision's layout with the FID file's
1008-class fc, loaded strictly, with errors that name the wrong keys and shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluate.inception import FIDInceptionV3, inception_features, load_inception
from tests.images import noise


def test_inception_layout_loads_strictly(tmp_path):
    torch.manual_seed(0)
    model = FIDInceptionV3()
    state = model.state_dict()
    # torchvision's inception_v3 without aux logits has 23,834,568 parameters; the FID file's
    # 1008-class fc adds 8 x 2049.
    assert sum(p.numel() for p in model.parameters()) == 23_834_568 + 8 * 2049
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert state["fc.weight"].shape == (1008, 2048)
    path = tmp_path / "fid.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    loaded = load_inception(path)
    images = noise((2, 32, 32, 3), seed=14)
    features = inception_features(loaded, images)
    assert features.shape == (2, 2048) and features.dtype == np.float64
    assert np.isfinite(features).all() and not np.array_equal(features[0], features[1])

    renamed = dict(state)
    renamed["Mixed_6b.branch1x1.conv.weights"] = renamed.pop("Mixed_6b.branch1x1.conv.weight")
    torch.save(renamed, path)
    with pytest.raises(ValueError, match=r"missing keys: Mixed_6b\.branch1x1\.conv\.weight"
                                         r".*unexpected keys: Mixed_6b\.branch1x1\.conv\.weights"):
        load_inception(path)
    reshaped = dict(state)
    reshaped["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(reshaped, path)
    with pytest.raises(ValueError, match=r"wrong shapes: fc\.weight"):
        load_inception(path)
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05"):
        load_inception(tmp_path / "absent.pth")
