"""SLAB-Swin, PRepBN Swin-T and SLAB-CSWin: contract, dense inputs, loading, reparameterisation.

Their parity with the authors' code (output and stage features) is tests/test_slab.py.
"""
import pytest
import timm
import torch
import torch.nn as nn

import contract
from parity_utils import PARITY_DIR, create_from_file, parity_module, training_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.layers.prepbn import ProgressiveRepBN, RepBN, iter_repbn
from vitzoo.models.slab_swin import MapRepBN

SWIN, PREPBN, CSWIN = "slab_swin_tiny", "slab_swin_tiny_prepbn", "slab_cswin_tiny"
# The schedule counters advance on every training forward, so gradient checkpointing's recomputation
# would change lam between the two runs the contract compares; plain RepBN has no schedule.  Fewer
# blocks keep it quick and still include every block kind (SLA, shifted windows, stripes).
SHORT_PLAIN = dict(norm_layer=MapRepBN, depths=(1, 1, 2, 1))


def _fixture_state_dict(name):
    return parity_module().original_state_dict(PARITY_DIR / f"{name}.safetensors")[0]


def _randomise_norms_and_encodings(model, seed=0):
    """Away from init, so that resized encodings and norms are not trivially equal (zeros, identity BN)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, norm in iter_repbn(model):
            rep = norm.norm2 if isinstance(norm, ProgressiveRepBN) else norm
            rep.alpha.uniform_(0.5, 1.5, generator=g)
            rep.bn.weight.uniform_(0.5, 1.5, generator=g)
            rep.bn.bias.normal_(0, 0.1, generator=g)
            rep.bn.running_mean.normal_(0, 0.2, generator=g)
            rep.bn.running_var.uniform_(0.5, 2.0, generator=g)
        for name, p in model.named_parameters():
            if name.endswith("positional_encoding"):
                p.normal_(0, 0.5, generator=g)
    return model


@pytest.mark.parametrize("model_name", [SWIN, CSWIN])
def test_forward_api(model_name):
    contract.check_forward_api(model_name, size=(64, 64))


@pytest.mark.parametrize("model_name", [SWIN, CSWIN])
def test_grad_checkpointing_and_backward(model_name):
    contract.check_grad_checkpointing_and_backward(model_name, size=(64, 64), **SHORT_PLAIN)


@pytest.mark.parametrize("model_name", [SWIN, CSWIN])
def test_intermediates_match_features_only(model_name):
    contract.check_intermediates_match_features_only(model_name, size=(64, 96))


@pytest.mark.parametrize("model_name", [SWIN, CSWIN])
@pytest.mark.parametrize("size", [(512, 512), (600, 800)])
def test_features_only_dense_sizes(model_name, size):
    contract.check_features(model_name, size, reductions=(4, 8, 16, 32))


def test_swin_odd_size_pads():
    contract.check_features(SWIN, (97, 131), reductions=(4, 8, 16, 32))


@pytest.mark.parametrize("model_name", [SWIN, CSWIN])
def test_positional_encoding_resized_at_runtime_and_on_load(model_name):
    """A 224 model on a 64x96 image resizes its SLA encodings exactly as loading into img_size=(64, 96) does."""
    base = _randomise_norms_and_encodings(timm.create_model(model_name)).eval()
    resized = timm.create_model(
        model_name, img_size=(64, 96), pretrained=True, pretrained_cfg_overlay=dict(state_dict=base.state_dict())
    ).eval()
    pe = "layers.0.blocks.0.attn.positional_encoding" if model_name == SWIN else "stages.0.blocks.0.attns.0.positional_encoding"
    assert base.state_dict()[pe].shape[1] == 56 * 56
    assert resized.state_dict()[pe].shape[1] == 16 * 24
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(resized(x), base(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model_name", [SWIN, PREPBN, CSWIN])
def test_reparameterize(model_name):
    """Folded == unfolded at 120x152, where windows / stripes are padded and a merge meets odd sides."""
    model = timm.create_model(
        model_name, pretrained=True, pretrained_cfg_overlay=dict(state_dict=_fixture_state_dict(model_name))
    ).eval()
    x = torch.randn(2, 3, 120, 152)
    with torch.no_grad():
        expected = model(x)
        model.reparameterize()
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
    leftover = [n for n, m in model.named_modules() if isinstance(m, (RepBN, ProgressiveRepBN, nn.modules.batchnorm._BatchNorm))]
    assert not leftover, leftover
    with pytest.raises(RuntimeError, match="reparameterized"):
        model.train()


def test_norms_follow_the_authors():
    swin, cswin, prepbn = (timm.create_model(name, depths=(1, 1, 1, 1)) for name in (SWIN, CSWIN, PREPBN))
    norm = swin.layers[0].blocks[0].norm1
    assert isinstance(norm, ProgressiveRepBN) and norm.total_step.item() == 60000 and norm.norm1.eps == 1e-5
    assert cswin.stem.norm.total_step.item() == 120000 and cswin.stem.norm.norm1.eps == 1e-5
    assert all(type(m) is MapRepBN for _, m in iter_repbn(prepbn))


@pytest.mark.parametrize("model_name, container", [(SWIN, "ddp"), (CSWIN, "model_ema")])
def test_checkpoint_layouts(model_name, container, tmp_path):
    """The authors' files load (the containers are vitzoo.checkpoint's; here the key mapping is checked)."""
    sd = _fixture_state_dict(model_name)
    loaded = create_from_file(training_checkpoint(sd, container), model_name, tmp_path).state_dict()
    if model_name == SWIN:
        same = {"layers.1.blocks.0.attn.positional_encoding": "layers.1.blocks.0.attn.positional_encoding",
                "layers.2.downsample.reduction.weight": "layers.1.downsample.reduction.weight", "head.fc.weight": "head.weight"}
    else:
        same = {"stem.conv.weight": "stage1_conv_embed.0.weight", "stages.2.downsample.norm.norm2.alpha": "merge2.norm.norm2.alpha",
                "stages.3.blocks.0.attns.0.get_v.weight": "stage4.0.attns.0.get_v.weight", "head.fc.bias": "head.bias"}
    for ours, theirs in same.items():
        torch.testing.assert_close(loaded[ours], sd[theirs])


@pytest.mark.parametrize("fixture, model_name", [(PREPBN, SWIN), (SWIN, CSWIN)])
def test_other_architecture_fails(fixture, model_name):
    with pytest.raises(CheckpointError, match=model_name):
        timm.create_model(
            model_name, pretrained=True, pretrained_cfg_overlay=dict(state_dict=_fixture_state_dict(fixture))
        )


@pytest.mark.parametrize("model_name, min_size", [(SWIN, 4), (CSWIN, 3)])
def test_bad_inputs(model_name, min_size):
    contract.check_bad_inputs(model_name, min_size)


def test_bad_attn_types():
    with pytest.raises(ValueError, match="attn_types"):
        timm.create_model(SWIN, attn_types="LLX")


def test_all_variants_build():
    # parameter counts of the authors' own models (built from their cfgs); SLAB-CSWin less the 640
    # values of the SLA's unused ``scale`` parameters, which vitzoo drops
    expected = {
        "slab_swin_tiny": 29_216_605,
        "slab_swin_small": 50_552_965,
        "slab_swin_base": 89_029_373,
        "slab_swin_tiny_prepbn": 28_288_383,
        "slab_cswin_tiny": 21_227_807 - 640,
        "slab_cswin_small": 35_494_205 - 640,
    }
    contract.check_param_counts(expected, ["slab_swin*", "slab_cswin*"])
