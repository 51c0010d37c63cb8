"""HorNet, exact to raoyongming/HorNet (``hornet.py``), ready for dense inputs.

Paper: "HorNet: Efficient High-Order Spatial Interactions with Recursive Gated Convolutions"
(Rao et al., NeurIPS 2022).

A ConvNeXt-shaped hierarchy (4x4 stem, 2x2 downsampling, four stages) whose token mixer is the
recursive gated convolution gnConv: one projection makes a gate and a stack of feature maps, a spatial
filter (7x7 depthwise conv, or a global filter in the FFT domain) mixes them, and ``order`` gated
products, each followed by a 1x1 projection that doubles the width, build interactions of that order.

Differences from the authors' classification code, none of which change its outputs at input sizes that
are multiples of 32:
* Any input size: the image is padded to a multiple of 4 and odd maps are padded before each 2x2
  downsampling (bottom/right zeros), so stage ``i`` has ceil(H / 2**(i + 2)) rows; the authors' strided
  convs drop the last row/column instead.
* The layout is timm's ConvNeXt layout (``stem``, ``stages.i.downsample``, ``stages.i.blocks.j``,
  ``mlp.fc1/fc2``, ``ls1/ls2``, ``head.norm``, ``head.fc``); ``checkpoint_filter_fn`` converts the
  authors' keys.
* The global filters' stored size follows ``img_size`` (14x8 / 7x4 at 224, 24x13 / 12x7 at 384, as the
  authors' factories fix it); at other map sizes the filter is resized at run time exactly as the authors
  do, and a checkpoint loaded into a model of another ``img_size`` is resized the same way once.
"""
from __future__ import annotations

import re
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import (
    DropPath,
    LayerNorm2d,
    LayerScale,
    LayerScale2d,
    Mlp,
    NormMlpClassifierHead,
    calculate_drop_path_rates,
    to_2tuple,
    trunc_normal_,
)
from timm.models import register_model
from timm.models._features import feature_take_indices

from ..checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict
from ..hub import NO_WEIGHTS_NOTE, download_url
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin
from ._staged import StagedBackboneMixin

__all__ = ["HorNet", "checkpoint_filter_fn", "resize_global_filter", "in1k_class_indices", "in22k_head_to_in1k"]

STEM_STRIDE = 4
LN_EPS = 1e-6  # every LayerNorm of the authors' model


