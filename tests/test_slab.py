"""SLAB parity: every slab_* fixture through the user path.

The model for fixture ``X`` is ``X``; ``features.{i}`` are the stage outputs that
``forward_intermediates`` returns (NCHW; before patch merging for Swin/CSWin, after the stage norm for
PVT-v2, as each fixture's notes say).  Contract and architecture tests live in test_slab_*.py.
"""
import pytest
import torch

from parity_utils import assert_features_close, assert_fixture_close, fixture_names, load_via_user_path


@pytest.mark.parametrize("fixture", fixture_names("slab"))
def test_parity_user_path(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, fixture, tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        if fx.features:
            assert_features_close(model.forward_intermediates(fx.input, intermediates_only=True), fx)
