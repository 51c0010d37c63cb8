"""Denoising-ViT stage 1: fit a per-image noise model and read the clean ViT features off it.

Yang et al., "Denoising Vision Transformers" (ECCV 2024) model the features a ViT gives for a crop of an
image as

    raw(crop, p) = g(x) + G(p) + h(raw(crop, p))

where ``x`` is where patch ``p`` of the crop lies in the full image and ``p`` its position inside the crop:
``g`` is a neural field over image coordinates (hash grid + small MLP) holding the clean, view-independent
semantics; ``G`` a learnable map at the patch grid holding the artifacts that every view shows at the same
crop position (position-embedding noise); ``h`` a small MLP for the remaining, input-dependent residual,
trained in the second half only, under a sparsity prior. Many random resized (and flipped) crops of one image
make the three separable; ``g`` on the full-image grid is the denoised feature map.

The defaults below are those of the authors' ``main_img_denoising.py`` (the stage-1 script) and their
``SingleImageDenoiser`` / ``NeuralFeatureField`` modules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import nn
from torchvision.transforms import RandomResizedCrop
from torchvision.transforms.v2 import functional as TF

from .hash_grid import HashGridEncoding

__all__ = [
    "DenoiseConfig",
    "DenoiseResult",
    "NeuralFeatureField",
    "SingleImageNoiseModel",
    "extract_view_features",
    "fit_noise_model",
    "patch_coordinates",
]

# The authors call ``GradScaler.scale(loss).backward()`` and then ``optimizer.step()`` without unscaling, so
# their Adam sees gradients 2**10 times the loss gradient. Adam's update ignores the scale, but its L2 weight
# decay (added to the gradient) does not: backpropagating the same scaled loss keeps the decay equally weak.
AUTHORS_LOSS_SCALE = 2.0**10
_TORCH_VERSION = tuple(int(part) for part in torch.__version__.split(".")[:2])


@dataclass
class DenoiseConfig:
    """Stage-1 settings; every default is the authors' (``main_img_denoising.py`` unless noted)."""

    num_views: int = 768
    iters: int = 25000  # the script's default; the paper reports 20000
    warmup_fraction: float = 0.1  # the script warms up 2500 of 25000 iterations
    lr: float = 0.01
    min_lr: float = 0.001
    weight_decay: float = 1e-5
    points_per_step: int = 2048  # patch features sampled from all views per step
    freeze_artifacts_after: float = 0.5  # then G stops and the residual term h starts
    crop_scale: tuple[float, float] = (0.1, 0.5)
    crop_ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    residual_loss_weight: float = 0.1
    residual_sparsity_weight: float = 0.02
    field: dict = field(default_factory=dict)  # NeuralFeatureField overrides; its defaults are the authors'


@dataclass
class DenoiseResult:
    denoised: torch.Tensor  # (h, w, C): g on the full-image patch grid
    raw: torch.Tensor  # (h, w, C): the ViT features of the full image
    history: dict[str, torch.Tensor]  # per-step loss terms, (iters,) each
    model: "SingleImageNoiseModel"