def resize_global_filter(weight: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Resize a (C, h, w, 2) half-spectrum filter (real, imag last) to ``size`` as the authors do.

    Bilinear with ``align_corners=True`` over (h, w), real and imaginary parts as two channels; the
    same resize runs in their forward (any map size) and in their checkpoint loading.
    """
    if tuple(weight.shape[1:3]) == tuple(size):
        return weight
    resized = F.interpolate(weight.permute(3, 0, 1, 2), size=tuple(size), mode="bilinear", align_corners=True)
    return resized.permute(1, 2, 3, 0)


def _half_spectrum_size(map_size: Tuple[int, int]) -> Tuple[int, int]:
    """Size of ``rfft2`` of a (H, W) map: the last axis keeps W // 2 + 1 frequencies."""
    return map_size[0], map_size[1] // 2 + 1


class GlobalLocalFilter(nn.Module):
    """Half the channels through a 3x3 depthwise conv, half through a learned global (FFT) filter.

    The two halves are interleaved channel-wise (local i -> channel 2i, global i -> 2i + 1), between a
    channels-first LayerNorm before and after.
    """

    def __init__(self, dim: int, filter_size: Tuple[int, int]):
        super().__init__()
        half = dim // 2
        self.pre_norm = LayerNorm2d(dim, eps=LN_EPS)
        self.dw = nn.Conv2d(half, half, kernel_size=3, padding=1, groups=half, bias=False)
        self.complex_weight = nn.Parameter(torch.zeros(half, *filter_size, 2))
        trunc_normal_(self.complex_weight, std=0.02)
        self.post_norm = LayerNorm2d(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_norm(x)
        local, glob = x.chunk(2, dim=1)
        local = self.dw(local)
        B, C, H, W = glob.shape
        # the FFT runs in (at least) float32, as in the authors' code; the result returns to x's dtype
        spectrum = torch.fft.rfft2(glob.to(torch.promote_types(glob.dtype, torch.float32)), norm="ortho")
        weight = resize_global_filter(self.complex_weight, spectrum.shape[-2:]).to(spectrum.real.dtype)
        glob = torch.fft.irfft2(spectrum * torch.view_as_complex(weight.contiguous()), s=(H, W), norm="ortho")
        x = torch.stack((local, glob.to(local.dtype)), dim=2).reshape(B, 2 * C, H, W)
        return self.post_norm(x)


class GnConv(nn.Module):
    """Recursive gated convolution of the given order (g^n Conv).

    Widths double at each step: dims = (C / 2**(order-1), ..., C / 2, C).  ``proj_in`` gives the first
    gate (dims[0] channels) and sum(dims) channels for the spatial filter, whose output (times ``scale``)
    is split into one multiplier per step.
    """

    def __init__(self, dim: int, order: int, scale: float = 1.0, filter_size: Optional[Tuple[int, int]] = None):
        super().__init__()
        self.dims = [dim // 2**i for i in reversed(range(order))]
        self.scale = scale
        self.proj_in = nn.Conv2d(dim, 2 * dim, kernel_size=1)
        spatial_dim = sum(self.dims)
        if filter_size is None:
            self.spatial = nn.Conv2d(spatial_dim, spatial_dim, kernel_size=7, padding=3, groups=spatial_dim)
        else:
            self.spatial = GlobalLocalFilter(spatial_dim, filter_size)
        self.pws = nn.ModuleList(nn.Conv2d(self.dims[i], self.dims[i + 1], kernel_size=1) for i in range(order - 1))
        self.proj_out = nn.Conv2d(dim, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, features = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        multipliers = torch.split(self.spatial(features) * self.scale, self.dims, dim=1)
        x = gate * multipliers[0]
        for pw, multiplier in zip(self.pws, multipliers[1:]):
            x = pw(x) * multiplier
        return self.proj_out(x)


class HorBlock(nn.Module):
    """Pre-norm gnConv (channels-first), then a channels-last MLP; both residual with layer scale."""

    def __init__(
        self,
        dim: int,
        order: int,
        gnconv_scale: float,
        filter_size: Optional[Tuple[int, int]] = None,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        ls_init_value: Optional[float] = 1e-6,
    ):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=LN_EPS)
        self.gnconv = GnConv(dim, order, gnconv_scale, filter_size)
        self.ls1 = LayerScale2d(dim, ls_init_value) if ls_init_value else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(mlp_ratio * dim), act_layer=nn.GELU)
        self.ls2 = LayerScale(dim, ls_init_value) if ls_init_value else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.gnconv(self.norm1(x))))
        mlp = self.ls2(self.mlp(self.norm2(x.permute(0, 2, 3, 1))))
        return x + self.drop_path2(mlp.permute(0, 3, 1, 2))


