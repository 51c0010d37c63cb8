import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import assert_features_close, create_from_file, training_checkpoint

# fixture -> (vitzoo model, create kwargs); a Swin fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "swin_tiny_patch4_window7_224": ("vz_swin_tiny_patch4_window7_224", {}),
    "swin_tiny_patch4_window7_224x448": ("vz_swin_tiny_patch4_window7_224", {"img_size": (224, 448)}),
    "swin_tiny_c24_patch4_window8_256": ("vz_swin_tiny_c24_patch4_window8_256", {}),
}
TINY = "vz_swin_tiny_patch4_window7_224"


@pytest.mark.parametrize("fixture", fixture_names("swin"))
def test_parity_user_path(fixture, tmp_path):
    model_name, kwargs = FIXTURE_MODELS[fixture]
    model, fx = load_via_user_path(fixture, model_name, tmp_path, **kwargs)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        # features.i: output of stage i before the next patch merging, NCHW
        feats = model.forward_intermediates(fx.input, intermediates_only=True)
    assert_features_close(feats, fx)


@pytest.mark.parametrize("container", [None, "model", "model_ema", "state_dict", "state_dict_ema", "ddp"])
def test_checkpoint_layouts(container, tmp_path):
    parity = parity_module()
    sd, fx = parity.original_state_dict(PARITY_DIR / "swin_tiny_patch4_window7_224.safetensors")
    model = create_from_file(training_checkpoint(sd, container), TINY, tmp_path).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)


def test_timm_layout_loads_and_matches_timm():
    """A checkpoint in timm's own Swin layout loads, and gives timm's output at a square input."""
    reference = timm.create_model("swin_tiny_patch4_window7_224").eval()
    model = timm.create_model(
        TINY, pretrained=True, pretrained_cfg_overlay=dict(state_dict=reference.state_dict())
    ).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def _authors_swin_tiny_file(tmp_path):
    """(path of the Swin-T fixture saved as the authors' checkpoint, its state dict, the fixture)."""
    sd, fx = parity_module().original_state_dict(PARITY_DIR / "swin_tiny_patch4_window7_224.safetensors")
    path = tmp_path / "swin_tiny_patch4_window7_224.pth"
    torch.save({"model": sd}, path)
    return path, sd, fx


def test_window_resize_on_load(tmp_path):
    """A window-7 checkpoint loads into a window-12 model: bias tables resized, model runs."""
    path, _, _ = _authors_swin_tiny_file(tmp_path)
    model = timm.create_model(TINY, window_size=12, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert model.layers[0].blocks[0].attn.relative_position_bias_table.shape == (23 * 23, 3)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 384, 384)).isfinite().all()


def test_pretrained_num_classes_change(tmp_path):
    path, sd, fx = _authors_swin_tiny_file(tmp_path)
    model = timm.create_model(TINY, num_classes=7, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    torch.testing.assert_close(model.layers[2].blocks[3].mlp.fc1.weight, sd["layers.2.blocks.3.mlp.fc1.weight"])
    with torch.no_grad():
        assert model.eval()(fx.input).shape == (2, 7)


class TestContract(contract.ContractTests):
    model_name = TINY
    size = (112, 112)


@pytest.mark.parametrize("size", [(512, 512), (600, 800), (97, 131)])
def test_features_only_any_size(size):
    contract.check_features(TINY, size, reductions=(4, 8, 16, 32))


def test_small_stage_rule_non_square():
    """Authors' rule: a 7x14 last stage uses one 7x7 window size and no shift in its odd block."""
    from vitzoo.layers.window import effective_window

    assert effective_window(7, 14, 7, 3) == (7, 0)
    assert effective_window(14, 28, 7, 3) == (7, 3)
    assert effective_window(5, 19, 7, 3) == (5, 0)


def test_all_variants_build():
    expected = {
        "vz_swin_tiny_patch4_window7_224": 28.29e6,
        "vz_swin_small_patch4_window7_224": 49.61e6,
        "vz_swin_base_patch4_window7_224": 87.77e6,
        "vz_swin_base_patch4_window12_384": 87.90e6,
        "vz_swin_large_patch4_window7_224": 196.53e6,
        "vz_swin_large_patch4_window12_384": 196.74e6,
        "vz_swin_tiny_c24_patch4_window8_256": 28.33e6,
    }
    contract.check_param_counts(expected, "vz_swin*", rel=0.002)
