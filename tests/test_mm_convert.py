"""The authors' dense checkpoints (backbone.* + per-stage output norms + heads) in VitzooBackbone's layout."""
import pytest
import torch

pytest.importorskip("mmseg", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")

from mmseg.registry import MODELS  # noqa: E402

import vitzoo.mm  # noqa: E402,F401
from parity_utils import PARITY_DIR, parity_module  # noqa: E402
from vitzoo.checkpoint import CheckpointError  # noqa: E402
from vitzoo.mm.convert import convert_dense_state_dict  # noqa: E402


def _authors_dense_checkpoint(fixture: str, norm_key: str, channels, start: int = 0):
    """A dense checkpoint as the authors' MMSeg code saves it, built from a classification fixture."""
    state_dict, fx = parity_module().original_state_dict(PARITY_DIR / f"{fixture}.safetensors")
    dense = {f"backbone.{k}": v for k, v in state_dict.items() if not k.startswith(("head.", "norm."))}
    generator = torch.Generator().manual_seed(0)
    for i, ch in enumerate(channels):
        dense[f"backbone.{norm_key}{i + start}.weight"] = 1 + 0.1 * torch.randn(ch, generator=generator)
        dense[f"backbone.{norm_key}{i + start}.bias"] = 0.1 * torch.randn(ch, generator=generator)
    dense["decode_head.conv_seg.weight"] = torch.randn(150, 512, 1, 1, generator=generator)
    return dense, state_dict


@pytest.mark.parametrize(
    "fixture, model_name, norm_key, start",
    [
        ("swin_tiny_patch4_window7_224", "vz_swin_tiny_patch4_window7_224", "norm", 0),
        ("rmt_t", "rmt_t", "extra_norms.", 0),
        ("slab_cswin_tiny", "slab_cswin_tiny", "norm", 1),
    ],
)
def test_authors_dense_checkpoint_loads_strictly(tmp_path, fixture, model_name, norm_key, start):
    backbone = MODELS.build(dict(type="VitzooBackbone", model_name=model_name)).eval()
    channels = list(backbone.channels)
    dense, classification = _authors_dense_checkpoint(fixture, norm_key, channels, start)
    converted = convert_dense_state_dict(dense, backbone)
    assert converted["decode_head.conv_seg.weight"] is dense["decode_head.conv_seg.weight"]
    backbone_sd = {k[len("backbone."):]: v for k, v in converted.items() if k.startswith("backbone.")}
    missing, unexpected = backbone.load_state_dict(backbone_sd, strict=False)
    assert not unexpected
    assert all(not backbone.get_parameter(k).requires_grad for k in missing if k in dict(backbone.named_parameters()))
    for i in range(len(channels)):
        torch.testing.assert_close(backbone.out_norms[i].weight, dense[f"backbone.{norm_key}{i + start}.weight"])

    # the backbone weights are the classification model's, as timm.create_model loads them
    path = tmp_path / "cls.pth"
    torch.save({"model": classification}, path)
    reference = MODELS.build(dict(type="VitzooBackbone", model_name=model_name, pretrained=str(path))).eval()
    reference.out_norms.load_state_dict(backbone.out_norms.state_dict())
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        for ours, ref in zip(backbone(x), reference(x)):
            torch.testing.assert_close(ours, ref)


def test_wrong_checkpoints_fail_with_a_message():
    backbone = MODELS.build(dict(type="VitzooBackbone", model_name="vz_swin_tiny_patch4_window7_224"))
    with pytest.raises(CheckpointError, match="not an MMSegmentation"):
        convert_dense_state_dict({"layers.0.blocks.0.norm1.weight": torch.ones(96)}, backbone)
    with pytest.raises(CheckpointError, match="already in VitzooBackbone's layout"):
        convert_dense_state_dict({"backbone.model.patch_embed.proj.weight": torch.ones(1)}, backbone)
    dense, _ = _authors_dense_checkpoint("rmt_t", "extra_norms.", [64, 128, 256, 512])
    with pytest.raises((CheckpointError, RuntimeError, KeyError)):
        convert_dense_state_dict(dense, backbone)
