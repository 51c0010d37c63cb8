import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module

# fixture -> vitzoo model; a TNT fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "tnt_s_patch16_224": "vz_tnt_s_patch16_224",
    "pyramid_tnt_ti": "vz_pyramid_tnt_ti",
}
PYRAMID = "vz_pyramid_tnt_ti"
TNT_S = "vz_tnt_s_patch16_224"


def _tnt_features(model, x):
    """features.inner_{i} / outer_{i}: (words, tokens) returned by blocks[i]."""
    inner, outer, _ = model.embed(x)
    feats = {}
    for i, block in enumerate(model.blocks):
        inner, outer = block(inner, outer)
        feats[f"inner_{i}"], feats[f"outer_{i}"] = inner, outer
    return feats


def _pyramid_features(model, x):
    """features.{i}: patch tokens after stage i as NCHW; features.inner_0: words after stage 0."""
    feats = {str(i): f for i, f in enumerate(model.forward_intermediates(x, intermediates_only=True))}
    _, inner, _, _ = next(model._run_stages(x, 0))
    feats["inner_0"] = inner
    return feats


@pytest.mark.parametrize("fixture", fixture_names("tnt"))
def test_parity_user_path(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        feats = (_pyramid_features if fixture.startswith("pyramid") else _tnt_features)(model, fx.input)
    assert fx.features, "the TNT fixtures record features"
    for name, expected in fx.features.items():
        assert_fixture_close(feats[name], expected, fx, f"features.{name}")


def test_timm_layout_loads_and_matches_timm():
    reference = timm.create_model("tnt_s_patch16_224").eval()
    model = timm.create_model(TNT_S, pretrained=True, pretrained_cfg_overlay=dict(state_dict=reference.state_dict()))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), rtol=1e-5, atol=1e-5)


def test_checkpoint_at_another_resolution(tmp_path):
    """A 192-pixel PyramidTNT checkpoint loads into a 256-pixel model (pos embed and biases resampled)."""
    sd, _ = parity_module().original_state_dict(PARITY_DIR / "pyramid_tnt_ti.safetensors")
    path = tmp_path / "ptnt_ti.pth"
    torch.save(sd, path)
    model = timm.create_model(PYRAMID, img_size=256, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert model.outer_pos.shape == (1, 32 * 32, 80)
    assert model.stages[0].relative_pos.shape == (1, 2, 32 * 32, 8 * 8)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 256, 256)).isfinite().all()


def test_relative_pos_resampling_is_identity_on_same_grid():
    from vitzoo.models.tnt import resample_relative_pos

    bias = torch.randn(1, 2, 36, 9)
    assert resample_relative_pos(bias, (6, 6), (6, 6), 2) is bias
    assert resample_relative_pos(bias, (6, 6), (5, 7), 2).shape == (1, 2, 35, 6)


@pytest.mark.parametrize("model_name, size", [(PYRAMID, (96, 96)), (TNT_S, (64, 64))])
def test_forward_api(model_name, size):
    contract.check_forward_api(model_name, size=size)


@pytest.mark.parametrize("model_name, size", [(PYRAMID, (64, 64)), (TNT_S, (48, 48))])
def test_grad_checkpointing_and_backward(model_name, size):
    contract.check_grad_checkpointing_and_backward(model_name, size=size)


def test_intermediates_match_features_only():
    contract.check_intermediates_match_features_only(PYRAMID, size=(128, 128))


@pytest.mark.parametrize("size", [(512, 512), (600, 800)])
def test_pyramid_features_only_dense_sizes(size):
    contract.check_features(PYRAMID, size, reductions=(8, 16, 32, 64))


def test_tnt_features_only_at_other_size():
    feats = contract.check_features(TNT_S, (96, 160), reductions=(16,))
    assert feats[0].shape == (1, 384, 6, 10)


def test_bad_input():
    contract.check_bad_inputs(PYRAMID, min_size=8)


def test_swin_checkpoint_is_refused(tmp_path):
    from vitzoo import CheckpointError

    path = tmp_path / "swin.pth"
    torch.save(timm.create_model("vz_swin_tiny_patch4_window7_224").state_dict(), path)
    with pytest.raises(CheckpointError, match="does not belong to vz_pyramid_tnt_ti"):
        timm.create_model(PYRAMID, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_all_variants_build():
    expected = {  # the authors' README: TNT-S 23.8M, TNT-B 65.6M; PyramidTNT Ti/S/M/B 10.6/32.0/85.0/157.0M
        TNT_S: 23.8e6, "vz_tnt_b_patch16_224": 65.6e6, PYRAMID: 10.6e6,
        "vz_pyramid_tnt_s": 32.0e6, "vz_pyramid_tnt_m": 85.0e6, "vz_pyramid_tnt_b": 157.0e6,
    }
    contract.check_param_counts(expected, ["vz_tnt*", "vz_pyramid_tnt*"], rel=0.03)
