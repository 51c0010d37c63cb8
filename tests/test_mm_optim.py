"""LayerDecayOptimWrapperConstructor: layer-wise / stage-wise lr decay from the timm model's groups."""
import pytest
import torch.nn as nn

pytest.importorskip("mmseg", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")

from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

import vitzoo.mm  # noqa: E402,F401  (registers the constructor)

MODEL = "vz_swin_tiny_patch4_window7_224"  # stages of depth 2, 2, 6, 2 behind a patch embedding


class Segmentor(nn.Module):
    def __init__(self, **backbone):
        super().__init__()
        self.backbone = MODELS.build(dict(type="VitzooBackbone", model_name=MODEL, **backbone))
        self.decode_head = nn.Linear(768, 4)


def _groups(model, **paramwise):
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type="LayerDecayOptimWrapperConstructor",
        optim_wrapper_cfg=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05)),
        paramwise_cfg=paramwise,
    ))
    groups = constructor(model).optimizer.param_groups
    return {id(p): g for g in groups for p in g["params"]}


def test_stage_wise_decay_follows_the_stages():
    model = Segmentor()
    groups = _groups(model, layer_decay_rate=0.5, decay_type="stage_wise")
    swin = model.backbone.model
    # stem (patch embedding) = layer 0 of 5 stage groups, the head on top: lr * 0.5 ** (5 - layer)
    assert groups[id(swin.patch_embed.proj.weight)]["lr"] == pytest.approx(1e-3 * 0.5 ** 5)
    assert groups[id(swin.layers[0].blocks[0].mlp.fc1.weight)]["lr"] == pytest.approx(1e-3 * 0.5 ** 4)
    assert groups[id(swin.layers[3].blocks[1].mlp.fc1.weight)]["lr"] == pytest.approx(1e-3 * 0.5 ** 1)
    assert groups[id(model.decode_head.weight)]["lr"] == pytest.approx(1e-3)
    # no weight decay on 1-D parameters and the relative position tables, decay elsewhere
    assert groups[id(swin.layers[0].blocks[0].norm1.weight)]["weight_decay"] == 0.0
    assert groups[id(model.decode_head.bias)]["weight_decay"] == 0.0
    assert groups[id(swin.layers[0].blocks[0].attn.relative_position_bias_table)]["weight_decay"] == 0.0
    assert groups[id(swin.layers[0].blocks[0].mlp.fc1.weight)]["weight_decay"] == 0.05
    # the classifier's final norm is not run by the dense backbone: not optimised
    assert id(swin.norm.weight) not in groups


def test_layer_wise_decay_with_the_papers_layer_count():
    model = Segmentor(frozen_stages=0)
    groups = _groups(model, layer_decay_rate=0.9, decay_type="layer_wise", num_layers=6)
    swin = model.backbone.model
    assert id(swin.patch_embed.proj.weight) not in groups and id(swin.layers[0].blocks[0].mlp.fc1.weight) not in groups
    scales = [groups[id(b.mlp.fc1.weight)]["lr"] / 1e-3 for layer in swin.layers[1:] for b in layer.blocks]
    assert scales == sorted(scales) and len(set(scales)) <= 6
    assert scales[-1] == pytest.approx(0.9 ** (7 - 5))  # the last of 6 layers, below the head at layer 7
    assert groups[id(model.decode_head.weight)]["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "paramwise, match",
    [
        (dict(layer_decay_rate=1.5), "layer_decay_rate must be a number in"),
        (dict(layer_decay_rate=0.9, decay_type="block_wise"), "decay_type must be one of"),
        (dict(layer_decay_rate=0.9, num_layers=0), "num_layers must be a positive integer"),
    ],
)
def test_bad_settings_fail_with_a_message(paramwise, match):
    with pytest.raises(ValueError, match=match):
        _groups(Segmentor(), **paramwise)


def test_needs_a_vitzoo_backbone():
    with pytest.raises(ValueError, match="exactly one VitzooBackbone"):
        _groups(nn.Linear(2, 2), layer_decay_rate=0.9)
