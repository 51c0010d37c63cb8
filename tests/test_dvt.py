import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from vitzoo.checkpoint import CheckpointError
from vitzoo.models.dvt import DenoisedViT, DVTDenoiser

# fixture -> vitzoo model; a DVT fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "dvt_denoiser_vitb14": "dvt_denoiser_vitb14",
    "dvt_denoiser_vitb14_224": "dvt_denoiser_vitb14_224",
}
SMALL = "dvt_vit_small_patch14_dinov2"
# Wrapper tests use a 2-block ViT-S: the wrapper's logic does not depend on depth.
SMALL_KWARGS = dict(depth=2)


def _fixture(name="dvt_denoiser_vitb14"):
    return parity_module().original_state_dict(PARITY_DIR / f"{name}.safetensors")


def _load(model_name, checkpoint, tmp_path, **kwargs):
    path = tmp_path / "ckpt.pth"
    torch.save(checkpoint, path)
    return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs).eval()


@pytest.mark.parametrize("fixture", fixture_names("dvt"))
def test_parity_user_path(fixture, tmp_path):
    # main_denoiser.py saves {"denoiser": state_dict, "optimizer": ..., "step": ...}
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path, container="denoiser")
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
    # features.pos_embed_resampled: the 37x37 table resampled to the input's grid
    assert set(fx.features) <= {"pos_embed_resampled"}, set(fx.features)
    if "pos_embed_resampled" in fx.features:
        grid = tuple(fx.input.shape[1:3])
        assert_fixture_close(model.resampled_pos_embed(grid), fx.features["pos_embed_resampled"], fx, "pos_embed")


def test_fixture_names_describe_the_image_size():
    with torch.device("meta"):
        assert timm.create_model("dvt_denoiser_vitb14").pretrained_cfg["input_size"] == (3, 518, 518)
        assert timm.create_model("dvt_denoiser_vitb14_224").pretrained_cfg["input_size"] == (3, 224, 224)


@pytest.mark.parametrize("layout", ["bare", "model", "ddp", "wrapper"])
def test_denoiser_checkpoint_layouts(layout, tmp_path):
    sd, fx = _fixture()
    checkpoint = {
        "bare": sd,
        "model": {"model": sd},
        "ddp": {"denoiser": {f"module.{k}": v for k, v in sd.items()}},
        "wrapper": {("denoiser." + k.replace("denoiser.", "block.")): v for k, v in sd.items()},
    }[layout]
    model = _load("dvt_denoiser_vitb14", checkpoint, tmp_path)
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)


def test_pos_embed_resized_on_load(tmp_path):
    sd, _ = _fixture()
    model = _load("dvt_denoiser_vitb14", {"denoiser": sd}, tmp_path, grid_size=16)
    expected = _fixture("dvt_denoiser_vitb14_224")[1].features["pos_embed_resampled"]
    torch.testing.assert_close(model.pos_embed.detach(), expected)


