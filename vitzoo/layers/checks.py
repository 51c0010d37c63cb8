"""Input validation for user-facing forwards: fail early with a message that says what to do."""
from __future__ import annotations

import torch

__all__ = ["check_image_input"]


def check_image_input(x: torch.Tensor, in_chans: int, min_size: int = 1, model_name: str = "model") -> None:
    """Check an image batch (B, C, H, W) before the first layer sees it.

    ``min_size`` is the smallest side the model can take (e.g. its patch size); integer images
    (uint8 from a decoder) are refused because the model expects normalised floats.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model_name} expects a torch.Tensor image batch, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(
            f"{model_name} expects a 4-D image batch (B, C, H, W), got shape {tuple(x.shape)}"
            + ("; add a batch dimension with x.unsqueeze(0)" if x.ndim == 3 else "")
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{model_name} expects a floating-point image, got {x.dtype}; convert it with x.float() / 255 and "
            "normalise with the mean/std in model.pretrained_cfg (timm.data.resolve_data_config does both)"
        )
    if x.shape[1] != in_chans:
        hint = " (channels-last input? use x.permute(0, 3, 1, 2))" if x.shape[-1] == in_chans else ""
        raise ValueError(
            f"{model_name} expects {in_chans} input channels, got {x.shape[1]} (shape {tuple(x.shape)}){hint}; "
            f"for other inputs create the model with in_chans={x.shape[1]}"
        )
    if min(x.shape[2:]) < min_size:
        raise ValueError(
            f"{model_name} needs images of at least {min_size}x{min_size} pixels, got {x.shape[2]}x{x.shape[3]}"
        )
