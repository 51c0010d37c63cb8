import functools

import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import assert_features_close, assert_loaded_exactly, create_from_file, training_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.models.hornet import IN22K_NUM_CLASSES, in1k_class_indices, in22k_head_to_in1k, resize_global_filter

# fixture -> (vitzoo model, create kwargs); a HorNet fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "hornet_tiny_7x7": ("hornet_tiny_7x7", {}),
    "hornet_tiny_gf": ("hornet_tiny_gf", {}),
}
TINY = "hornet_tiny_7x7"
TINY_GF = "hornet_tiny_gf"


@functools.lru_cache(maxsize=None)
def _authors_state_dict(fixture):
    return parity_module().original_state_dict(PARITY_DIR / f"{fixture}.safetensors")


def _load(model_name, state_dict, **kwargs):
    return timm.create_model(
        model_name, pretrained=True, pretrained_cfg_overlay=dict(state_dict=state_dict), **kwargs
    ).eval()


@pytest.mark.parametrize("fixture", fixture_names("hornet"))
def test_parity_user_path(fixture, tmp_path):
    model_name, kwargs = FIXTURE_MODELS[fixture]
    model, fx = load_via_user_path(fixture, model_name, tmp_path, **kwargs)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        # features.i: raw output of stage i (its downsampling and blocks), NCHW, no norm
        feats = model.forward_intermediates(fx.input, intermediates_only=True)
    assert len(feats) == 4
    assert_features_close(feats, fx)


@pytest.mark.parametrize("container", ["model", "model_ema", "state_dict", "module", "ddp"])
def test_checkpoint_layouts(container, tmp_path):
    """Every layout of the authors' main.py loads the bare state dict's weights."""
    from vitzoo.models.hornet import checkpoint_filter_fn

    sd, _ = _authors_state_dict(TINY)
    model = create_from_file(training_checkpoint(sd, container), TINY, tmp_path)
    assert_loaded_exactly(model, checkpoint_filter_fn(sd, model))


def test_authors_keys_all_used():
    """Every authors' key lands on a weight of its own: nothing dropped, nothing doubled."""
    from vitzoo.models.hornet import checkpoint_filter_fn

    sd, _ = _authors_state_dict(TINY_GF)
    with torch.device("meta"):
        model = timm.create_model(TINY_GF)
    converted = checkpoint_filter_fn(sd, model)
    assert len(converted) == len(sd)
    assert set(converted) == set(model.state_dict())


def test_other_architecture_fails_clearly():
    sd, _ = _authors_state_dict(TINY)
    with pytest.raises(CheckpointError, match="does not fit hornet_tiny_gf"):
        _load(TINY_GF, sd)


def test_resize_global_filter():
    """Bilinear with align_corners=True on the (h, w) half spectrum, real/imag resized separately."""
    weight = torch.randn(3, 7, 4, 2)
    assert resize_global_filter(weight, (7, 4)) is weight
    resized = resize_global_filter(weight, (13, 7))
    assert resized.shape == (3, 13, 7, 2)
    # align_corners=True keeps the four corner frequencies
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        torch.testing.assert_close(resized[:, r, c], weight[:, r, c])
    # bilinear reproduces a filter that is linear in (row, col) exactly, each part with its own slope
    rows, cols = torch.meshgrid(torch.arange(7.0), torch.arange(4.0), indexing="ij")
    linear = torch.stack((2 * rows + cols, rows - 3 * cols), dim=-1)[None]
    rows, cols = torch.meshgrid(torch.linspace(0, 6, 13), torch.linspace(0, 3, 7), indexing="ij")
    expected = torch.stack((2 * rows + cols, rows - 3 * cols), dim=-1)[None]
    torch.testing.assert_close(resize_global_filter(linear, (13, 7)), expected)