def test_wrapper_loads_authors_denoiser_file(tmp_path):
    """The authors' denoiser file in dvt_vit_base_patch14_dinov2 (ViT weights kept as built)."""
    sd, fx = _fixture()
    model = _load("dvt_vit_base_patch14_dinov2", {"denoiser": sd}, tmp_path, depth=1, vit_pretrained=False)
    x = torch.randn(1, 3, 70, 84)
    with torch.no_grad():
        assert_fixture_close(model.denoiser(fx.input), fx.output, fx)
        normed = model.vit.forward_intermediates(x, norm=True, intermediates_only=True)[-1]
        expected = model.denoiser(normed.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        torch.testing.assert_close(model.forward_intermediates(x, intermediates_only=True)[-1], expected)


def test_wrapper_loads_authors_full_denoiser(tmp_path):
    """Their Denoiser(vit=PretrainedViTWrapper(...)).state_dict(): vit.model.*, denoiser.*, pos_embed."""
    sd, fx = _fixture()
    vit = timm.create_model("vit_base_patch14_dinov2", depth=1, num_classes=0)
    full = {**sd, **{f"vit.model.{k}": v for k, v in vit.state_dict().items()}}
    model = _load("dvt_vit_base_patch14_dinov2", full, tmp_path, depth=1, vit_pretrained=False)
    torch.testing.assert_close(model.vit.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)
    with torch.no_grad():
        assert_fixture_close(model.denoiser(fx.input), fx.output, fx)


def test_distilled_checkpoint_loads(tmp_path):
    """main_distillation.py saves {"model": PretrainedViTWrapper.state_dict()}: model.<timm ViT keys>."""
    vit = timm.create_model("vit_base_patch14_dinov2", depth=1, num_classes=0, dynamic_img_size=True).eval()
    checkpoint = {"model": {f"model.{k}": v for k, v in vit.state_dict().items()}, "epoch": 4}
    model = _load("dvt_distilled_vit_base_patch14_dinov2", checkpoint, tmp_path, depth=1)
    assert model.denoiser is None
    x = torch.randn(1, 3, 70, 84)
    with torch.no_grad():
        expected = vit.forward_intermediates(x, norm=True, intermediates_only=True)[-1]
        torch.testing.assert_close(model.forward_intermediates(x, intermediates_only=True)[-1], expected)


def test_wrong_checkpoints_fail_clearly(tmp_path):
    sd, _ = _fixture()
    vit = timm.create_model("vit_base_patch14_dinov2", depth=1, num_classes=0)
    distilled = {"model": {f"model.{k}": v for k, v in vit.state_dict().items()}}
    with pytest.raises(CheckpointError, match="dvt_distilled_"):
        _load("dvt_vit_base_patch14_dinov2", distilled, tmp_path, depth=1, vit_pretrained=False)
    with pytest.raises(CheckpointError, match="no ViT weights"):
        _load("dvt_distilled_vit_base_patch14_dinov2", {"denoiser": sd}, tmp_path, depth=1)
    with pytest.raises(CheckpointError, match="shape mismatches"):  # a ViT-B denoiser in the ViT-S wrapper
        _load(SMALL, {"denoiser": sd}, tmp_path, vit_pretrained=False, **SMALL_KWARGS)
    with pytest.raises(CheckpointError, match="no denoiser weights"):
        _load("dvt_denoiser_vitb14", distilled, tmp_path)


def test_one_call_takes_the_vit_from_timm(tmp_path, monkeypatch):
    """pretrained=True: the denoiser from the DVT file, the ViT from timm's pretrained tag of that release."""
    create_model = timm.create_model
    vit_requests = []

    def offline_create_model(name, pretrained=False, **kwargs):
        if not name.startswith("dvt_"):
            vit_requests.append((name, pretrained))
            pretrained = False  # no network in tests
        return create_model(name, pretrained=pretrained, **kwargs)

    monkeypatch.setattr(timm, "create_model", offline_create_model)
    sd, fx = _fixture()
    model = _load("dvt_vit_base_patch14_dinov2", {"denoiser": sd}, tmp_path, depth=1)
    assert vit_requests == [("vit_base_patch14_dinov2.lvd142m", True)]
    with torch.no_grad():
        assert_fixture_close(model.denoiser(fx.input), fx.output, fx)
    vit_requests.clear()
    # the tag picks timm's weights: DINO and MAE share vit_base_patch16_224; the 37x37 table is resized to 32x32
    model = _load("dvt_vit_base_patch16_224.mae_voc", {"denoiser": sd}, tmp_path, depth=1)
    assert vit_requests == [("vit_base_patch16_224.mae", True)]
    assert model.denoiser.pos_embed.shape == (1, 32 * 32, 768)


def test_pretrained_cfgs_point_at_the_authors_hub_files():
    folders = {"voc_denoised", "voc_distilled", "imgnet_denoised", "imgnet_distilled"}
    timm_pretrained = set(timm.list_pretrained())
    tags = timm.list_pretrained("dvt_*")
    assert len(tags) == 38, len(tags)
    for name in tags:
        cfg = timm.models.get_pretrained_cfg(name)
        folder, file = cfg.hf_hub_filename.split("/")
        assert cfg.hf_hub_id == "jjiaweiyang/DVT" and folder in folders, name
        assert file.endswith(".pth") and file[: -len(".pth")] in timm_pretrained, name
        assert ("distilled" in folder) == name.startswith("dvt_distilled_"), name
        if not name.startswith("dvt_denoiser_"):
            arch, tag = name.split(".")
            vit = file[: -len(".pth")]
            assert vit == arch.replace("dvt_distilled_", "").replace("dvt_", "") + "." + tag.rsplit("_", 1)[0], name


@pytest.mark.parametrize("size", [224, 518])
def test_wrapper_dense_output(size):
    model = timm.create_model(SMALL, **SMALL_KWARGS).eval()
    feats_model = timm.create_model(
        SMALL, features_only=True, pretrained=True, pretrained_cfg_overlay=dict(state_dict=model.state_dict()),
        vit_pretrained=False, **SMALL_KWARGS,
    ).eval()
    x = torch.randn(1, 3, size, size)
    grid = size // 14
    with torch.no_grad():
        final, inter = model.forward_intermediates(x)
        normed = model.vit.forward_intermediates(x, norm=True, intermediates_only=True)
        dense = feats_model(x)
    assert final.shape == (1, 1 + grid * grid, 384)
    assert [tuple(f.shape) for f in inter] == [(1, 384, grid, grid)] * 3  # 2 blocks + the denoised map
    expected = model.denoiser(normed[-1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(inter[-1], expected)
    torch.testing.assert_close(final[:, 1:], expected.flatten(2).transpose(1, 2))
    assert len(dense) == 1 and feats_model.feature_info.reduction() == [14]
    torch.testing.assert_close(dense[0], expected)


def test_classification_is_the_vits_own():
    """With token pooling the head sees the ViT's class token; forward_features carries the denoised patches."""
    model = timm.create_model(SMALL, num_classes=5, **SMALL_KWARGS).eval()
    x = torch.randn(2, 3, 98, 70)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.vit(x))
        tokens, vit_tokens = model.forward_features(x), model.vit.forward_features(x)
    torch.testing.assert_close(tokens[:, :1], vit_tokens[:, :1])
    assert not torch.allclose(tokens[:, 1:], vit_tokens[:, 1:])


def test_forward_api():
    contract.check_forward_api(SMALL, size=(112, 112), **SMALL_KWARGS)


def test_grad_checkpointing_and_backward():
    # average pooling classifies the denoised patches, so the denoiser gets gradients too; fc_norm=False
    # keeps timm from moving the ViT's final norm (the denoiser's input norm) behind the pooling
    contract.check_grad_checkpointing_and_backward(
        SMALL, size=(112, 112), global_pool="avg", fc_norm=False, **SMALL_KWARGS
    )


def test_intermediates_match_features_only():
    contract.check_intermediates_match_features_only(
        SMALL, size=(112, 112), vit_pretrained=False, out_indices=(0, 1, 2), **SMALL_KWARGS
    )


@pytest.mark.parametrize("size", [(97, 131), (600, 800)])
def test_features_only_any_size(size):
    feats = contract.check_features(SMALL, size, reductions=(14,), **SMALL_KWARGS)
    assert feats[0].isfinite().all()


def test_block_maps_alone_skip_the_denoiser():
    model = timm.create_model(SMALL, features_only=True, out_indices=(0,), **SMALL_KWARGS).eval()
    assert model.model.denoiser is None and len(model.model.vit.blocks) == 1
    with torch.no_grad():
        assert model(torch.randn(1, 3, 56, 56))[0].shape == (1, 384, 4, 4)


def test_bad_inputs():
    denoiser = DVTDenoiser(768, 37)
    with pytest.raises(ValueError, match="width 768"):
        denoiser(torch.randn(1, 16, 16, 384))
    with pytest.raises(ValueError, match="permute"):
        denoiser(torch.randn(1, 768, 16, 16))
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        denoiser(torch.randn(256, 768))
    with pytest.raises(TypeError, match="floating-point"):
        denoiser(torch.zeros(1, 4, 4, 768, dtype=torch.int64))
    with pytest.raises(ValueError, match="patch tokens"):
        DenoisedViT(timm.create_model("resnet18", device="meta"))
    with pytest.raises(ValueError, match="forward_intermediates"):
        DenoisedViT(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 14, 14)))
    with pytest.raises(ValueError, match="features to features"):
        timm.create_model("dvt_denoiser_vitb14", features_only=True)
    model = timm.create_model(SMALL, **SMALL_KWARGS)
    with pytest.raises(ValueError, match="3 input channels"):
        model(torch.randn(1, 4, 56, 56))
    with pytest.raises(ValueError, match="at least 14x14"):
        model.forward_intermediates(torch.randn(1, 3, 8, 56))


