import re

import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import create_from_file
from vitzoo.checkpoint import CheckpointError
from vitzoo.layers.roi_sampling import AdaptiveMixing, RoIPointSampling
from vitzoo.models.sparseformer import SparseFormerConfig, adjust_rois, checkpoint_filter_fn

# fixture -> vitzoo model; a SparseFormer fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "sparseformer_tiny": "sparseformer_tiny",  # the authors' ImageNet code (sequence-first features)
    "sparseformer_v1_tiny": "sparseformer_v1_tiny",  # their library's re-implementation of v1
    "sparseformer_boot_augreg_base": "sparseformer_boot_augreg_base",
    "sparseformer_boot_clip_base": "sparseformer_boot_clip_base",
}
TINY = "sparseformer_tiny"
SMALL_SIZE = (64, 64)


def _fixture(name):
    return parity_module().original_state_dict(PARITY_DIR / f"{name}.safetensors")


@pytest.mark.parametrize("fixture", fixture_names("sparseformer"))
def test_parity_user_path(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        tokens, maps, rois = model.forward_intermediates(fx.input, return_rois=True)
        embedding = model.head.norm(tokens)
    expected_embedding, expected_rois = fx.features["token_embedding"], fx.features["token_roi"]
    if expected_embedding.shape[0] != fx.input.shape[0]:  # the ImageNet code keeps tokens sequence-first
        expected_embedding, expected_rois = expected_embedding.transpose(0, 1), expected_rois.transpose(0, 1)
    assert_fixture_close(embedding, expected_embedding, fx, "features.token_embedding")
    assert_fixture_close(rois, expected_rois, fx, "features.token_roi")
    assert maps[0].shape == (fx.input.shape[0], model.feature_info[0]["num_chs"], 56, 56)


@pytest.mark.parametrize("container", [None, "ddp_ema"])
def test_imagenet_checkpoint_containers(container, tmp_path):
    sd, fx = _fixture("sparseformer_tiny")
    if container is None:
        checkpoint = sd
    else:  # DDP prefixes; EMA weights win over the raw ones, as the authors evaluate them
        checkpoint = {"model_ema": {f"module.{k}": v for k, v in sd.items()}, "epoch": 300}
        checkpoint["model"] = {k: torch.zeros_like(v) for k, v in checkpoint["model_ema"].items()}
    model = create_from_file(checkpoint, TINY, tmp_path).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input[:1]), fx.output[:1], fx)


def _imagenet_to_library_layout(sd: dict) -> dict:
    """The authors' v1 -> v2 key rules (sparseformer/ckpt_utils.py), with the head keys it misses."""
    rules = [
        (r"tuo_proj", "out_proj"), (r"token_roi\.weight", "initial_roi.weight"),
        (r"token_embedding\.weight", "initial_embedding.weight"), (r"ffn\.0\.", "norm2."), (r"ln_attn\.", "norm1."),
        (r"ffn\.1\.", "mlp.fc1."), (r"ffn\.3\.", "mlp.fc2."), (r"attn\.in_proj_", "attn.qkv."),
        (r"attn\.out_proj\.", "attn.proj."), (r"^head\.norm\.", "norm."), (r"^head\.classifier\.", "proj."),
    ]
    out = {}
    for key, value in sd.items():
        for pattern, replacement in rules:
            new_key = re.sub(pattern, replacement, key)
            if new_key != key:
                key = new_key
                break
        out[key] = value
    return out


def test_both_layouts_of_the_same_weights_load_strictly(tmp_path):
    """The ImageNet fixture's weights in the library's layout reproduce the ImageNet fixture; no key is lost."""
    sd, fx = _fixture("sparseformer_tiny")
    library_sd = _imagenet_to_library_layout(sd)
    assert "proj.weight" in library_sd and "layers.0.attn.qkv.weight" in library_sd
    with torch.device("meta"):
        reference = timm.create_model(TINY)
    for layout in (sd, library_sd):
        converted = checkpoint_filter_fn(layout, reference)
        assert len(converted) == len(layout) and set(converted) == set(reference.state_dict())
    path = tmp_path / "library_layout.pth"
    torch.save({"model": library_sd}, path)
    model = timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input[:1]), fx.output[:1], fx)


def test_bootstrapped_layout_keeps_stage_embedding_and_head():
    sd, _ = _fixture("sparseformer_boot_clip_base")
    with torch.device("meta"):
        model = timm.create_model("sparseformer_boot_clip_base")
    converted = checkpoint_filter_fn(sd, model)
    assert set(converted) == set(model.state_dict())
    assert converted["units.0.stage_embedding.weight"] is sd["layers.0.stage_embedding.weight"]
    assert converted["units.1.transition.0.weight"] is sd["layers.1.0.weight"]
    assert converted["head.fc.weight"] is sd["proj.weight"] and "head.fc.bias" not in converted


