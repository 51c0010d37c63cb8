"""SLAB-DeiT, SLAB-PVT (v1, v2) and their PRepBN baselines: schedule, reparameterisation, loading, contract.

The fixtures' output / feature parity through the user path is tests/test_slab.py (the whole family's).
"""
import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import create_from_file, training_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.layers.prepbn import ProgressiveRepBN, RepBN

# fixture -> model; a DeiT/PVT fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "slab_deit_tiny": "slab_deit_tiny",
    "slab_deit_tiny_prepbn": "slab_deit_tiny_prepbn",
    "slab_pvt_tiny": "slab_pvt_tiny",
    "slab_pvt_tiny_prepbn": "slab_pvt_tiny_prepbn",
    "slab_pvt_v2_b0": "slab_pvt_v2_b0",
    "slab_pvt_v2_b1": "slab_pvt_v2_b1",
}
MY_FIXTURES = [f for f in fixture_names("slab") if f.startswith(("slab_deit", "slab_pvt"))]
HIERARCHICAL = ["slab_pvt_tiny_prepbn", "slab_pvt_v2_b0"]  # v1 with softmax attention, v2 with SLA

# Parameter counts of the authors' models (their code, la_sr_ratios='1111'); SLAB-DeiT here has no unused
# cls_token (-dim).
AUTHORS_PARAMS = {
    "slab_deit_tiny": 6198401 - 192,
    "slab_deit_small": 22992641 - 384,
    "slab_deit_tiny_prepbn": 5717441,
    "slab_deit_small_prepbn": 22069889,
    "slab_pvt_tiny": 12157692,
    "slab_pvt_small": 21683788,
    "slab_pvt_medium": 37267300,
    "slab_pvt_tiny_prepbn": 13239554,
    "slab_pvt_small_prepbn": 24507801,
    "slab_pvt_medium_prepbn": 44253117,
    "slab_pvt_v2_b0": 3599968,
    "slab_pvt_v2_b1": 12941504,
    "slab_pvt_v2_b2": 22564880,
    "slab_pvt_v2_b3": 38301992,
    "slab_pvt_v2_b4": 51875330,
    "slab_pvt_v2_b5": 67111640,
}


def _randomise_(norm: ProgressiveRepBN) -> None:
    with torch.no_grad():
        for p in (norm.norm1.weight, norm.norm1.bias, norm.norm2.bn.weight, norm.norm2.bn.bias):
            p.normal_()
        norm.norm2.alpha.fill_(0.3)


def test_progressive_repbn_schedule():
    """Warm-up on LayerNorm, then lam = iter / total_step taken before the step, down to RepBN; eval = RepBN."""
    torch.manual_seed(0)
    norm = ProgressiveRepBN(8, step=4, warm=2).train()
    _randomise_(norm)
    x = torch.randn(4, 5, 8) * 3 + 1

    def layer_norm(x):
        return F.layer_norm(x, (8,), norm.norm1.weight, norm.norm1.bias, eps=1e-6)

    def repbn(x, mean, var):
        bn = norm.norm2.bn
        return (x - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias + norm.norm2.alpha * x

    batch_mean, batch_var = x.mean(dim=(0, 1)), x.var(dim=(0, 1), unbiased=False)
    with torch.no_grad():
        for warm_left in (1, 0):
            torch.testing.assert_close(norm(x), layer_norm(x))
            assert (int(norm.warm), int(norm.iter), int(norm.total_step)) == (warm_left, 4, 4)
        assert int(norm.norm2.bn.num_batches_tracked) == 0  # the warm-up never touches the BatchNorm
        for lam, iter_left in [(1.0, 3), (0.75, 2), (0.5, 1), (0.25, 0), (0.0, 0), (0.0, 0)]:
            assert norm.lam == lam
            expected = lam * layer_norm(x) + (1 - lam) * repbn(x, batch_mean, batch_var)
            torch.testing.assert_close(norm(x), expected)
            assert (int(norm.warm), int(norm.iter), int(norm.total_step)) == (0, iter_left, 4)
        assert int(norm.norm2.bn.num_batches_tracked) == 6

        norm.eval()
        bn = norm.norm2.bn
        expected = repbn(x, bn.running_mean, bn.running_var)
        torch.testing.assert_close(norm(x), expected)
        assert not torch.allclose(expected, layer_norm(x), atol=1e-2)
        assert (int(norm.warm), int(norm.iter), int(norm.norm2.bn.num_batches_tracked)) == (0, 0, 6)


@pytest.mark.parametrize(
    "name, step",
    [("slab_deit_tiny", 60000), ("slab_deit_small_prepbn", 300000), ("slab_pvt_tiny", 300000), ("slab_pvt_v2_b0", 300000)],
)
def test_schedule_length_per_architecture(name, step):
    """The authors' LinearNorm steps: 60000 for SLAB-DeiT, the default 300000 for the others."""
    model = timm.create_model(name)
    norms = [m for m in model.modules() if isinstance(m, ProgressiveRepBN)]
    assert norms and all((int(n.warm), int(n.iter), int(n.total_step)) == (0, step, step) for n in norms)
    assert all(n.norm1.eps == 1e-6 for n in norms)


def test_deit_tiny_prepbn_norms_are_plain_repbn():
    model = timm.create_model("slab_deit_tiny_prepbn")
    assert not any(isinstance(m, ProgressiveRepBN) for m in model.modules())
    assert sum(isinstance(m, RepBN) for m in model.modules()) == 2 * 12 + 1


def test_grad_checkpointing_steps_schedule_once():
    """The recompute in backward neither steps the counters again nor mixes with another lam."""
    model = timm.create_model("slab_pvt_v2_b0").train()
    model.set_grad_checkpointing(True)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert {int(m.iter) for m in model.modules() if isinstance(m, ProgressiveRepBN)} == {299999}


def _assert_folded_close(actual, expected):
    """1e-5 relative to the tensor's scale: folding only reorders float32 rounding."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * max(1.0, expected.abs().max().item()))


@pytest.mark.parametrize("fixture", MY_FIXTURES)
def test_reparameterize(fixture, tmp_path):
    """Folded model == unfolded one (1e-5) at the fixture's input and another size; no BN left; eval only."""
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    other = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        ref = model(fx.input)
        assert_fixture_close(ref, fx.output, fx)
        ref_other = model(other)
        ref_feats = model.forward_intermediates(other, intermediates_only=True)
        model.reparameterize()
        _assert_folded_close(model(fx.input), ref)
        _assert_folded_close(model(other), ref_other)
        for a, b in zip(model.forward_intermediates(other, intermediates_only=True), ref_feats):
            _assert_folded_close(a, b)
    leftovers = [n for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm, RepBN, ProgressiveRepBN))]
    assert not leftovers, leftovers
    with pytest.raises(RuntimeError, match="reparameterized"):
        model.train()


