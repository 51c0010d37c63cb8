import argparse
import functools

import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from vitzoo.checkpoint import CheckpointError

# fixture -> vitzoo model; a ViT-ResNAS fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "vit_resnas_tiny": "vit_resnas_tiny",
    "vit_resnas_small": "vit_resnas_small",
    "vit_resnas_medium": "vit_resnas_medium",
}
TINY = "vit_resnas_tiny"


@pytest.mark.parametrize("fixture", fixture_names("vit_resnas"))
def test_parity_user_path(fixture, tmp_path):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
        feats = model.forward_intermediates(fx.input, intermediates_only=True, return_prefix_tokens=True)
    # features.stage{i}: tokens (B, 1 + H*W, C) after the last block of stage i, cls token first
    assert len(feats) == len(fx.features) == 3
    for i, (patch_map, cls_token) in enumerate(feats):
        tokens = torch.cat((cls_token, patch_map.flatten(2).transpose(1, 2)), dim=1)
        assert_fixture_close(tokens, fx.features[f"stage{i}"], fx, f"features.stage{i}")


class _TrainerState:
    """Stands for any object besides argparse.Namespace that a training script might pickle."""


@functools.lru_cache(maxsize=1)
def _tiny_fixture():
    """(authors' state dict, fixture) of ViT-ResNAS-Tiny; shared, so tests must not modify it."""
    return parity_module().original_state_dict(PARITY_DIR / "vit_resnas_tiny.safetensors")


def test_authors_training_checkpoint_prefers_ema(tmp_path):
    """The authors' main.py saves model, optimizer, lr_scheduler, epoch, args (a Namespace) and model_ema;
    the EMA weights are loaded."""
    sd, fx = _tiny_fixture()
    args = argparse.Namespace(model="flexible_vit_sr_patch14_224_patch_output", drop_path=0.2, model_ema=True)
    checkpoint = {
        "model": {k: torch.zeros_like(v) for k, v in sd.items()},
        "optimizer": torch.optim.AdamW(torch.nn.Linear(2, 2).parameters()).state_dict(),
        "epoch": 299,
        "args": args,
        "model_ema": sd,
    }
    path = tmp_path / "best_ema_checkpoint.pth.tar"
    torch.save(checkpoint, path)
    model = timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)


def test_checkpoint_pickling_other_objects_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"model": {"tokens": torch.zeros(1, 1, 176)}, "trainer": _TrainerState()}, path)
    with pytest.raises(CheckpointError, match="extract the weights once"):
        timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_position_embeddings_resized_on_load_and_at_run_time(tmp_path):
    """A 224 checkpoint loads into a 280 model with the authors' fine-tuning rule (bicubic, no antialias),
    and a 224 model run on a 280 image resizes the same way on the fly."""
    sd, _ = _tiny_fixture()
    path = tmp_path / "tiny.pth"
    torch.save({"model": sd}, path)
    at_280 = timm.create_model(TINY, img_size=280, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    at_224 = timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()

    def authors_resize(table, size):
        side = int(table.shape[1] ** 0.5)
        grid = table.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)
        return grid.permute(0, 2, 3, 1).flatten(1, 2)

    first = torch.cat((sd["pos_embed"][:, :1], authors_resize(sd["pos_embed"][:, 1:], 20)), dim=1)
    torch.testing.assert_close(at_280.pos_embed, first)
    torch.testing.assert_close(at_280.stages[1].downsample.pos_embed, authors_resize(sd["blocks.5.pos_embed"], 10))
    torch.testing.assert_close(at_280.stages[2].downsample.pos_embed, authors_resize(sd["blocks.12.pos_embed"], 5))
    x = torch.randn(1, 3, 280, 280)
    with torch.no_grad():
        torch.testing.assert_close(at_224(x), at_280(x), rtol=1e-5, atol=1e-5)


def test_spatial_reduction_skip_path():
    """With the main path silenced the block is 2x2 average pooling plus a zero channel pad (cls token
    passed through); an odd map keeps its last row and column, averaged on their own."""
    model = timm.create_model(TINY, pretrained=False)
    reduction = model.stages[1].downsample
    for module in (reduction.conv, reduction.cls_proj):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)
    nn.init.zeros_(reduction.pos_embed)
    assert not any(name.startswith("pad") for name, _ in reduction.named_parameters())
    x = torch.randn(2, 1 + 5 * 7, 176)
    with torch.no_grad():
        out, grid = reduction(x, (5, 7))
    assert grid == (3, 4) and out.shape == (2, 1 + 12, 352)
    patch_map = x[:, 1:].transpose(1, 2).reshape(2, 176, 5, 7)
    torch.testing.assert_close(out[:, 1, :176], patch_map[:, :, 0:2, 0:2].mean(dim=(-2, -1)))
    torch.testing.assert_close(out[:, -1, :176], patch_map[:, :, 4, 6])
    torch.testing.assert_close(out[:, 0, :176], x[:, 0])
    assert (out[..., 176:] == 0).all()


class TestContract(contract.ContractTests):
    model_name = TINY
    size = (112, 112)


@pytest.mark.parametrize("size", [(512, 512), (600, 800), (97, 131)])
def test_features_only_any_size(size):
    contract.check_features(TINY, size, reductions=(14, 28, 56))


def test_bad_inputs():
    contract.check_bad_inputs(TINY, min_size=14)


def test_other_variant_checkpoint_fails():
    with torch.device("meta"):
        small = timm.create_model("vit_resnas_small").state_dict()
    with pytest.raises(CheckpointError, match="vit_resnas_tiny"), torch.device("meta"):
        timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(state_dict=small))


def test_weights_need_manual_download_and_are_non_commercial():
    with torch.device("meta"):
        model = timm.create_model("vit_resnas_medium_392")
    assert model.pretrained_cfg["license"] == "cc-by-nc-4.0"
    assert model.pretrained_cfg["input_size"] == (3, 392, 392)
    with pytest.raises(RuntimeError, match="dropbox.com"):
        timm.create_model("vit_resnas_tiny", pretrained=True)


def test_all_variants_build():
    """Parameter counts equal the authors' code (flexible_vit_sr_patch14_{224,280,336,392}_patch_output with
    the searched network_def) less its training-only patch_head."""
    expected = {
        "vit_resnas_tiny": 40_793_552,
        "vit_resnas_small": 63_724_108,
        "vit_resnas_medium": 96_442_672,
        "vit_resnas_medium_280": 96_508_192,
        "vit_resnas_medium_336": 96_588_272,
        "vit_resnas_medium_392": 96_682_912,
    }
    contract.check_param_counts(expected, "vit_resnas*")