def test_other_architecture_fails_clearly(tmp_path):
    sd, _ = _fixture("sparseformer_boot_augreg_base")
    path = tmp_path / "boot.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="does not fit sparseformer_tiny|does not belong to sparseformer_tiny"):
        timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_pretrained_num_classes_change(tmp_path):
    sd, fx = _fixture("sparseformer_tiny")
    path = tmp_path / "ckpt.pth"
    torch.save({"model": sd}, path)
    model = timm.create_model(TINY, num_classes=7, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    torch.testing.assert_close(model.units[3].mlp.fc1.weight, sd["layers.4.ffn.1.weight"])
    with torch.no_grad():
        assert model.eval()(fx.input[:1]).shape == (1, 7)


@pytest.mark.parametrize("size", [(160, 160), (224, 320), (512, 512)])
def test_any_input_size(size):
    model = timm.create_model(TINY).eval()
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        tokens, maps, rois = model.forward_intermediates(x, return_rois=True)
        logits = model.forward_head(tokens)
    assert tokens.shape == (1, 49, 512) and rois.shape == (1, 49, 4) and logits.isfinite().all()
    assert maps[0].shape == (1, 96, -(-size[0] // 4), -(-size[1] // 4))


def test_sampling_reads_the_roi_in_normalised_coordinates():
    """A point RoI at (x, y) reads the map where align_corners=False puts (x, y), at any map size."""
    sampling = RoIPointSampling(dim=8, num_points=4)
    sampling.init_weights()
    for height, width in [(40, 40), (56, 80), (128, 128)]:
        xs = (torch.arange(width) + 0.5) / width  # pixel centres in normalised coordinates
        feat = xs.view(1, 1, 1, width).expand(1, 1, height, width)
        rois = torch.tensor([[[0.3, 0.6, 0.3, 0.6], [0.7, 0.2, 0.7, 0.2]]])
        samples = sampling(feat, torch.randn(1, 2, 8), rois)
        assert samples.shape == (1, 2, 4, 1)
        torch.testing.assert_close(samples[0, :, :, 0], torch.tensor([[0.3] * 4, [0.7] * 4]))


def test_sampling_points_spread_over_the_box():
    sampling = RoIPointSampling(dim=8, num_points=36)
    sampling.init_weights()
    points = sampling.sampling_points(torch.randn(1, 1, 8), torch.tensor([[[0.2, 0.4, 0.6, 0.8]]]))
    torch.testing.assert_close(points.mean(2), torch.tensor([[[0.4, 0.6]]]))
    assert (points[..., 0] > 0.2).all() and (points[..., 0] < 0.6).all()
    # per axis the offsets are standardised to std 1/3 of the box
    torch.testing.assert_close(points.std(2), torch.tensor([[[0.4 / 3, 0.4 / 3]]]), rtol=1e-4, atol=1e-5)


def test_adaptive_mixing_shapes_and_bias_free_variant():
    for bias, act_between in [(True, True), (False, False)]:
        mixing = AdaptiveMixing(in_dim=6, in_points=4, query_dim=16, out_points=8, inner_dim=4, bias=bias,
                                act_between=act_between)
        mixing.init_weights()
        assert (mixing.m_beta is not None) == bias
        out = mixing(torch.randn(2, 3, 4, 6), torch.randn(2, 3, 16))
        assert out.shape == (2, 3, 16)


def test_roi_adjust_is_identity_at_zero():
    rois = torch.tensor([[0.1, 0.2, 0.5, 0.9]])
    torch.testing.assert_close(adjust_rois(rois, torch.zeros(1, 4)), rois)
    shifted = adjust_rois(rois, torch.tensor([[0.5, 0.0, 0.0, 0.0]]))  # half the box width to the right
    torch.testing.assert_close(shifted, rois + torch.tensor([0.2, 0.0, 0.2, 0.0]))


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(unit_ops=(("attn", "warp"),) + (("attn", "mlp"),) * 8), "unknown unit ops"),
        (dict(cls_token_unit=0), "use RoIs after the cls token"),
        (dict(repeats=(4,)), "one entry per unit"),
    ],
)
def test_bad_config(overrides, match):
    with pytest.raises(ValueError, match=match):
        timm.create_model(TINY, **overrides)


def test_forward_api():
    contract.check_forward_api(TINY, size=SMALL_SIZE)
    model = timm.create_model(TINY, num_classes=3, global_pool="token").eval()
    x = torch.randn(1, 3, *SMALL_SIZE)
    with torch.no_grad():
        tokens = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(tokens, pre_logits=True), model.head.norm(tokens[:, 0]))
    with pytest.raises(ValueError, match="global_pool"):
        model.reset_classifier(3, "max")


def test_grad_checkpointing_and_backward():
    contract.check_grad_checkpointing_and_backward(TINY, size=SMALL_SIZE)


def test_intermediates_match_features_only():
    contract.check_intermediates_match_features_only(TINY, size=SMALL_SIZE)


@pytest.mark.parametrize("size", [(512, 512), (600, 800)])
def test_features_only_is_the_early_conv_map(size):
    feats = contract.check_features(TINY, size, reductions=(4,))
    # normalised over channels at every pixel
    torch.testing.assert_close(feats[0].mean(1), torch.zeros(1, *feats[0].shape[2:]), atol=1e-5, rtol=0)


def test_bad_input():
    contract.check_bad_inputs(TINY, min_size=None)


def test_all_variants_build():
    # Exact counts (those with a fixture equal the authors' own models'), and the README's rounded ones.
    expected = {
        "sparseformer_tiny": (31_522_212, 32e6),
        "sparseformer_small": (47_575_056, 48e6),
        "sparseformer_base": (81_076_996, 81e6),
        "sparseformer_v1_tiny": (31_522_212, None),
        "sparseformer_v1_small": (47_575_056, None),
        "sparseformer_v1_base": (81_076_996, None),
        "sparseformer_boot_augreg_base": (64_185_448, None),
        "sparseformer_boot_augreg_large": (212_426_984, None),
        "sparseformer_boot_clip_base": (63_809_664, None),
        "sparseformer_boot_clip_large": (212_188_476, None),
    }
    for name, (params, reported) in expected.items():
        with torch.device("meta"):
            model = timm.create_model(name)
        n = sum(p.numel() for p in model.parameters())
        assert n == params, (name, n)
        assert reported is None or abs(n - reported) < 0.5e6, (name, n, reported)
    assert set(expected) == set(timm.list_models("sparseformer*"))
    assert isinstance(model.config, SparseFormerConfig) and model.config.quick_gelu
