import functools

import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import assert_loaded_exactly, create_from_file, training_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.layers.newton_inverse import newton_inverse, newton_inverse_shared_scale, newton_schulz
from vitzoo.models.soft import checkpoint_filter_fn

# fixture -> vitzoo model; a SOFT fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {"soft_tiny": "soft_tiny", "soft_norm_tiny": "soft_norm_tiny"}
TINY = "soft_tiny"
SMALL_SIZE = (64, 96)


@functools.cache
def _fixture(name=TINY):
    return parity_module().original_state_dict(PARITY_DIR / f"{name}.safetensors")


def _tokens(feature_map):
    return feature_map.flatten(2).transpose(1, 2)


@pytest.mark.parametrize("fixture", fixture_names("soft"))
def test_parity_user_path(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        tokens, feats = model.forward_intermediates(fx.input, indices=[0, 1, 2])
    # features.3: the final norm's tokens, cls first; features.0-2: stage outputs as (B, H*W, C) tokens
    assert len(fx.features) == 4
    assert_fixture_close(tokens, fx.features["3"], fx, "features.3")
    for i, feat in enumerate(feats):
        assert_fixture_close(_tokens(feat), fx.features[str(i)], fx, f"features.{i}")


@pytest.mark.parametrize("container", [None, "ddp", "model_ema", "vitzoo"])
def test_checkpoint_layouts(container, tmp_path):
    sd, _ = _fixture()
    reference = timm.create_model(TINY)
    expected = checkpoint_filter_fn(sd, reference)
    # the authors' training checkpoint holds model and model_ema; they evaluate model_ema
    checkpoint = expected if container == "vitzoo" else training_checkpoint(sd, container)
    model = create_from_file(checkpoint, TINY, tmp_path)
    assert_loaded_exactly(model, expected)
    torch.testing.assert_close(model.stages[2].blocks[1].attn.landmark_conv.weight, sd["block3.1.att.mha.attn.Qlandmark_op.weight"])


def test_depth_mismatch_names_the_checkpoint_depths(tmp_path):
    sd, _ = _fixture()
    path = tmp_path / "soft_tiny.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=r"stage depths \(1, 2, 3, 2\).*soft_small.*\(1, 3, 20, 4\)"):
        timm.create_model("soft_small", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_other_architecture_fails(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"model": timm.create_model("resnet18").state_dict()}, path)
    with pytest.raises(CheckpointError, match="does not belong to soft_tiny"):
        timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


@pytest.mark.parametrize("name", ["soft_tiny", "soft_norm_small"])
def test_pretrained_without_file_says_where_to_download(name):
    with pytest.raises(RuntimeError, match=r"drive\.google\.com.*pretrained_cfg_overlay=dict\(file="):
        timm.create_model(name, pretrained=True)


def test_variant_without_release_says_so():
    with pytest.raises(RuntimeError, match="released no pretrained weights"):
        timm.create_model("soft_small", pretrained=True)


def test_pos_embed_resized_on_load_matches_run_time_resize(tmp_path):
    """Loading into img_size=(224, 288) resizes the stored square embeddings as the forward would."""
    sd, _ = _fixture()
    path = tmp_path / "soft_tiny.pth"
    torch.save({"model": sd}, path)
    native = timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    wide = timm.create_model(
        TINY, img_size=(224, 288), pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    assert wide.stages[0].pos_embed.shape == (1, 56 * 72, 64)
    assert wide.stages[3].pos_embed.shape == (1, 1 + 7 * 9, 512)
    torch.testing.assert_close(wide.stages[3].pos_embed[:, 0], sd["pos_embed4"][:, 0])
    x = torch.randn(1, 3, 224, 288)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), native(x), rtol=1e-5, atol=1e-5)


def test_non_square_pos_embed_needs_its_img_size():
    wide = timm.create_model(TINY, img_size=(224, 288)).state_dict()
    with pytest.raises(CheckpointError, match="img_size"):
        checkpoint_filter_fn(wide, timm.create_model(TINY))


def _kernel_matrix(n, batch=(2, 3), seed=0):
    """A well-conditioned Gaussian kernel matrix exp(-|x_i - x_j|^2 / 2), like SOFT's landmark kernels."""
    g = torch.Generator().manual_seed(seed)
    points = 1.5 * torch.randn(*batch, n, 4, generator=g, dtype=torch.float64)
    return torch.exp(-torch.cdist(points, points) ** 2 / 2)


