"""The classification configs (configs/classification): every one loads, names a registered model that builds with
its settings, and the recipes carry the authors' numbers."""
from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

# importing vitzoo (here through vitzoo.classification) registers its models with timm
from vitzoo.classification.config import is_classification_config, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "classification"
CONFIGS = sorted(CONFIG_DIR.glob("*.py"))
# the papers' recipes for one model each; the quickstart configs are the README's demos
RECIPE_CONFIGS = [p for p in CONFIGS if not p.name.startswith("quickstart_")]
IN1K_TRAIN_IMAGES = 1281167


def _load(name: str) -> dict:
    return load_config(CONFIG_DIR / f"{name}.py")


def test_every_registered_family_has_recipes():
    assert len(RECIPE_CONFIGS) >= 60
    families = {p.name.split("_")[0] for p in RECIPE_CONFIGS}
    assert families == {"vz", "hornet", "rmt", "slab", "soft", "sret", "vit", "sparseformer"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_its_model_builds(path):
    cfg = load_config(path)
    assert is_classification_config(path), f"{path.name}: set task = 'classification' in it or a _base_ file"
    model_cfg = cfg["model"]
    assert model_cfg["name"] in timm.list_models(model_cfg["name"])
    with torch.device("meta"):
        model = timm.create_model(
            model_cfg["name"],
            drop_rate=model_cfg["drop_rate"],
            drop_path_rate=model_cfg["drop_path_rate"],
            **model_cfg["kwargs"],
        )
    assert model.num_classes == 1000
    if path in RECIPE_CONFIGS:  # the quickstart demos train small images on purpose
        assert model.pretrained_cfg["input_size"][1:] == (cfg["data"]["img_size"],) * 2, (
            "the recipe trains at another size than the model is registered for"
        )
    if model_cfg["norm_schedule"] is not None:
        assert set(model_cfg["norm_schedule"]) == {"warmup_epochs", "total_epochs"}


@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=lambda p: p.stem)
def test_recipe_states_its_source(path):
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith("# ") and "top-1" in first_line
    assert path.stem.endswith("_in1k") or "_ft" in path.stem
    assert (load_config(path)["model"]["pretrained"] is True) == ("_ft" in path.stem)


def test_swin_tiny_is_the_authors_recipe():
    cfg = _load("vz_swin_tiny_patch4_window7_224_in1k")
    assert cfg["model"]["drop_path_rate"] == 0.2
    assert (cfg["optimizer"]["lr"], cfg["optimizer"]["base_batch_size"]) == (5e-4, 512)
    assert cfg["optimizer"]["weight_decay"] == 0.05
    assert (cfg["scheduler"]["epochs"], cfg["scheduler"]["warmup_epochs"]) == (300, 20)
    assert (cfg["scheduler"]["warmup_lr"], cfg["scheduler"]["min_lr"]) == (5e-7, 5e-6)
    assert cfg["train"]["clip_grad"] == 5.0
    assert cfg["data"]["crop_pct"] == 0.875 and cfg["data"]["repeated_aug"] == 0
    assert (cfg["mixup"]["mixup_alpha"], cfg["mixup"]["cutmix_alpha"]) == (0.8, 1.0)
    assert cfg["loss"]["label_smoothing"] == 0.1
    assert cfg["ema"]["enabled"] is False


def test_swin_drop_path_and_finetune():
    assert _load("vz_swin_small_patch4_window7_224_in1k")["model"]["drop_path_rate"] == 0.3
    base = _load("vz_swin_base_patch4_window7_224_in1k")
    assert base["model"]["drop_path_rate"] == 0.5
    assert base["data"]["batch_size"] * base["train"]["grad_accum_steps"] == 128
    ft = _load("vz_swin_base_patch4_window12_384_ft384")
    assert ft["data"]["img_size"] == 384 and ft["data"]["crop_pct"] == 1.0
    assert (ft["optimizer"]["lr"], ft["optimizer"]["weight_decay"]) == (2e-5, 1e-8)
    assert (ft["scheduler"]["epochs"], ft["scheduler"]["warmup_epochs"], ft["scheduler"]["min_lr"]) == (30, 5, 2e-7)
    assert ft["model"]["kwargs"]["pretrained_cfg_overlay"]["url"].endswith("/swin_base_patch4_window7_224.pth")


def test_tnt_and_pyramid_tnt():
    tnt = _load("vz_tnt_s_patch16_224_in1k")
    assert (tnt["optimizer"]["lr"], tnt["optimizer"]["base_batch_size"]) == (1e-3, 1024)
    assert (tnt["scheduler"]["warmup_epochs"], tnt["scheduler"]["cooldown_epochs"]) == (5, 10)
    assert tnt["data"]["repeated_aug"] == 3 and tnt["data"]["train_interpolation"] == "random"
    assert tnt["data"]["mean"] == (0.5, 0.5, 0.5) and tnt["data"]["crop_pct"] == 0.9
    assert (tnt["ema"]["enabled"], tnt["ema"]["decay"]) == (True, 0.99996)
    ptnt = _load("vz_pyramid_tnt_ti_in1k")
    assert ptnt["scheduler"]["warmup_epochs"] == 20 and ptnt["data"]["img_size"] == 192