def _denoiser_params(width, grid):
    return 12 * width * width + 13 * width + grid * grid * width  # qkv, proj, fc1, fc2, 2 LayerNorms + table


def test_all_variants_build():
    denoisers = {
        "dvt_denoiser_vits14": _denoiser_params(384, 37),
        "dvt_denoiser_vitb14": _denoiser_params(768, 37),
        "dvt_denoiser_vitb14_224": _denoiser_params(768, 37),
        "dvt_denoiser_vitl14": _denoiser_params(1024, 37),
        "dvt_denoiser_vitb16": _denoiser_params(768, 32),
    }
    assert denoisers["dvt_denoiser_vitb14"] == 8_139_264
    names = timm.list_models("dvt_*")
    assert len(names) == 23 and set(denoisers) <= set(names)
    for name in names:
        with torch.device("meta"):
            model = timm.create_model(name)
        n = sum(p.numel() for p in model.parameters())
        if name in denoisers:
            assert n == denoisers[name], (name, n)
            continue
        vit_name = name.replace("dvt_distilled_", "").replace("dvt_", "")
        with torch.device("meta"):
            vit = timm.create_model(vit_name, num_classes=model.num_classes)
        expected = sum(p.numel() for p in vit.parameters())
        if model.denoiser is not None:
            expected += _denoiser_params(vit.embed_dim, 37 if "patch14" in name else 32)
        assert n == expected, (name, n, expected)