def test_newton_inverse_analytic_backward():
    mat = _kernel_matrix(5).requires_grad_()
    ridge = 0.01 * torch.eye(5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda m: newton_inverse(m, 20), (mat,))
    grad_out = torch.randn_like(mat)
    (analytic,) = torch.autograd.grad(newton_inverse(mat, 20), mat, grad_out)
    (exact,) = torch.autograd.grad(torch.linalg.inv(mat + ridge), mat, grad_out)
    # autograd through the 20 iterations from the same start (scale 0.9 * 2 / max row sum^2)
    alpha = (1.8 / mat.detach().sum(-1).amax(-1) ** 2)[..., None, None]
    (unrolled,) = torch.autograd.grad(newton_schulz(mat + ridge, alpha * (mat + ridge), 20), mat, grad_out)
    torch.testing.assert_close(analytic, exact, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(analytic, unrolled, rtol=1e-9, atol=1e-10)


def test_newton_inverse_shared_scale_converges_and_backpropagates():
    mat = _kernel_matrix(6, seed=1).requires_grad_()
    inv = newton_inverse_shared_scale(mat, 20)
    torch.testing.assert_close(inv, torch.linalg.inv(mat), rtol=1e-9, atol=1e-10)
    grad_out = torch.randn_like(mat)
    (through_iterations,) = torch.autograd.grad(inv, mat, grad_out)
    (exact,) = torch.autograd.grad(torch.linalg.inv(mat), mat, grad_out)
    torch.testing.assert_close(through_iterations, exact, rtol=1e-7, atol=1e-8)


def test_newton_inverse_under_bf16_autocast():
    mat = _kernel_matrix(8).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = newton_inverse(mat.bfloat16())
        shared = newton_inverse_shared_scale(mat.bfloat16())
    assert low.dtype == shared.dtype == torch.bfloat16
    rounded = mat.bfloat16().float()
    torch.testing.assert_close(low.float(), torch.linalg.inv(rounded + 0.01 * torch.eye(8)), rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(shared.float(), torch.linalg.inv(rounded), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name", ["soft_tiny", "soft_norm_tiny"])
def test_bf16_autocast_forward_close_to_fp32(name):
    torch.manual_seed(0)
    model = timm.create_model(name).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        ref = model.forward_features(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.forward_features(x)
    assert low.isfinite().all()
    # bf16 keeps 8 bits: the normed tokens (std 1) agree to a few 1e-2
    assert (low.float() - ref).abs().max() < 0.1, (low.float() - ref).abs().max()


class TestContract(contract.ContractTests):
    model_name = TINY
    size = SMALL_SIZE
    intermediates_size = SMALL_SIZE


def test_grad_checkpointing_and_backward_soft_norm():
    contract.check_grad_checkpointing_and_backward("soft_norm_tiny", size=SMALL_SIZE)


def test_stage4_map_and_norm_and_avg_pool():
    model = timm.create_model(TINY, global_pool="avg").eval()
    x = torch.randn(1, 3, *SMALL_SIZE)
    with torch.no_grad():
        tokens, inter = model.forward_intermediates(x)
        (normed,) = model.forward_intermediates(x, indices=[3], norm=True, intermediates_only=True)
        assert inter[3].shape == (1, 512, 2, 3) and tokens.shape == (1, 1 + 6, 512)
        torch.testing.assert_close(_tokens(normed), tokens[:, 1:])
        torch.testing.assert_close(model.forward_head(tokens, pre_logits=True), tokens[:, 1:].mean(1))
    taken = model.prune_intermediate_layers(indices=[1])
    assert taken == [1] and len(model.stages) == 2


@pytest.mark.parametrize("size", [(512, 512), (600, 800)])
def test_features_only_any_size(size):
    contract.check_features(TINY, size, reductions=(4, 8, 16, 32))


def test_bad_input():
    contract.check_bad_inputs(TINY, min_size=29)


def test_smallest_input_runs():
    with torch.no_grad():
        assert timm.create_model(TINY).eval()(torch.randn(1, 3, 29, 29)).isfinite().all()


def test_all_variants_build():
    # Counted from the authors' code (models/softmax_free_vision_transformer.py); SOFT-Norm variants
    # have the same parameters.  The README reports 13M, 24M, 45M, 64M, 87M: all agree except
    # SOFT-Small, whose code depths (1, 3, 20, 4) give 38.9M (see model_cards/soft.md).
    expected = {
        "tiny": 13_069_056,
        "small": 38_858_462,
        "medium": 45_812_707,
        "large": 64_700_646,
        "huge": 87_108_273,
    }
    models = contract.check_param_counts(
        {name: params for size, params in expected.items() for name in (f"soft_{size}", f"soft_norm_{size}")}, "soft_*"
    )
    for name, model in models.items():
        assert model.stages[0].blocks[0].attn.normalized == ("norm" in name)