def test_hornet_per_model_settings():
    tiny = _load("hornet_tiny_7x7_in1k")
    assert (tiny["optimizer"]["lr"], tiny["optimizer"]["base_batch_size"]) == (4e-3, 4096)
    assert (tiny["model"]["drop_path_rate"], tiny["train"]["clip_grad"]) == (0.2, 100.0)
    assert (tiny["scheduler"]["warmup_lr"], tiny["scheduler"]["min_lr"]) == (0.0, 1e-6)
    assert tiny["ema"]["decay"] == 0.9999
    small_gf = _load("hornet_small_gf_in1k")
    assert small_gf["data"]["auto_augment"] == "rand-m12-mstd0.5-inc1"
    assert (small_gf["train"]["clip_grad"], small_gf["train"]["grad_accum_steps"]) == (1.0, 2)
    assert _load("hornet_base_gf_in1k")["data"]["auto_augment"] == "rand-m15-mstd0.5-inc1"


def test_rmt_recipes():
    rmt_t = _load("rmt_t_in1k")
    assert rmt_t["optimizer"]["lr"] == pytest.approx(2e-3) and rmt_t["optimizer"]["base_batch_size"] == 2048
    assert rmt_t["ema"]["decay"] == pytest.approx(0.99996**4)
    assert rmt_t["data"]["repeated_aug"] == 3 and rmt_t["loss"]["token_label"] is None
    assert [_load(f"rmt_{v}_in1k")["model"]["drop_path_rate"] for v in "tsbl"] == [0.1, 0.15, 0.4, 0.5]
    token_label = _load("rmt_s_token_label_in1k")
    assert token_label["model"]["drop_path_rate"] == 0.15
    assert (token_label["mixup"]["mixup_alpha"], token_label["mixup"]["cutmix_alpha"]) == (0.0, 0.0)
    assert token_label["data"]["repeated_aug"] == 0 and token_label["data"]["crop_pct"] == 0.96
    tl = token_label["loss"]["token_label"]
    assert (tl["label_size"], tl["dense_weight"], tl["cls_weight"]) == (7, 0.5, 1.0)
    assert (tl["mix_token"], tl["mix_token_beta"], tl["tlt_box_order"]) == (True, 1.0, True)


@pytest.mark.parametrize(
    "name, steps, total_batch",
    [
        ("slab_deit_tiny", 60000, 1024),
        ("slab_deit_small_prepbn", 300000, 1024),
        ("slab_pvt_small", 300000, 512),
        ("slab_pvt_medium_prepbn", 300000, 1024),
        ("slab_swin_tiny", 60000, 1024),
        ("slab_swin_base", 60000, 512),
        ("slab_cswin_tiny", 120000, 2048),
    ],
)
def test_slab_norm_schedule_is_the_authors_step_count(name, steps, total_batch):
    cfg = _load(f"{name}_in1k")
    assert cfg["data"]["batch_size"] * 8 == total_batch
    schedule = cfg["model"]["norm_schedule"]
    assert schedule["warmup_epochs"] == 0
    assert schedule["total_epochs"] * (IN1K_TRAIN_IMAGES // total_batch) == pytest.approx(steps)


def test_slab_recipes():
    assert _load("slab_cswin_tiny_in1k")["model"]["norm_schedule"]["total_epochs"] == pytest.approx(192.0)
    for plain_repbn in ("slab_deit_tiny_prepbn", "slab_swin_tiny_prepbn"):
        assert _load(f"{plain_repbn}_in1k")["model"]["norm_schedule"] is None
    swin = _load("slab_swin_small_in1k")
    assert (swin["scheduler"]["warmup_epochs"], swin["scheduler"]["cooldown_epochs"]) == (20, 0)
    assert swin["train"]["clip_grad"] == 5.0
    pvt = _load("slab_pvt_medium_in1k")
    assert (pvt["scheduler"]["warmup_epochs"], pvt["scheduler"]["cooldown_epochs"]) == (5, 10)
    assert (pvt["model"]["drop_path_rate"], pvt["train"]["clip_grad"]) == (0.3, 1.0)
    assert _load("slab_pvt_small_in1k")["train"]["clip_grad"] is None


def test_soft_sret_vit_resnas_sparseformer():
    soft = _load("soft_medium_in1k")
    assert (soft["optimizer"]["lr"], soft["optimizer"]["base_batch_size"]) == (3.5e-4, 1024)
    assert soft["data"]["batch_size"] == 32 and soft["train"]["clip_grad"] == 1.0
    assert (soft["scheduler"]["warmup_epochs"], soft["scheduler"]["min_lr"]) == (10, 5e-5)
    sret = _load("sret_s_in1k")
    assert sret["optimizer"]["lr"] == pytest.approx(1e-3) and sret["optimizer"]["base_batch_size"] == 1024
    assert (sret["data"]["repeated_aug"], sret["ema"]["decay"]) == (3, 0.99996)
    resnas = _load("vit_resnas_tiny_in1k")
    assert (resnas["model"]["drop_path_rate"], resnas["data"]["repeated_aug"]) == (0.2, 0)
    ft = _load("vit_resnas_medium_392_ft392")
    assert (ft["data"]["img_size"], ft["model"]["drop_path_rate"], ft["scheduler"]["epochs"]) == (392, 0.75, 30)
    assert (ft["optimizer"]["lr"], ft["scheduler"]["min_lr"]) == (2.5e-6, 5e-6)
    sparseformer = _load("sparseformer_small_in1k")
    assert (sparseformer["model"]["drop_path_rate"], sparseformer["data"]["repeated_aug"]) == (0.3, 3)
    assert (sparseformer["ema"]["enabled"], sparseformer["ema"]["decay"]) == (True, 0.9999)