class NeuralFeatureField(nn.Module):
    """g: image coordinates in [0, 1]^2 -> clean features (hash-grid encoding + 2-layer ReLU MLP).

    The defaults are the grid the authors' stage-1 script builds (it passes 16 levels; the module's own
    default is 10): 16 levels x 8 features, 2**20 entries per level, resolutions 16 -> 1024.
    """

    def __init__(
        self,
        feat_dim: int,
        n_levels: int = 16,
        n_features_per_level: int = 8,
        log2_hashmap_size: int = 20,
        base_resolution: int = 16,
        max_resolution: int = 1024,
    ):
        super().__init__()
        # Geometric growth from base to max resolution over the levels, as the authors configure tiny-cuda-nn.
        per_level_scale = (
            math.exp((math.log(max_resolution) - math.log(base_resolution)) / (n_levels - 1)) if n_levels > 1 else 1.0
        )
        self.encoding = HashGridEncoding(
            n_levels=n_levels,
            n_features_per_level=n_features_per_level,
            log2_hashmap_size=log2_hashmap_size,
            base_resolution=base_resolution,
            per_level_scale=per_level_scale,
        )
        self.mlp = Mlp(self.encoding.n_output_dims, feat_dim // 2, feat_dim, act_layer=nn.ReLU)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.encoding(coords))


class SingleImageNoiseModel(nn.Module):
    """The three terms of one image's features: field g, shared artifact map G, residual predictor h."""

    def __init__(
        self,
        feat_dim: int,
        grid_size: tuple[int, int],
        field_cfg: dict | None = None,
        residual_loss_weight: float = 0.1,
        residual_sparsity_weight: float = 0.02,
    ):
        super().__init__()
        self.grid_size = tuple(grid_size)
        self.residual_loss_weight = residual_loss_weight
        self.residual_sparsity_weight = residual_sparsity_weight
        self.field = NeuralFeatureField(feat_dim, **(field_cfg or {}))
        # G, one vector per patch position of a view, flattened row-major like the views' patch grids.
        self.shared_artifacts = nn.Parameter(torch.randn(self.grid_size[0] * self.grid_size[1], feat_dim) * 0.02)
        self.residual_predictor = nn.Sequential(
            nn.Linear(feat_dim, feat_dim // 4),
            nn.ReLU(),
            nn.Linear(feat_dim // 4, feat_dim // 4),
            nn.ReLU(),
            nn.Linear(feat_dim // 4, feat_dim),
        )
        self.residual_active = False

    def start_residual_stage(self) -> None:
        """Second half of the fit: G is frozen and h starts explaining what g + G leave."""
        self.shared_artifacts.requires_grad_(False)
        self.residual_active = True

    def forward(
        self, raw: torch.Tensor, image_coords: torch.Tensor, view_positions: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Losses for a batch of patch features ``raw`` (P, C) at ``image_coords`` (P, 2) in the full image
        and at flat patch-grid positions ``view_positions`` (P,) inside their views."""
        clean = self.field(image_coords)
        artifacts = self.shared_artifacts[view_positions]
        predicted = clean + artifacts
        residual = self.residual_predictor(raw) if self.residual_active else None
        if residual is not None:
            # The reconstruction trains g and G only; h learns from its own target (what g + G leave) below.
            predicted = predicted + residual.detach()

        patch_l2_loss = F.mse_loss(predicted, raw)
        cosine_similarity_loss = 1 - F.cosine_similarity(predicted, raw, dim=-1).mean()
        losses = {"patch_l2_loss": patch_l2_loss, "cosine_similarity_loss": cosine_similarity_loss}
        loss = patch_l2_loss + cosine_similarity_loss
        if residual is not None:
            target = (raw - clean - artifacts).detach()
            losses["residual_loss"] = self.residual_loss_weight * F.mse_loss(residual, target)
            losses["residual_sparsity_loss"] = self.residual_sparsity_weight * residual.abs().mean()
            loss = loss + losses["residual_loss"] + losses["residual_sparsity_loss"]
        losses["loss"] = loss
        return losses


def patch_coordinates(top: float, left: float, height: float, width: float, grid_size: tuple[int, int]):
    """(h, w, 2) coordinates (x, y) in the full image of a view's patches, the view spanning the normalised
    box (top, left, height, width); patches are spread evenly from edge to edge, the authors' convention."""
    ys = torch.linspace(top, top + height, grid_size[0])
    xs = torch.linspace(left, left + width, grid_size[1])
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def _random_views(image: torch.Tensor, count: int, cfg: DenoiseConfig):
    """``count`` random resized crops of ``image`` (3, H, W), each flipped with probability 1/2, and their
    boxes (top, left, height, width, flipped) normalised by the image size."""
    height, width = image.shape[-2:]
    views, boxes = [], []
    for _ in range(count):
        top, left, crop_h, crop_w = RandomResizedCrop.get_params(image, list(cfg.crop_scale), list(cfg.crop_ratio))
        view = TF.resized_crop(
            image, top, left, crop_h, crop_w, [height, width], TF.InterpolationMode.BICUBIC, antialias=True
        )
        flipped = bool(torch.rand(()) < 0.5)
        views.append(TF.horizontal_flip(view) if flipped else view)
        boxes.append((top / height, left / width, crop_h / height, crop_w / width, flipped))
    return torch.stack(views), boxes


@torch.no_grad()
def extract_view_features(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    cfg: DenoiseConfig,
    batch_size: int = 32,
):
    """ViT features of ``cfg.num_views`` random crops of ``image`` (3, H, W, normalised) plus the full image
    (last), and where each patch lies in the full image.

    ``feature_fn`` maps (B, 3, H, W) views to (B, C, h, w) patch features. Returns ``features``
    (num_views + 1, h, w, C) and ``coords`` (num_views + 1, h, w, 2) with (x, y) in [0, 1].
    """
    features, coords = [], []
    for start in range(0, cfg.num_views, batch_size):
        views, boxes = _random_views(image, min(batch_size, cfg.num_views - start), cfg)
        batch = feature_fn(views)
        grid_size = batch.shape[-2:]
        for top, left, crop_h, crop_w, flipped in boxes:
            view_coords = patch_coordinates(top, left, crop_h, crop_w, grid_size)
            coords.append(view_coords.flip(1) if flipped else view_coords)
        features.append(batch.permute(0, 2, 3, 1).float())
    full = feature_fn(image[None]).permute(0, 2, 3, 1).float()
    features.append(full)
    coords.append(patch_coordinates(0.0, 0.0, 1.0, 1.0, full.shape[1:3]))
    coords = torch.stack(coords).to(full.device)
    return torch.cat(features), coords


def _learning_rate(step: int, cfg: DenoiseConfig) -> float:
    """Linear warm-up, then half-cosine decay from ``lr`` to ``min_lr`` (the authors' schedule)."""
    warmup = int(cfg.warmup_fraction * cfg.iters)
    if step < warmup:
        return cfg.lr * step / warmup
    progress = (step - warmup) / max(cfg.iters - warmup, 1)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def fit_noise_model(
    features: torch.Tensor, coords: torch.Tensor, cfg: DenoiseConfig | None = None, log_every: int = 0
) -> DenoiseResult:
    """Fit g, G and h to ``features`` (V, h, w, C) at ``coords`` (V, h, w, 2), the full image last (as
    ``extract_view_features`` returns them); optimisation runs on ``features.device``."""
    cfg = cfg or DenoiseConfig()
    if cfg.iters < 1:
        raise ValueError(f"iters must be at least 1, got {cfg.iters}")
    num_views, grid_h, grid_w, feat_dim = features.shape
    if coords.shape != (num_views, grid_h, grid_w, 2):
        raise ValueError(f"coords must be {(num_views, grid_h, grid_w, 2)}, got {tuple(coords.shape)}")
    device = features.device
    model = SingleImageNoiseModel(
        feat_dim,
        (grid_h, grid_w),
        cfg.field,
        residual_loss_weight=cfg.residual_loss_weight,
        residual_sparsity_weight=cfg.residual_sparsity_weight,
    ).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=cfg.lr,
        betas=(0.9, 0.99),
        eps=1e-15,
        weight_decay=cfg.weight_decay,
        # The same update in one kernel: several times faster on the ~20M-entry hash table.
        fused=device.type == "cuda" or (device.type == "cpu" and _TORCH_VERSION >= (2, 4)),
    )
    flat_features = features.reshape(-1, feat_dim)
    flat_coords = coords.reshape(-1, 2).to(features.dtype)
    points_per_view = grid_h * grid_w
    residual_start = int(cfg.freeze_artifacts_after * cfg.iters) + 1

    history: dict[str, list[torch.Tensor]] = {}
    model.train()
    for step in range(cfg.iters):
        if step == residual_start:
            model.start_residual_stage()
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, cfg)
        index = torch.randint(flat_features.shape[0], (cfg.points_per_step,), device=device)
        losses = model(flat_features[index], flat_coords[index], index % points_per_view)
        optimizer.zero_grad(set_to_none=True)
        (losses["loss"] * AUTHORS_LOSS_SCALE).backward()
        optimizer.step()
        for name, value in losses.items():
            history.setdefault(name, []).append(value.detach())
        if log_every and (step % log_every == 0 or step == cfg.iters - 1):
            terms = ", ".join(f"{name} {value.item():.4f}" for name, value in losses.items())
            print(f"step {step}/{cfg.iters - 1}: {terms}, lr {optimizer.param_groups[0]['lr']:.5f}", flush=True)

    model.eval()
    with torch.no_grad():
        denoised = model.field(flat_coords[-points_per_view:]).reshape(grid_h, grid_w, feat_dim)
    # Residual terms exist only from the residual stage on: earlier steps count as zero.
    stacked = {
        name: torch.cat([torch.zeros(cfg.iters - len(values)), torch.stack(values).float().cpu()])
        for name, values in history.items()
    }
    return DenoiseResult(denoised=denoised, raw=features[-1].clone(), history=stacked, model=model)
