"""Token labelling (Jiang et al., "All Tokens Matter", TLT) as RMT's authors train RMT-S*/B*/L* with it.

qhfan/RMT ``classification_token_label_release`` trains with zihangJiang/TokenLabeling's ``tlt`` package:

* **Label maps.** One file per training image, ``LABEL_DIR/<class folder>/<image name up to its first dot>.pt``
  (TLT's ``DatasetTokenLabel``), holding a tensor of shape (2, k, H, W): the top-k scores of a dense teacher
  (NFNet-F6 logits at 576 px for TLT's ``label_top5_train_nfnet``, an 18x18 grid) and their class indices,
  stored as float16 (``generate_label.py``).
* **Geometry.** TLT's train transform flips the image and its label map together, applies RandAugment, then
  takes a random resized crop and keeps its box; the training step crops the label map with RoIAlign on
  that box into a ``label_size`` x ``label_size`` grid of token targets and a 1x1 target for the class
  logits (``tlt/data/mixup.py``). Both are softmaxed over the classes and label-smoothed.
* **MixToken.** The model's forward pastes a CutMix box on the token grid from the flipped batch into the
  stem's map and pastes the token logits back (``RMT.forward_token_label``); the class target is mixed by
  the box's area.
* **Loss.** ``TokenLabelCrossEntropy``: ``cls_weight`` x soft cross-entropy of the class logits +
  ``dense_weight`` x soft cross-entropy of every token's logits.

Two details follow TLT's code rather than its intent, each behind a switch:

* TLT hands RoIAlign the crop box as (top, left, bottom, right) where RoIAlign reads (x1, y1, x2, y2), so the
  label map is cropped transposed to the image crop (its flip is horizontal, as the image's). The released
  RMT* weights were trained so; ``tlt_box_order=False`` crops the label map where the image was cropped.
* TLT's RandAugment also moves the label map for its geometric operations (rotate, shear, translate); here
  timm's RandAugment acts on the image alone, so those operations leave the label map where it was.

Everything else is timm's: RandAugment / colour jitter, tensor conversion, normalisation and random erasing
(``create_transform(separate=True)``), the random resized crop's sampling, the soft-target cross-entropy.
"""
from __future__ import annotations

import pickle
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from timm.data.transforms import RandomResizedCropAndInterpolation
from timm.loss import SoftTargetCrossEntropy
from torch.utils.data import Dataset
from torchvision.ops import roi_align
from torchvision.transforms import functional as TF

from .data import ImageFolderDataset, build_train_transform

__all__ = [
    "TokenLabelConfig", "TokenLabelDataset", "TokenLabelTarget", "TokenLabelOutput", "MixTokenModel",
    "TokenLabelCrossEntropy", "RandomResizedCropWithBox", "label_map_path", "read_label_map", "token_label_targets",
    "mix_token_box",
]

LABEL_MAP_SOURCE = (
    "TLT's NFNet-F6 maps (label_top5_train_nfnet, linked from github.com/zihangJiang/TokenLabeling's README) or "
    "maps made with its generate_label.py"
)