class Stem(nn.Module):
    """4x4 stride-4 conv + LayerNorm; the image is zero-padded (bottom/right) to a multiple of 4."""

    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=STEM_STRIDE, stride=STEM_STRIDE)
        self.norm = LayerNorm2d(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        x = F.pad(x, (0, (-W) % STEM_STRIDE, 0, (-H) % STEM_STRIDE))
        return self.norm(self.conv(x))


class Downsample(nn.Module):
    """LayerNorm + 2x2 stride-2 conv; an odd side is zero-padded after the norm (as the conv's own padding)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.norm = LayerNorm2d(in_dim, eps=LN_EPS)
        self.conv = nn.Conv2d(in_dim, out_dim, kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        H, W = x.shape[-2:]
        return self.conv(F.pad(x, (0, W % 2, 0, H % 2)))


class HorNetStage(nn.Module):
    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        order: int,
        gnconv_scale: float,
        filter_size: Optional[Tuple[int, int]],
        drop_path: Sequence[float],
        ls_init_value: Optional[float],
        mlp_ratio: float,
        downsample: bool,
    ):
        super().__init__()
        self.downsample = Downsample(in_dim, dim) if downsample else nn.Identity()
        self.blocks = nn.Sequential(
            *(
                HorBlock(dim, order, gnconv_scale, filter_size, mlp_ratio, drop_path[i], ls_init_value)
                for i in range(depth)
            )
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        return run_blocks(self.blocks, x, grad_checkpointing=self.grad_checkpointing)


class HorNet(HeadModuleMixin, StagedBackboneMixin, nn.Module):
    """HorNet: gnConv blocks in a 4-stage hierarchy; features are NCHW throughout.

    Its only final norm (``head.norm``) acts on the pooled vector, so intermediates have no norm to apply.
    """

    stage_fmt = "NCHW"

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 64,
        depths: Sequence[int] = (2, 3, 18, 2),
        orders: Sequence[int] = (2, 3, 4, 5),
        gnconv_scale: float = 1.0 / 3.0,
        global_filter_stages: Sequence[int] = (),
        mlp_ratio: float = 4.0,
        ls_init_value: Optional[float] = 1e-6,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        if len(depths) != len(orders):
            raise ValueError(f"depths {depths} and orders {orders} need one entry per stage")
        # img_size is the training resolution: it fixes the stored size of the global filters only.
        self.img_size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        dims = [embed_dim * 2**i for i in range(len(depths))]
        self.num_features = self.head_hidden_size = dims[-1]

        self.stem = Stem(in_chans, dims[0])
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        self.stages = nn.Sequential()
        self.feature_info = []
        for i, depth in enumerate(depths):
            stride = STEM_STRIDE * 2**i
            map_size = tuple(-(-s // stride) for s in self.img_size)
            self.stages.append(
                HorNetStage(
                    dims[i - 1] if i else dims[0],
                    dims[i],
                    depth,
                    orders[i],
                    gnconv_scale,
                    _half_spectrum_size(map_size) if i in global_filter_stages else None,
                    dpr[i],
                    ls_init_value,
                    mlp_ratio,
                    downsample=i > 0,
                )
            )
            self.feature_info.append(dict(num_chs=dims[i], reduction=stride, module=f"stages.{i}"))
        # the authors' final norm acts on the pooled vector: pool -> LayerNorm -> linear
        self.head = NormMlpClassifierHead(
            self.num_features,
            num_classes,
            pool_type=global_pool,
            drop_rate=drop_rate,
            norm_layer=partial(LayerNorm2d, eps=LN_EPS),
        )
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        # the authors decay every weight except 1-D ones and biases, which timm's optimizer factory skips itself
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^head\.norm", (99999,)),
            ],
        )

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None, reset_other: bool = False) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool, reset_other=reset_other)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        check_image_input(x, self.in_chans, STEM_STRIDE, type(self).__name__)
        return self.stem(x)

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[: max_index + 1]
        if prune_end:
            # the features now end at the last kept stage; the head is sized for the final one, so it goes too
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or prune_end:
            self.num_classes = 0
            self.head.reset(0, "", reset_other=True, in_features=self.num_features)
        elif prune_norm:
            self.head.norm = nn.Identity()
        return take_indices


# authors' key -> vitzoo key, applied in order
_AUTHORS_TO_VITZOO = (
    (r"^downsample_layers\.0\.0\.", "stem.conv."),
    (r"^downsample_layers\.0\.1\.", "stem.norm."),
    (r"^downsample_layers\.(\d+)\.0\.", r"stages.\1.downsample.norm."),
    (r"^downsample_layers\.(\d+)\.1\.", r"stages.\1.downsample.conv."),
    (r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."),
    (r"\.gnconv\.dwconv\.", ".gnconv.spatial."),
    (r"\.pwconv(\d)\.", r".mlp.fc\1."),
    (r"\.gamma(\d)$", r".ls\1.gamma"),
    (r"^norm\.", "head.norm."),
    (r"^head\.(weight|bias)$", r"head.fc.\1"),
)


def checkpoint_filter_fn(state_dict, model: HorNet) -> dict:
    """Convert the authors' (or vitzoo's) HorNet checkpoint to the model's layout.

    Accepts every layout of the authors' training script (``model``, ``model_ema``, ``module.``...);
    global filters of another size (a checkpoint trained at another ``img_size``) are resized as the
    authors' fine-tuning and detection/segmentation loaders do.
    """
    state_dict = unwrap_state_dict(state_dict)
    authors_layout = "downsample_layers.0.0.weight" in state_dict
    expected = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if authors_layout:
            for pattern, replacement in _AUTHORS_TO_VITZOO:
                key = re.sub(pattern, replacement, key)
        if key.endswith("complex_weight") and key in expected:
            target = expected[key].shape
            # only the spatial size follows img_size; another width is another variant (reported by the builder)
            if value.ndim == 4 and value.shape[0] == target[0] and value.shape[1:3] != target[1:3]:
                value = resize_global_filter(value, target[1:3])
        out[key] = value
    return out


# The authors' map from the 1000 ImageNet-1k classes to rows of their 22k heads (main.py uses it to start
# 1k fine-tuning from a 22k checkpoint).  Pinned to the commit the parity fixtures come from.
IN1K_CLASS_MAP_URL = (
    "https://raw.githubusercontent.com/raoyongming/HorNet/ac9e21058935f1cf8e27fcca72bbf598fa691d69/in1k_to_21k_map.pth"
)
IN1K_CLASS_MAP_SHA256 = "867856beb3d429a70e1b782e74384995e7f52efd4051e86672eb6f807161fe39"
IN22K_NUM_CLASSES = 10459


def in1k_class_indices(file: Optional[str] = None) -> torch.Tensor:
    """The rows of a HorNet 22k head that are the ImageNet-1k classes, in ImageNet-1k order.

    Reads the authors' ``in1k_to_21k_map.pth`` (downloaded once, checked by SHA-256, unless ``file``
    gives a local copy).  ``logits_22k[:, in1k_class_indices()]`` are ImageNet-1k logits.
    """
    path = file or download_url(IN1K_CLASS_MAP_URL, sha256=IN1K_CLASS_MAP_SHA256)
    indices = load_checkpoint_file(path)
    if not isinstance(indices, torch.Tensor) or indices.shape != (1000,) or indices.is_floating_point():
        raise CheckpointError(f"{path} is not the authors' in1k_to_21k_map.pth (1000 integer class indices)")
    return indices.long()


def in22k_head_to_in1k(model: HorNet, indices: Optional[torch.Tensor] = None) -> HorNet:
    """Cut a 22k-class HorNet head down to the 1000 ImageNet-1k classes, in place.

    The authors do the same to initialise 1k fine-tuning from their 22k models: the 1k classifier is
    the 22k classifier's rows ``in1k_to_21k_map``.  ``indices`` defaults to :func:`in1k_class_indices`.
    """
    fc = model.get_classifier()
    if not isinstance(fc, nn.Linear) or fc.out_features != IN22K_NUM_CLASSES:
        raise ValueError(
            f"in22k_head_to_in1k needs a model with the {IN22K_NUM_CLASSES}-class head of the authors' 22k "
            f"checkpoints (e.g. timm.create_model('hornet_large_gf.in22k', pretrained=True)), got {fc}"
        )
    indices = in1k_class_indices() if indices is None else indices
    in1k_fc = nn.Linear(fc.in_features, len(indices), device=fc.weight.device, dtype=fc.weight.dtype)
    with torch.no_grad():
        in1k_fc.weight.copy_(fc.weight[indices])
        in1k_fc.bias.copy_(fc.bias[indices])
    model.head.fc = in1k_fc
    model.num_classes = len(indices)
    return model


def _create_hornet(variant: str, pretrained: bool = False, **kwargs) -> HorNet:
    return build_model(HorNet, variant, pretrained, checkpoint_filter_fn, **kwargs)


_TSINGHUA = "https://cloud.tsinghua.edu.cn/f"


def _cfg(url: str = "", **kwargs) -> dict:
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.conv",
        "classifier": "head.fc",
        "license": "mit",
        "origin_url": "https://github.com/raoyongming/HorNet",
        "paper_ids": "arXiv:2207.14284",
        "paper_name": "HorNet: Efficient High-Order Spatial Interactions with Recursive Gated Convolutions",
        **kwargs,
    }


_IN22K = dict(
    num_classes=IN22K_NUM_CLASSES,
    notes=(
        "ImageNet-22k head with 10,459 classes (the authors' in1k_to_21k_map indexes it): "
        "vitzoo.models.hornet.in22k_head_to_in1k(model) keeps the 1000 ImageNet-1k rows.",
    ),
)
# the authors evaluate 384 models on the whole image, warped to 384x384 (no crop)
_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0, crop_mode="squash")

default_cfgs = generate_default_cfgs(
    {
        "hornet_tiny_7x7.in1k": _cfg(f"{_TSINGHUA}/bac9690c72944d19aca1/?dl=1"),
        "hornet_tiny_gf.in1k": _cfg(f"{_TSINGHUA}/460e759c82324ea6bfa3/?dl=1"),
        "hornet_small_7x7.in1k": _cfg(f"{_TSINGHUA}/8ef64277da0e469ea857/?dl=1"),
        "hornet_small_gf.in1k": _cfg(f"{_TSINGHUA}/959603ca287d4c09ad49/?dl=1"),
        "hornet_base_7x7.in1k": _cfg(f"{_TSINGHUA}/13a748487711492e9704/?dl=1"),
        "hornet_base_gf.in1k": _cfg(f"{_TSINGHUA}/c212d1d8a3914b47a5c1/?dl=1"),
        "hornet_base_gf_img384": _cfg(
            **_384, notes=(NO_WEIGHTS_NOTE, "The architecture is defined in the authors' hornet.py.")
        ),
        "hornet_large_7x7.in22k": _cfg(f"{_TSINGHUA}/c2fc23caae084a3aa73d/?dl=1", **_IN22K),
        "hornet_large_gf.in22k": _cfg(f"{_TSINGHUA}/8600206ebdfa485f98d0/?dl=1", **_IN22K),
        "hornet_large_gf_img384.in22k": _cfg(f"{_TSINGHUA}/eec48d5eca5a48d98fd2/?dl=1", **_384, **_IN22K),
    }
)

_GF = dict(global_filter_stages=(2, 3))


@register_model
def hornet_tiny_7x7(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_tiny_7x7", pretrained, **dict(dict(embed_dim=64), **kwargs))


@register_model
def hornet_tiny_gf(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_tiny_gf", pretrained, **dict(dict(embed_dim=64, **_GF), **kwargs))


@register_model
def hornet_small_7x7(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_small_7x7", pretrained, **dict(dict(embed_dim=96), **kwargs))


@register_model
def hornet_small_gf(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_small_gf", pretrained, **dict(dict(embed_dim=96, **_GF), **kwargs))


@register_model
def hornet_base_7x7(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_base_7x7", pretrained, **dict(dict(embed_dim=128), **kwargs))


@register_model
def hornet_base_gf(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_base_gf", pretrained, **dict(dict(embed_dim=128, **_GF), **kwargs))


@register_model
def hornet_base_gf_img384(pretrained: bool = False, **kwargs) -> HorNet:
    args = dict(img_size=384, embed_dim=128, **_GF)
    return _create_hornet("hornet_base_gf_img384", pretrained, **dict(args, **kwargs))


@register_model
def hornet_large_7x7(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_large_7x7", pretrained, **dict(dict(embed_dim=192), **kwargs))


@register_model
def hornet_large_gf(pretrained: bool = False, **kwargs) -> HorNet:
    return _create_hornet("hornet_large_gf", pretrained, **dict(dict(embed_dim=192, **_GF), **kwargs))


@register_model
def hornet_large_gf_img384(pretrained: bool = False, **kwargs) -> HorNet:
    args = dict(img_size=384, embed_dim=192, **_GF)
    return _create_hornet("hornet_large_gf_img384", pretrained, **dict(args, **kwargs))