def test_global_filter_resized_on_load_equals_runtime_resize():
    """A 224 checkpoint in a 160 model (filters resized once) == the 224 model resizing at run time."""
    sd, _ = _authors_state_dict(TINY_GF)
    model_224 = _load(TINY_GF, sd)
    model_160 = _load(TINY_GF, sd, img_size=160)
    assert model_224.stages[2].blocks[0].gnconv.spatial.complex_weight.shape == (240, 14, 8, 2)
    assert model_160.stages[2].blocks[0].gnconv.spatial.complex_weight.shape == (240, 10, 6, 2)
    assert model_160.stages[3].blocks[0].gnconv.spatial.complex_weight.shape == (496, 5, 3, 2)
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(model_160(x), model_224(x), rtol=1e-5, atol=1e-5)


def test_img384_filter_sizes_match_authors():
    """img_size 384 gives the authors' hornet_*_gf_img384 filters: 24x13 and 12x7."""
    with torch.device("meta"):
        model = timm.create_model("hornet_base_gf_img384")
    assert model.stages[2].blocks[0].gnconv.spatial.complex_weight.shape == (480, 24, 13, 2)
    assert model.stages[3].blocks[0].gnconv.spatial.complex_weight.shape == (992, 12, 7, 2)


def test_pretrained_num_classes_change():
    sd, fx = _authors_state_dict(TINY)
    model = _load(TINY, sd, num_classes=7)
    torch.testing.assert_close(model.stages[2].blocks[5].mlp.fc1.weight, sd["stages.2.5.pwconv1.weight"])
    with torch.no_grad():
        assert model(fx.input[:1, :, :64, :64]).shape == (1, 7)


def test_in22k_head_to_in1k(tmp_path):
    """The 1k head is the 22k head's rows in the authors' map order, as their 1k fine-tuning starts."""
    model = timm.create_model(TINY, num_classes=IN22K_NUM_CLASSES).eval()
    indices = torch.randperm(IN22K_NUM_CLASSES)[:1000]
    path = tmp_path / "in1k_to_21k_map.pth"
    torch.save(indices, path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        logits_22k = model(x)
        in22k_head_to_in1k(model, in1k_class_indices(str(path)))
        logits_1k = model(x)
    assert model.num_classes == 1000 and logits_1k.shape == (1, 1000)
    torch.testing.assert_close(logits_1k, logits_22k[:, indices])
    with pytest.raises(ValueError, match="10459-class head"):
        in22k_head_to_in1k(model, indices)
    torch.save({"not": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="in1k_to_21k_map"):
        in1k_class_indices(str(path))


class TestContract(contract.ContractTests):
    model_name = TINY_GF
    size = (64, 64)
    intermediates_size = (128, 96)


def test_prune_intermediate_layers():
    model = timm.create_model(TINY_GF).eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        full = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        assert model.prune_intermediate_layers([0, 1]) == [0, 1]
        assert len(model.stages) == 2
        pruned = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        for a, b in zip(full, pruned):
            torch.testing.assert_close(a, b)
        assert model(x).shape == (1, 128, 12, 8)


@pytest.mark.parametrize("model_name", [TINY, TINY_GF])
@pytest.mark.parametrize("size", [(512, 512), (600, 800), (97, 131)])
def test_features_only_any_size(model_name, size):
    contract.check_features(model_name, size, reductions=(4, 8, 16, 32))


def test_bad_input():
    contract.check_bad_inputs(TINY_GF, min_size=4, intermediates=True)


def test_all_variants_build():
    # Parameter counts of the authors' hornet.py factories with the same heads (1000 classes; 10,459 for the
    # 22k models). The authors report 22M, 23M, 50M, 50M, 87M, 88M, 209M, 211M, 216M.
    expected = {
        "hornet_tiny_7x7": 22_409_512,
        "hornet_tiny_gf": 22_991_848,
        "hornet_small_7x7": 49_528_264,
        "hornet_small_gf": 50_401_768,
        "hornet_base_7x7": 87_256_680,
        "hornet_base_gf": 88_421_352,
        "hornet_base_gf_img384": 92_099_560,
        "hornet_large_7x7": 209_080_987,
        "hornet_large_gf": 210_827_995,
        "hornet_large_gf_img384": 216_345_307,
    }
    for name, model in contract.check_param_counts(expected, "hornet_*").items():
        assert model.num_classes == (IN22K_NUM_CLASSES if "large" in name else 1000), name
