#!/usr/bin/env python
"""Denoise the last-layer features of a timm ViT for one image (Denoising-ViT, offline stage).

    python tools/dvt_denoise.py cat.jpg --model vit_base_patch14_dinov2.lvd142m
    python tools/dvt_denoise.py cat.jpg --model vit_small_patch14_dinov2 --no-pretrained --iters 2000 --num-views 64
    python tools/dvt_denoise.py cat.jpg --model vit_base_patch14_dinov2 --checkpoint vitb14_weights.safetensors

The image is resized to --input-size (default 518 for patch-14 models, 512 otherwise, as the authors run
it), --num-views random resized, flipped crops and the full image go through the ViT
(``forward_intermediates``: last block, final norm, prefix tokens dropped), and a per-image noise model
(neural field + shared artifact map + residual term, see ``vitzoo.denoise``) is fitted for --iters steps.

Writes to --out: ``<image>_denoised.npy`` (the clean features, float32, HWC: patch rows x patch columns x
channels, the layout the authors' stage 1 saves), ``<image>_raw.npy`` (the ViT's own features of the full
image, same layout) and ``<image>_pca.png``: the image, the raw features and the denoised features side by
side, coloured by one 3-component PCA fitted on the raw features.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from timm.data import resolve_model_data_config
from torchvision.transforms.v2 import functional as TF

from vitzoo.denoise import DenoiseConfig, extract_view_features, fit_noise_model

DEFAULT_MODEL = "vit_base_patch14_dinov2.lvd142m"
PANEL_GAP = 8  # white pixels between the panels of the PCA picture


@dataclass
class DenoiseOutputs:
    denoised_path: Path
    raw_path: Path
    picture_path: Path
    history: dict[str, torch.Tensor]


def parse_args(argv=None) -> argparse.Namespace:
    defaults = DenoiseConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", type=Path, help="image file (anything PIL reads)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"timm ViT name[.tag] (default: {DEFAULT_MODEL})")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--no-pretrained", action="store_true", help="random weights (for trying the tool offline)")
    weights.add_argument("--checkpoint", type=Path, default=None, help="load the ViT's weights from this file")
    p.add_argument("--iters", type=int, default=defaults.iters, help=f"fitting steps (default: {defaults.iters})")
    p.add_argument("--num-views", type=int, default=defaults.num_views, help=f"crops (default: {defaults.num_views})")
    p.add_argument("--input-size", type=int, nargs="+", default=None, help="H [W] (default: 518 at patch 14, else 512)")
    p.add_argument("--batch-size", type=int, default=32, help="views per ViT forward (default: 32)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("dvt_outputs"), help="output folder (default: ./dvt_outputs)")
    p.add_argument("--log-every", type=int, default=1000, help="print the losses every N steps (0: never)")
    args = p.parse_args(argv)
    for name in ("iters", "num_views", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.input_size is not None and len(args.input_size) not in (1, 2):
        p.error("--input-size takes H or H W")
    return args


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def load_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise SystemExit(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as err:
        raise SystemExit(f"cannot read {path} as an image ({err}); pass a JPEG/PNG/... file PIL can open") from None


def check_is_vit(name: str) -> tuple[int, int]:
    """Refuse models DVT does not apply to before any weights are built or downloaded; returns the patch size."""
    if not timm.is_model(name):
        raise SystemExit(f"unknown timm model {name!r}; see timm.list_models('vit_*')")
    with torch.device("meta"):
        probe = timm.create_model(name, pretrained=False)
    needed = ("forward_intermediates", "patch_embed", "num_prefix_tokens", "dynamic_img_size")
    missing = [attr for attr in needed if not hasattr(probe, attr)]
    if missing:
        raise SystemExit(
            f"{name} ({type(probe).__name__}) is not a plain ViT with a patch grid: it lacks {', '.join(missing)}. "
            "DVT denoises timm VisionTransformer / Eva models, e.g. vit_base_patch14_dinov2.lvd142m"
        )
    return tuple(probe.patch_embed.patch_size)


def create_vit(args, device: torch.device) -> torch.nn.Module:
    # dynamic_img_size resamples the position embedding to each input size, as the authors run their ViTs.
    kwargs = dict(num_classes=0, dynamic_img_size=True)
    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            raise SystemExit(f"checkpoint file not found: {args.checkpoint}")
        kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(args.checkpoint)))
    else:
        kwargs.update(pretrained=not args.no_pretrained)
    try:
        model = timm.create_model(args.model, **kwargs)
    except Exception as err:  # downloads and checkpoint readers raise many types; all need the same advice
        if not kwargs["pretrained"]:
            raise
        raise SystemExit(
            f"could not load weights for {args.model}: {type(err).__name__}: {err}\n"
            "pass the weights file with --checkpoint FILE, or --no-pretrained to try the tool with random weights"
        ) from None
    return model.to(device).eval()


def input_size(args, patch_size: tuple[int, int]) -> tuple[int, int]:
    patch_h, patch_w = patch_size
    if args.input_size is None:
        side = 518 if patch_h == 14 else 512
        size = (side, side)
    else:
        size = (args.input_size[0], args.input_size[-1])
    if size[0] % patch_h or size[1] % patch_w or min(size[0] // patch_h, size[1] // patch_w) < 2:
        raise SystemExit(
            f"--input-size {size[0]} {size[1]} must be multiples of the patch size {patch_h}x{patch_w}, "
            "at least 2 patches per side"
        )
    return size


def preprocess(img: Image.Image, size: tuple[int, int], model) -> torch.Tensor:
    """Resize (bilinear, as the authors' transforms.Resize on the PIL image) and normalise like the ViT's
    pretraining; returns (3, H, W)."""
    data_cfg = resolve_model_data_config(model)
    resized = img.resize((size[1], size[0]), Image.BILINEAR)
    pixels = TF.pil_to_tensor(resized).float() / 255
    return TF.normalize(pixels, list(data_cfg["mean"]), list(data_cfg["std"]))


def last_layer_features(model):
    def features(views: torch.Tensor) -> torch.Tensor:
        return model.forward_intermediates(views, indices=1, norm=True, output_fmt="NCHW", intermediates_only=True)[-1]

    return features


def pca_picture(img: Image.Image, raw: torch.Tensor, denoised: torch.Tensor) -> Image.Image:
    """The image, then raw and denoised (h, w, C) features in the colours of one PCA fitted on the raw ones.

    Both maps share the projection (a colour means the same direction in feature space in both); each is
    min-max scaled on its own, so the artifacts' extreme values do not wash out the denoised map.
    """
    raw_flat = raw.reshape(-1, raw.shape[-1]).double().cpu()
    mean = raw_flat.mean(0)
    basis = torch.linalg.svd(raw_flat - mean, full_matrices=False).Vh[:3].T
    panels = [np.asarray(img)]
    for feats in (raw, denoised):
        proj = (feats.reshape(-1, feats.shape[-1]).double().cpu() - mean) @ basis
        lo, hi = proj.min(0).values, proj.max(0).values
        rgb = ((proj - lo) / (hi - lo).clamp_min(1e-12)).T.reshape(1, 3, *feats.shape[:2])
        rgb = F.interpolate(rgb, size=(img.height, img.width), mode="nearest")[0].permute(1, 2, 0)
        panels.append((rgb * 255).round().to(torch.uint8).numpy())
    gap = np.full((img.height, PANEL_GAP, 3), 255, dtype=np.uint8)
    return Image.fromarray(np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1))


def main(argv=None) -> DenoiseOutputs:
    args = parse_args(argv)
    img = load_image(args.image)
    device = resolve_device(args.device)
    size = input_size(args, check_is_vit(args.model))
    torch.manual_seed(args.seed)
    model = create_vit(args, device)
    image = preprocess(img, size, model).to(device)
    cfg = DenoiseConfig(num_views=args.num_views, iters=args.iters)

    start = time.perf_counter()
    features, coords = extract_view_features(last_layer_features(model), image, cfg, batch_size=args.batch_size)
    extracted = time.perf_counter()
    print(f"{cfg.num_views + 1} views {size[0]}x{size[1]} -> {tuple(features.shape[1:])} features "
          f"in {extracted - start:.1f}s on {device}", flush=True)
    result = fit_noise_model(features, coords, cfg, log_every=args.log_every)
    fitted = time.perf_counter() - extracted
    print(f"fitted {cfg.iters} steps in {fitted:.1f}s ({cfg.iters / fitted:.1f} steps/s)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.image.stem
    outputs = DenoiseOutputs(
        denoised_path=args.out / f"{stem}_denoised.npy",
        raw_path=args.out / f"{stem}_raw.npy",
        picture_path=args.out / f"{stem}_pca.png",
        history=result.history,
    )
    np.save(outputs.denoised_path, result.denoised.float().cpu().numpy())
    np.save(outputs.raw_path, result.raw.float().cpu().numpy())
    pca_picture(img, result.raw, result.denoised).save(outputs.picture_path)
    print(f"wrote {outputs.denoised_path}, {outputs.raw_path} and {outputs.picture_path}")
    return outputs


if __name__ == "__main__":
    main()
