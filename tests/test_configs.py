"""Every dense config in configs/ parses, names a registered model, and wires its channels right."""
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmseg", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")
pytest.importorskip("mmdet", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")

import timm  # noqa: E402
from mmengine.config import Config  # noqa: E402

import vitzoo.mm  # noqa: E402,F401  (registers the vitzoo models)

CONFIG_ROOT = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(
    p for kind in ("segmentation", "detection") for p in (CONFIG_ROOT / kind).glob("*.py")
)


def _head_in_channels(model_cfg) -> list[int]:
    """The channels the neck (detection, Semantic FPN) or the decode head (UPerNet) expects."""
    if model_cfg.get("neck") is not None:
        return list(model_cfg.neck.in_channels)
    return list(model_cfg.decode_head.in_channels)


def test_there_are_configs_for_both_tasks():
    names = [p.name for p in CONFIGS]
    assert any(n.startswith("upernet_") for n in names) and any(n.startswith("mask-rcnn_") for n in names)
    for kind in ("segmentation", "detection"):
        assert list((CONFIG_ROOT / kind).glob("quickstart_*.py")), f"configs/{kind} has no quickstart config"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds_on_a_registered_backbone_with_matching_channels(path):
    cfg = Config.fromfile(str(path))
    backbone = cfg.model.backbone
    assert backbone.type == "VitzooBackbone"
    assert timm.is_model(backbone.model_name), f"{path.name}: {backbone.model_name} is not registered"
    with torch.device("meta"):
        model = timm.create_model(backbone.model_name, pretrained=False)
    channels = [model.feature_info[i]["num_chs"] for i in backbone.out_indices]
    assert _head_in_channels(cfg.model) == channels, path.name
    if cfg.model.get("auxiliary_head") is not None:
        assert cfg.model.auxiliary_head.in_channels == channels[cfg.model.auxiliary_head.in_index]
    pretrained = backbone.pretrained
    if pretrained is True:
        cfg_ = model.pretrained_cfg
        assert cfg_.get("url") or cfg_.get("hf_hub_id"), (
            f"{path.name}: pretrained=True but {backbone.model_name} has no released weights to download"
        )
    elif isinstance(pretrained, str):
        assert pretrained.startswith("checkpoints/"), "a local weights file lives under checkpoints/"
    if "optim_wrapper" in cfg and cfg.optim_wrapper.get("constructor") == "LayerDecayOptimWrapperConstructor":
        assert 0 < cfg.optim_wrapper.paramwise_cfg.layer_decay_rate <= 1


def test_quickstart_configs_need_no_download():
    for path in CONFIGS:
        if path.name.startswith("quickstart_"):
            cfg = Config.fromfile(str(path))
            assert cfg.model.backbone.pretrained is False
            assert cfg.synthetic_data.kind in ("ade20k", "coco")