@pytest.mark.parametrize("container", [None, "model_ema", "ddp"])
def test_checkpoint_layouts(container, tmp_path):
    sd, fx = parity_module().original_state_dict(PARITY_DIR / "slab_pvt_tiny.safetensors")
    model = create_from_file(training_checkpoint(sd, container), "slab_pvt_tiny", tmp_path).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)


@pytest.mark.parametrize("fixture", ["slab_deit_tiny", "slab_pvt_v2_b0"])
def test_vitzoo_layout_round_trip(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    again = timm.create_model(
        FIXTURE_MODELS[fixture], pretrained=True, pretrained_cfg_overlay=dict(state_dict=model.state_dict())
    ).eval()
    with torch.no_grad():
        assert_fixture_close(again(fx.input), fx.output, fx)


@pytest.mark.parametrize(
    "fixture, other",
    [("slab_pvt_tiny", "slab_pvt_v2_b1"), ("slab_pvt_tiny", "slab_pvt_tiny_prepbn"),
     ("slab_deit_tiny", "slab_deit_tiny_prepbn"), ("slab_deit_tiny", "slab_deit_small")],
)
def test_wrong_architecture_fails_clearly(fixture, other, tmp_path):
    sd, _ = parity_module().original_state_dict(PARITY_DIR / f"{fixture}.safetensors")
    path = tmp_path / "ckpt.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=other):
        timm.create_model(other, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


@pytest.mark.parametrize("fixture", ["slab_deit_tiny", "slab_pvt_tiny"])
def test_encodings_resized_on_load_match_run_time_resize(fixture, tmp_path):
    """A 224 checkpoint in a 160-pixel model == the 224 model resizing its encodings at run time."""
    model, _ = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    small, _ = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path, img_size=160)
    encodings = {k: v.shape for k, v in small.state_dict().items() if k.endswith(("pos_embed", "positional_encoding"))}
    assert encodings and all(s[1] in (40 * 40, 20 * 20, 10 * 10, 5 * 5) for s in encodings.values()), encodings
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["slab_deit_tiny", "slab_pvt_tiny_prepbn", "slab_pvt_v2_b0"])
def test_forward_api(name):
    contract.check_forward_api(name, size=(64, 64))


@pytest.mark.parametrize("name, size", [("slab_deit_tiny", (32, 32)), ("slab_pvt_tiny_prepbn", (64, 64))])
def test_grad_checkpointing_and_backward(name, size):
    contract.check_grad_checkpointing_and_backward(name, size=size)


@pytest.mark.parametrize("name, kwargs", [("slab_deit_tiny", dict(out_indices=tuple(range(12)))), ("slab_pvt_tiny", {})])
def test_intermediates_match_features_only(name, kwargs):
    contract.check_intermediates_match_features_only(name, size=(96, 64), **kwargs)


@pytest.mark.parametrize("name", HIERARCHICAL)
@pytest.mark.parametrize("size", [(512, 512), (600, 800)])
def test_features_only_any_size(name, size):
    contract.check_features(name, size, reductions=(4, 8, 16, 32))


@pytest.mark.parametrize("name, min_size", [("slab_deit_tiny", 16), ("slab_pvt_tiny", 32)])
def test_bad_inputs(name, min_size):
    contract.check_bad_inputs(name, min_size, intermediates=True)


def test_all_variants_build():
    contract.check_param_counts(AUTHORS_PARAMS, ["slab_deit*", "slab_pvt*"])


def test_variant_settings_can_be_overridden():
    with torch.device("meta"):
        model = timm.create_model("slab_deit_tiny_prepbn", global_pool="avg", norm_layer=ProgressiveRepBN)
    assert model.global_pool == "avg" and isinstance(model.norm, ProgressiveRepBN)


@pytest.mark.parametrize("name", HIERARCHICAL)
def test_intermediates_nhwc(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        nchw = model.forward_intermediates(x, intermediates_only=True)
        nhwc = model.forward_intermediates(x, output_fmt="NHWC", intermediates_only=True)
    for a, b in zip(nchw, nhwc):
        torch.testing.assert_close(b, a.permute(0, 2, 3, 1))