@dataclass(frozen=True)
class TokenLabelConfig:
    """``loss.token_label`` of a classification config (the authors' values are in rmt_token_label.py)."""

    label_dir: str  # --token-label-data: the folder of per-image label maps
    label_size: int = 7  # --token-label-size: token targets per side (the model's last-stage grid)
    dense_weight: float = 0.5  # --dense-weight
    cls_weight: float = 1.0  # --cls-weight
    mix_token: bool = True
    mix_token_beta: float = 1.0  # the box's lam ~ Beta(beta, beta)
    tlt_box_order: bool = True  # crop the label map as TLT does (transposed), see the module's docstring

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Optional["TokenLabelConfig"]:
        """The checked ``loss.token_label`` of a loaded config; None when it is not set."""
        options = cfg["loss"].get("token_label")
        if not options:
            return None
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise SystemExit(f"loss.token_label: unknown keys {unknown}; the keys are {known}")
        if not options.get("label_dir"):
            raise SystemExit(
                f"loss.token_label.label_dir is not set: point it to the token-label maps, {LABEL_MAP_SOURCE}"
            )
        token_label = cls(**options)
        mixup = cfg["mixup"]
        if mixup["mixup_alpha"] > 0 or mixup["cutmix_alpha"] > 0 or mixup["cutmix_minmax"] is not None:
            raise SystemExit(
                "loss.token_label mixes images with MixToken inside the model: set mixup.mixup_alpha=0 and "
                "mixup.cutmix_alpha=0 (the authors' main.py switches them off too)"
            )
        if cfg["loss"]["bce"]:
            raise SystemExit("loss.token_label trains with soft-target cross-entropy: set loss.bce=False")
        if token_label.label_size < 1:
            raise SystemExit(f"loss.token_label.label_size must be >= 1, got {token_label.label_size}")
        weights = (token_label.dense_weight, token_label.cls_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise SystemExit("loss.token_label: dense_weight and cls_weight must be >= 0, and not both 0")
        if token_label.mix_token and token_label.mix_token_beta <= 0:
            raise SystemExit(f"loss.token_label.mix_token_beta must be > 0, got {token_label.mix_token_beta}")
        return token_label


# --- label maps ---------------------------------------------------------------------------------------------------

def label_map_path(label_dir: str | Path, image_path: str | Path) -> Path:
    """TLT's file for an image: ``label_dir/<class folder>/<file name up to its first dot>.pt``."""
    image_path = Path(image_path)
    return Path(label_dir) / image_path.parent.name / (image_path.name.split(".")[0] + ".pt")


def read_label_map(path: str | Path, num_classes: int) -> torch.Tensor:
    """A TLT label map as float32 (2, k, H, W): top-k scores, then their class indices (no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no token-label map {path}: loss.token_label.label_dir must hold one <class>/<image>.pt per training "
            f"image, {LABEL_MAP_SOURCE}"
        )
    try:
        label_map = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise ValueError(f"{path} is not a token-label map saved with torch.save ({e})") from e
    if not isinstance(label_map, torch.Tensor) or label_map.ndim != 4 or label_map.shape[0] != 2:
        got = tuple(label_map.shape) if isinstance(label_map, torch.Tensor) else type(label_map).__name__
        raise ValueError(
            f"{path}: a TLT label map is a tensor of shape (2, k, H, W) (scores, class indices), got {got}"
        )
    label_map = label_map.float()
    indices = label_map[1]
    if (indices < 0).any() or (indices >= num_classes).any() or (indices != indices.round()).any():
        raise ValueError(
            f"{path}: the class indices (label_map[1]) must be integers in [0, {num_classes}), the training set's "
            f"classes; got {indices.min().item():g}..{indices.max().item():g}"
        )
    return label_map


# --- data ---------------------------------------------------------------------------------------------------------

class RandomResizedCropWithBox(RandomResizedCropAndInterpolation):
    """timm's random resized crop, also returning its box as TLT records it.

    The box is (top, left, height, width) as fractions of the image's height and width.
    """

    def __call__(self, img: Image.Image) -> Tuple[Image.Image, torch.Tensor]:
        top, left, height, width = self.get_params(img, self.scale, self.ratio)
        interpolation = self.interpolation
        if isinstance(interpolation, (tuple, list)):  # train_interpolation="random"
            interpolation = random.choice(interpolation)
        img_width, img_height = img.size
        box = torch.tensor([top / img_height, left / img_width, height / img_height, width / img_width])
        return TF.resized_crop(img, top, left, height, width, self.size, interpolation), box


class TokenLabelTarget(NamedTuple):
    """What a token-labelling sample carries besides the image; batches of it collate field by field."""

    label_map: torch.Tensor  # (2, k, H, W) scores and class indices, flipped with the image
    crop: torch.Tensor  # (4,) the crop's top, left, height, width as fractions of the (flipped) image

    def to(self, device: torch.device, non_blocking: bool = False) -> "TokenLabelTarget":
        return TokenLabelTarget(*(t.to(device, non_blocking=non_blocking) for t in self))


class TokenLabelDataset(Dataset):
    """The training ImageFolder with TLT's label maps: samples are (image, :class:`TokenLabelTarget`).

    The transform runs in TLT's order: a horizontal flip of the image and its label map, timm's appearance
    augmentation (RandAugment or colour jitter), the random resized crop (its box goes with the sample),
    then timm's tensor conversion, normalisation and random erasing.
    """

    def __init__(self, images: ImageFolderDataset, label_dir: str | Path, data_cfg: Mapping[str, Any],
                 eval_cfg: Mapping[str, Any]):
        self.images = images
        self.label_dir = Path(label_dir)
        if not self.label_dir.is_dir():
            raise FileNotFoundError(
                f"loss.token_label.label_dir {str(self.label_dir)!r} does not exist; it holds the token-label maps, "
                f"{LABEL_MAP_SOURCE}"
            )
        _, self.appearance, self.to_tensor = build_train_transform(data_cfg, eval_cfg, separate=True)
        self.crop = RandomResizedCropWithBox(
            eval_cfg["input_size"][1:], scale=tuple(data_cfg["scale"]), ratio=tuple(data_cfg["ratio"]),
            interpolation=data_cfg["train_interpolation"],
        )
        self.hflip = data_cfg["hflip"]
        self.num_classes = len(images.class_to_idx)
        # read one map now: a wrong folder fails before training starts, and every map must match its shape
        self.first_path = self.label_path(0)
        self.map_shape = read_label_map(self.first_path, self.num_classes).shape

    @property
    def classes(self) -> list[str]:
        return self.images.classes

    def label_path(self, index: int) -> Path:
        return label_map_path(self.label_dir, self.images.reader.filename(index, absolute=True))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, TokenLabelTarget]:
        image, _, index = self.images.load_readable(index)
        path = self.label_path(index)
        label_map = read_label_map(path, self.num_classes)
        if label_map.shape != self.map_shape:
            raise ValueError(f"{path}: label map of shape {tuple(label_map.shape)}, but {self.first_path} has "
                             f"{tuple(self.map_shape)}; every map needs the same top-k and grid")
        if self.hflip > 0 and torch.rand(1).item() < self.hflip:
            image, label_map = TF.hflip(image), label_map.flip(3)
        image, crop = self.crop(self.appearance(image))
        return self.to_tensor(image), TokenLabelTarget(label_map, crop)


def token_label_targets(label_maps: torch.Tensor, crops: torch.Tensor, num_classes: int, label_size: int,
                        smoothing: float, tlt_box_order: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """TLT's targets of a batch: the class target (B, classes) and the token targets (B, label_size**2, classes).

    The top-k maps are spread to dense (B, classes, H, W) score maps (zero elsewhere), the crop is cut out with
    RoIAlign (torchvision's, unaligned, on the box shifted by half a cell as TLT does) into label_size x
    label_size token scores (row-major) and one score for the whole crop, and each is softmaxed over the classes
    and label-smoothed.
    """
    scores, indices = label_maps[:, 0].float(), label_maps[:, 1].long()
    batch, height, width = scores.shape[0], scores.shape[-2], scores.shape[-1]
    dense = scores.new_zeros(batch, num_classes, height, width).scatter_(1, indices, scores)
    top, left, crop_height, crop_width = crops.float().unbind(1)
    if tlt_box_order:  # (top, left, bottom, right) read as (x1, y1, x2, y2), all scaled by the map's width
        corners = torch.stack([top, left, top + crop_height, left + crop_width], 1) * width
    else:
        right, bottom = left + crop_width, top + crop_height
        corners = torch.stack([left * width, top * height, right * width, bottom * height], 1)
    boxes = torch.cat([torch.arange(batch, dtype=corners.dtype, device=corners.device)[:, None], corners - 0.5], 1)
    tokens = roi_align(dense, boxes, output_size=(label_size, label_size))
    whole = roi_align(dense, boxes, output_size=(1, 1))
    off_value = smoothing / num_classes
    on_value = 1.0 - smoothing + off_value
    cls_target = whole.flatten(1).softmax(1) * on_value + off_value
    token_target = tokens.flatten(2).softmax(1).transpose(1, 2) * on_value + off_value
    return cls_target, token_target


# --- model and loss -----------------------------------------------------------------------------------------------

class TokenLabelOutput(NamedTuple):
    logits: torch.Tensor  # (B, classes)
    token_logits: torch.Tensor  # (B, N, classes), each token's logits for its own image
    mix_box: Optional[Tuple[int, int, int, int]]  # the MixToken box (top, left, bottom, right) in tokens


def mix_token_box(height: int, width: int, lam: float) -> Tuple[int, int, int, int]:
    """The authors' MixToken box on a ``height`` x ``width`` token grid: (top, left, bottom, right).

    RMT.py's ``rand_bbox``: CutMix's box with sides ``sqrt(1 - lam)`` of the grid's around a uniform centre,
    ``cut // 2`` on each side of it, clipped to the grid. timm's ``rand_bbox`` differs (``(cut + 1) // 2`` after
    the centre), so it is not used.
    """
    cut_ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_ratio), int(width * cut_ratio)
    cy, cx = np.random.randint(height), np.random.randint(width)
    top, bottom = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    left, right = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return int(top), int(left), int(bottom), int(right)


class MixTokenModel(nn.Module):
    """A token-label model's training forward with MixToken, as a module (so DistributedDataParallel wraps it).

    In training mode it draws lam ~ Beta(beta, beta) and the authors' box on the last-stage token grid
    (:func:`mix_token_box`), and returns the model's ``forward_token_label`` as a :class:`TokenLabelOutput`; in
    eval mode it returns the model's output.
    """

    def __init__(self, model: nn.Module, mix_token: bool = True, beta: float = 1.0):
        super().__init__()
        head = getattr(model, "head", None)
        if not callable(getattr(model, "forward_token_label", None)) or getattr(head, "aux_fc", None) is None:
            raise SystemExit(
                f"loss.token_label needs a model with a token-label head (forward_token_label and head.aux_fc; "
                f"{type(model).__name__} has none): use rmt_s_token_label, rmt_b_token_label or rmt_l_token_label"
            )
        self.model = model
        self.mix_token = mix_token
        self.beta = beta
        self.stride = model.feature_info[-1]["reduction"]  # input pixels per last-stage token

    def forward(self, images: torch.Tensor):
        if not self.training:
            return self.model(images)
        box = None
        if self.mix_token:
            lam = np.random.beta(self.beta, self.beta)
            box = mix_token_box(images.shape[-2] // self.stride, images.shape[-1] // self.stride, lam)
        logits, token_logits = self.model.forward_token_label(images, box)
        return TokenLabelOutput(logits, token_logits, box)


class TokenLabelCrossEntropy(nn.Module):
    """TLT's ``TokenLabelCrossEntropy`` on a :class:`TokenLabelOutput` and a batch of :class:`TokenLabelTarget`.

    ``cls_weight`` x soft cross-entropy(class logits, the crop's target, mixed with the flipped batch's by the
    MixToken box's share lam = 1 - area / tokens) + ``dense_weight`` x soft cross-entropy(every token's
    logits, its token target).
    """

    def __init__(self, token_label: TokenLabelConfig, smoothing: float):
        super().__init__()
        self.token_label = token_label
        self.smoothing = smoothing
        self.soft_cross_entropy = SoftTargetCrossEntropy()

    def forward(self, output: TokenLabelOutput, target: TokenLabelTarget) -> torch.Tensor:
        logits, token_logits, box = output
        _, num_tokens, num_classes = token_logits.shape
        label_size = self.token_label.label_size
        if num_tokens != label_size**2:
            raise ValueError(
                f"the model gives {num_tokens} tokens per image but loss.token_label.label_size={label_size} makes "
                f"{label_size**2} token targets: set label_size to the side of the model's last-stage grid "
                "(input size / 32 for RMT)"
            )
        with torch.autocast(logits.device.type, enabled=False):  # TLT builds its targets in float32
            cls_target, token_target = token_label_targets(
                target.label_map, target.crop, num_classes, label_size, self.smoothing, self.token_label.tlt_box_order
            )
        if box is not None:
            top, left, bottom, right = box
            lam = 1.0 - (bottom - top) * (right - left) / num_tokens
            cls_target = lam * cls_target + (1.0 - lam) * cls_target.flip(0)
        cls_loss = self.soft_cross_entropy(logits, cls_target)
        token_loss = self.soft_cross_entropy(token_logits.reshape(-1, num_classes),
                                             token_target.reshape(-1, num_classes))
        return self.token_label.cls_weight * cls_loss + self.token_label.dense_weight * token_loss
