"""SparseFormer (v1) and bootstrapped SparseFormers, exact to showlab/sparseformer.

Papers: "SparseFormer: Sparse Visual Recognition via Limited Latent Tokens" (Gao et al., ICLR 2024) and
"Bootstrapping SparseFormers from Vision Foundation Models" (Gao et al., CVPR 2024).

The authors have two code paths: the ImageNet training code (``imagenet/models/sparseformer.py``, v1
T/S/B, sequence-first tokens) and their ``sparseformer`` library (``modeling.py``, batch-first, which
re-implements v1 and defines the bootstrapped models).  They differ in epsilons, biased/unbiased
variance, mixing biases, RoI-adjustment and position-encoding operators, grid-sample padding and
more.  Here ONE implementation serves all of them; every difference is a field of
:class:`SparseFormerConfig` (one config per registered model).

* ``sparseformer_{tiny,small,base}``: v1 as the ImageNet code computes it.
* ``sparseformer_v1_{tiny,small,base}``: v1 as the library computes it (its converted release weights).
* ``sparseformer_boot_{augreg,clip}_{base,large}``: bootstrapped from AugReg ViT / OpenAI CLIP.

Differences from the authors' code, none of which change eval outputs:
* Tokens are batch-first throughout; a width change between units is owned by the unit after it.
* Any input size runs (RoIs are normalised image coordinates); inputs are validated.
* The RoI sampling and the adaptive mixing are separate modules (:mod:`vitzoo.layers.roi_sampling`).
* The ImageNet code clamps sampling-coordinate gradients scaled by the AMP grad scale, passed in
  ``forward(x, scale=...)``; here the clamp is at one feature-map pixel without the grad scale.

``checkpoint_filter_fn`` loads the ImageNet code's checkpoints and the library's (converted) ones.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
from timm.data import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from timm.layers import Attention, DropPath, Mlp, QuickGELU, calculate_drop_path_rates, trunc_normal_
from timm.models import register_model
from timm.models._features import feature_take_indices

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import checkpoint_block
from ..layers.roi_sampling import AdaptiveMixing, RoIPointSampling, init_unit_norm_layer_norm
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin, check_global_pool, check_output_fmt

__all__ = ["SparseFormer", "SparseFormerConfig", "checkpoint_filter_fn"]

# Operators a unit can apply to its tokens, in the order its ``ops`` list names them (once per repeat):
# attn: self-attention; mlp: feed-forward; adjust: move/rescale the token RoIs; sample: RoI point
# sampling + adaptive mixing; pos: add a projected sinusoidal encoding of the RoIs.
UNIT_OPS = ("attn", "mlp", "adjust", "sample", "pos")
_V1_FOCUS = ("attn", "adjust", "sample", "mlp")
_BOOT_FOCUS = ("sample", "pos", "attn", "mlp", "adjust")
_TRANSFORMER = ("attn", "mlp")


@dataclass(frozen=True)
class SparseFormerConfig:
    """One SparseFormer variant; the defaults are SparseFormer-T as the authors' ImageNet code builds it."""

    widths: Tuple[int, ...] = (256,) + (512,) * 8  # token width of each unit
    repeats: Tuple[int, ...] = (4,) + (1,) * 8  # times each unit runs (weights shared)
    unit_ops: Tuple[Tuple[str, ...], ...] = (_V1_FOCUS,) * 2 + (_TRANSFORMER,) * 7
    conv_dim: int = 96  # channels of the early-convolution map the tokens sample
    num_latent_tokens: int = 49
    num_sampling_points: int = 36
    shared_initial_embedding: bool = False  # one learned start embedding for all tokens
    cls_token_unit: Optional[int] = None  # a cls token is prepended before this unit
    global_pool: str = "avg"  # 'avg' over tokens or 'token' (the cls token)
    head_bias: bool = True
    mlp_ratio: float = 4.0
    num_attn_heads: Optional[int] = 64  # None: width // 64
    quick_gelu: bool = False  # QuickGELU in the MLPs of units that run once (OpenAI-CLIP towers)
    norm_eps: float = 1e-6
    mixing_norm_eps: float = 1e-6  # the library always uses 1e-5 in front of the mixing generator
    stem_norm_eps: float = 1e-7
    stem_norm_unbiased: bool = True  # unbiased channel variance in the stem normalisation
    offset_std_eps: float = 1e-7
    sampling_padding: str = "zeros"  # grid_sample padding for points outside the image
    sampling_local_gradient: bool = True  # clamp sampling-coordinate gradients to one pixel
    mixing_inner_dim: Optional[int] = None  # None: width // 4
    min_mixing_out_points: int = 0  # spatial mixing outputs max(num_sampling_points, this) points
    mixing_bias: bool = True
    mixing_act_between: bool = True  # activation between channel and spatial mixing
    roi_adjust_mlp: bool = False  # norm-linear-GELU-linear (else norm-linear, with drop path on its output)
    transition_norm: bool = True  # LayerNorm after the linear that changes the token width
    stage_embedding: bool = False  # learned embedding added before each repeat of a repeated unit
    drop_path_rate: float = 0.0


def _v1(widths, repeats, num_latent_tokens, drop_path_rate, library: bool = False) -> SparseFormerConfig:
    num_focus = 2  # the first unit of each width samples the image
    cfg = SparseFormerConfig(
        widths=widths,
        repeats=repeats,
        unit_ops=(_V1_FOCUS,) * num_focus + (_TRANSFORMER,) * (len(widths) - num_focus),
        num_latent_tokens=num_latent_tokens,
        drop_path_rate=drop_path_rate,
    )
    if library:  # the library's re-implementation: its own epsilons, no gradient clamp
        cfg = replace(
            cfg,
            mixing_norm_eps=1e-5,
            stem_norm_eps=1e-5,
            stem_norm_unbiased=False,
            offset_std_eps=1e-5,
            sampling_local_gradient=False,
            min_mixing_out_points=32,
        )
    return cfg


def _boot(width: int, depth: int, num_latent_tokens: int, quick_gelu: bool = False, head_bias: bool = True):
    return SparseFormerConfig(
        widths=(width // 2, width) + (width,) * depth,
        repeats=(4, 1) + (1,) * depth,
        unit_ops=(_BOOT_FOCUS, ("sample", "pos")) + (_TRANSFORMER,) * depth,
        conv_dim=64,
        num_latent_tokens=num_latent_tokens,
        num_sampling_points=16,
        shared_initial_embedding=True,
        cls_token_unit=2,
        global_pool="token",
        head_bias=head_bias,
        num_attn_heads=None,
        quick_gelu=quick_gelu,
        norm_eps=1e-5,
        mixing_norm_eps=1e-5,
        stem_norm_eps=1e-5,
        stem_norm_unbiased=False,
        offset_std_eps=1e-5,
        sampling_padding="border",
        sampling_local_gradient=False,
        mixing_inner_dim=128,
        min_mixing_out_points=32,
        mixing_bias=False,
        mixing_act_between=False,
        roi_adjust_mlp=True,
        transition_norm=False,
        stage_embedding=True,
    )


def adjust_rois(rois: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Move each RoI's centre by ``delta[:2] * size`` and scale its size by ``exp(delta[2:])`` (x1y1x2y2)."""
    centre = (rois[..., 2:] + rois[..., :2]) * 0.5
    size = (rois[..., 2:] - rois[..., :2]).abs()
    centre = centre + delta[..., :2] * size
    size = size * delta[..., 2:].exp()
    return torch.cat([centre - 0.5 * size, centre + 0.5 * size], dim=-1)


def roi_position_encoding(rois: torch.Tensor, dim: int, max_temperature: float = 128.0) -> torch.Tensor:
    """Sinusoids of the 4 RoI coordinates, ``dim // 4`` each (sine at even, cosine at odd frequencies).

    As in the authors' code the encoding passes no gradient to the RoIs.
    """
    rois = rois.detach() * math.pi
    freqs = torch.linspace(0, math.log(max_temperature), dim // 4, dtype=rois.dtype, device=rois.device).exp()
    angles = rois.unsqueeze(-1) * freqs
    return torch.cat([angles[..., 0::2].sin(), angles[..., 1::2].cos()], dim=-1).flatten(2)


class EarlyConvStem(nn.Module):
    """7x7/2 conv, ReLU, 3x3/2 max-pool (stride 4), then a per-pixel normalisation over channels."""

    def __init__(self, in_chans: int, dim: int, eps: float, unbiased: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=7, stride=2, padding=3)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.eps = eps
        self.unbiased = unbiased

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv(x)))
        # float32 under autocast: the map is sampled in float32 (see RoIPointSampling)
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=int(self.unbiased))
            return (x - mean) / (var + self.eps).sqrt()


class SparseFormerUnit(nn.Module):
    """A list of token operators (``UNIT_OPS``) run ``repeats`` times with shared weights.

    A width change from the previous unit (``in_dim``) starts with a linear transition; a cls token
    (``prefix``) is prepended after it.
    """

    def __init__(
        self,
        dim: int,
        in_dim: int,
        ops: Sequence[str],
        repeats: int,
        drop_path: Sequence[float],
        config: SparseFormerConfig,
        norm_layer,
    ):
        super().__init__()
        self.ops = tuple(ops)
        self.repeats = repeats
        self.roi_adjust_mlp = config.roi_adjust_mlp
        self.transition = (
            nn.Sequential(nn.Linear(in_dim, dim), norm_layer(dim) if config.transition_norm else nn.Identity())
            if in_dim != dim
            else nn.Identity()
        )
        self.stage_embedding = nn.Embedding(repeats, dim) if config.stage_embedding and repeats > 1 else None
        if "sample" in ops:
            points = config.num_sampling_points
            self.sampling = RoIPointSampling(
                dim, points, norm_layer, config.sampling_padding, config.offset_std_eps, config.sampling_local_gradient
            )
            self.adaptive_mixing = AdaptiveMixing(
                config.conv_dim,
                points,
                dim,
                out_points=max(points, config.min_mixing_out_points),
                inner_dim=config.mixing_inner_dim or dim // 4,
                bias=config.mixing_bias,
                act_between=config.mixing_act_between,
                norm_layer=partial(nn.LayerNorm, eps=config.mixing_norm_eps),
            )
        if "attn" in ops:
            num_heads = min(config.num_attn_heads, dim) if config.num_attn_heads else dim // 64
            self.norm1 = norm_layer(dim)
            self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        if "mlp" in ops:
            act_layer = QuickGELU if config.quick_gelu and repeats == 1 else nn.GELU
            self.norm2 = norm_layer(dim)
            self.mlp = Mlp(dim, int(dim * config.mlp_ratio), act_layer=act_layer)
        if "adjust" in ops:
            hidden = [nn.Linear(dim, dim), nn.GELU()] if config.roi_adjust_mlp else []
            self.roi_adjust = nn.Sequential(norm_layer(dim), *hidden, nn.Linear(dim, 4, bias=False))
        if "pos" in ops:
            self.pos_proj = nn.Sequential(norm_layer(dim), nn.Linear(dim, dim))
        self.drop_path = nn.ModuleList(DropPath(p) if p > 0 else nn.Identity() for p in drop_path)

    @torch.no_grad()
    def init_weights(self) -> None:
        """RoI adjustment starts as the identity (zero deltas)."""
        if "adjust" in self.ops:
            init_unit_norm_layer_norm(self.roi_adjust[0])
            nn.init.zeros_(self.roi_adjust[-1].weight)

    def forward(
        self, feat: torch.Tensor, tokens: torch.Tensor, rois: torch.Tensor, prefix: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        tokens = self.transition(tokens)
        if prefix is not None:
            tokens = torch.cat([prefix, tokens], dim=1)
        for repeat in range(self.repeats):
            drop_path = self.drop_path[repeat]
            if self.stage_embedding is not None:
                tokens = tokens + self.stage_embedding.weight[repeat]
            for op in self.ops:
                if op == "attn":
                    tokens = tokens + drop_path(self.attn(self.norm1(tokens)))
                elif op == "mlp":
                    tokens = tokens + drop_path(self.mlp(self.norm2(tokens)))
                elif op == "adjust":
                    delta = self.roi_adjust(tokens).float()
                    rois = adjust_rois(rois, delta if self.roi_adjust_mlp else drop_path(delta))
                elif op == "sample":
                    tokens = tokens + drop_path(self.adaptive_mixing(self.sampling(feat, tokens, rois), tokens))
                else:
                    tokens = tokens + self.pos_proj(roi_position_encoding(rois, tokens.shape[-1]).to(tokens.dtype))
        return tokens, rois


class TokenPoolHead(nn.Module):
    """Pool the tokens (mean, or the cls token), LayerNorm, classifier (or the CLIP projection)."""

    def __init__(self, dim: int, num_classes: int, pool_type: str, bias: bool, drop_rate: float, norm_layer):
        super().__init__()
        self.bias = bias
        self.pool_type = self._checked_pool(pool_type)
        self.norm = norm_layer(dim)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dim, num_classes, bias=bias) if num_classes > 0 else nn.Identity()

    @staticmethod
    def _checked_pool(pool_type: str) -> str:
        return check_global_pool(pool_type, ("avg", "token"), "SparseFormer")

    def reset(self, num_classes: int, pool_type: Optional[str] = None) -> None:
        if pool_type:
            self.pool_type = self._checked_pool(pool_type)
        dim = self.norm.normalized_shape[0]
        self.fc = nn.Linear(dim, num_classes, bias=self.bias) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.norm(x.mean(1) if self.pool_type == "avg" else x[:, 0]))
        return x if pre_logits else self.fc(x)


class SparseFormer(HeadModuleMixin, nn.Module):
    """A few latent tokens with RoIs read an early-convolution map sparsely, then a transformer on the tokens.

    ``forward_features`` returns the final tokens (B, N, C) (with the cls token first when the variant
    has one); the head pools them and normalises after pooling, as the authors do.
    """

    def __init__(
        self,
        config: SparseFormerConfig = SparseFormerConfig(),
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: Optional[str] = None,
        drop_rate: float = 0.0,
        drop_path_rate: Optional[float] = None,
    ):
        super().__init__()
        _check_config(config)
        self.config = config
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_latent_tokens = config.num_latent_tokens
        self.cls_token_unit = config.cls_token_unit
        self.num_prefix_tokens = int(config.cls_token_unit is not None)
        self.num_features = self.head_hidden_size = self.embed_dim = config.widths[-1]
        norm_layer = partial(nn.LayerNorm, eps=config.norm_eps)

        self.stem = EarlyConvStem(in_chans, config.conv_dim, config.stem_norm_eps, config.stem_norm_unbiased)
        self.initial_roi = nn.Embedding(config.num_latent_tokens, 4)
        num_embeddings = 1 if config.shared_initial_embedding else config.num_latent_tokens
        self.initial_embedding = nn.Embedding(num_embeddings, config.widths[0])
        self.cls_embedding = nn.Embedding(1, config.widths[config.cls_token_unit]) if self.num_prefix_tokens else None
        rate = config.drop_path_rate if drop_path_rate is None else drop_path_rate
        dpr = calculate_drop_path_rates(rate, list(config.repeats), stagewise=True)  # linear over all repeats
        self.units = nn.ModuleList(
            SparseFormerUnit(width, config.widths[max(i - 1, 0)], ops, repeats, dpr[i], config, norm_layer)
            for i, (width, ops, repeats) in enumerate(zip(config.widths, config.unit_ops, config.repeats))
        )
        self.head = TokenPoolHead(
            self.num_features, num_classes, global_pool or config.global_pool, config.head_bias, drop_rate, norm_layer
        )
        # The stem map is the only dense map: features_only returns it (stride 4).
        self.feature_info = [dict(num_chs=config.conv_dim, reduction=4, module="stem")]
        self.grad_checkpointing = False
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """The authors' init: truncated-normal linears, then the special cases of the sparse operators."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.kaiming_normal_(self.stem.conv.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():
            if isinstance(m, (RoIPointSampling, AdaptiveMixing, SparseFormerUnit)):
                m.init_weights()
        trunc_normal_(self.initial_embedding.weight, std=1.0)
        # Whole-image RoIs, the first root**2 of them replaced by a root x root grid of half-size boxes.
        rois = self.initial_roi.weight
        rois[:, :2] = 0.0
        rois[:, 2:] = 1.0
        root = math.isqrt(self.num_latent_tokens)
        steps = torch.arange(root, dtype=torch.float32) / max(root - 1, 1)
        corner = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), dim=-1).reshape(-1, 2) * 0.5
        rois[: root * root] = torch.cat([corner, corner + 0.5], dim=-1)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"initial_roi.weight"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stem|^initial_|^cls_embedding",
            blocks=r"^units\.(\d+)" if coarse else [(r"^units\.(\d+)", None), (r"^head\.norm", (99999,))],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        check_image_input(x, self.in_chans, 1, type(self).__name__)
        return self.stem(x)

    def _run_units(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        batch = feat.shape[0]
        # Copies, not views: a view of a parameter taken under no_grad still claims requires_grad.
        embedding = self.initial_embedding.weight
        tokens = embedding.repeat(batch, self.num_latent_tokens // len(embedding), 1)
        rois = self.initial_roi.weight.repeat(batch, 1, 1)
        use_checkpoint = self.grad_checkpointing and torch.is_grad_enabled()
        for i, unit in enumerate(self.units):
            prefix = self.cls_embedding.weight.repeat(batch, 1, 1) if i == self.cls_token_unit else None
            if use_checkpoint:
                tokens, rois = checkpoint_block(unit, feat, tokens, rois, prefix)
            else:
                tokens, rois = unit(feat, tokens, rois, prefix)
        return tokens, rois

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
        return_rois: bool = False,
    ):
        """The early-convolution map (the only dense map: stride 4, ``conv_dim`` channels) and the final tokens.

        Returns ``(tokens, [map])``, or ``[map]`` with ``intermediates_only`` (then no token is computed).
        With ``return_rois`` the final RoIs (B, num_latent_tokens, 4; normalised x1, y1, x2, y2) come last:
        ``(tokens, [map], rois)`` / ``([map], rois)``.  ``model.head.norm(tokens)`` is the authors' token
        read-out.  ``norm`` and ``stop_early`` change nothing: the map is normalised already and precedes
        every unit.
        """
        check_output_fmt(output_fmt, ("NCHW", "NHWC"))
        feature_take_indices(len(self.feature_info), indices)  # validates indices
        feat = self._stem(x)
        intermediates = [feat if output_fmt == "NCHW" else feat.permute(0, 2, 3, 1)]
        if intermediates_only and not return_rois:
            return intermediates
        tokens, rois = self._run_units(feat)
        if intermediates_only:
            return intermediates, rois
        return (tokens, intermediates, rois) if return_rois else (tokens, intermediates)

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        """Only the stem map is a feature: every unit (and the head) goes."""
        take_indices, _ = feature_take_indices(len(self.feature_info), indices)
        self.units = nn.ModuleList()
        if prune_head:
            self.reset_classifier(0)
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._run_units(self._stem(x))[0]


def _check_config(config: SparseFormerConfig) -> None:
    if not len(config.widths) == len(config.repeats) == len(config.unit_ops):
        raise ValueError("SparseFormerConfig: widths, repeats and unit_ops need one entry per unit")
    unknown = {op for ops in config.unit_ops for op in ops} - set(UNIT_OPS)
    if unknown:
        raise ValueError(f"SparseFormerConfig: unknown unit ops {sorted(unknown)}; known: {UNIT_OPS}")
    if config.cls_token_unit is not None:
        if not 0 <= config.cls_token_unit < len(config.widths):
            raise ValueError(f"SparseFormerConfig: cls_token_unit {config.cls_token_unit} is not a unit index")
        roi_ops = {"adjust", "sample", "pos"}
        late = [i for i in range(config.cls_token_unit, len(config.widths)) if roi_ops & set(config.unit_ops[i])]
        if late:
            raise ValueError(
                f"SparseFormerConfig: units {late} use RoIs after the cls token is inserted; RoI ops must come first"
            )


# The ImageNet code's names -> the library's (the library's own converter, with the classifier it misses).
_IMAGENET_TO_LIBRARY = [
    (r"^token_roi\.", "initial_roi."),
    (r"^token_embedding\.", "initial_embedding."),
    (r"\.ln_attn\.", ".norm1."),
    (r"\.attn\.in_proj_(weight|bias)$", r".attn.qkv.\1"),
    (r"\.attn\.out_proj\.", ".attn.proj."),
    (r"\.ffn\.0\.", ".norm2."),
    (r"\.ffn\.1\.", ".mlp.fc1."),
    (r"\.ffn\.3\.", ".mlp.fc2."),
    (r"\.tuo_proj\.", ".out_proj."),
    (r"^head\.classifier\.", "head.fc."),
]
# The library's names -> vitzoo's (unit-level; ``layers.i`` -> ``units.j`` is done separately).
_LIBRARY_TO_VITZOO = [
    (r"^feat_extractor\.conv1\.", "stem.conv."),
    (r"\.roi_offset_module\.", ".sampling.offset_generator."),
    (r"\.roi_offset_bias$", ".sampling.base_offsets"),
    (r"\.roi_adjust_module\.", ".roi_adjust."),
    (r"\.pe_transition\.", ".pos_proj."),
    (r"^norm\.", "head.norm."),
    (r"^proj\.", "head.fc."),
]


def _layers_to_units(state_dict: dict) -> dict:
    """``layers.i`` holds units and width transitions in one list; the transition joins the unit after it."""
    transitions = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r"^layers\.(\d+)\.\d+\.", k))})
    out = {}
    for key, value in state_dict.items():
        m = re.match(r"^layers\.(\d+)\.(.*)$", key)
        if m is None:
            out[key] = value
            continue
        layer, rest = int(m.group(1)), m.group(2)
        unit = layer - sum(t < layer for t in transitions)
        out[f"units.{unit}.transition.{rest}" if layer in transitions else f"units.{unit}.{rest}"] = value
    return out


def checkpoint_filter_fn(state_dict, model: SparseFormer) -> dict:
    """Convert the authors' SparseFormer checkpoints (or vitzoo's) to vitzoo's layout, losing no weight.

    Accepted: the ImageNet code's (``tuo_proj``, ``token_roi``, ``ln_attn``, ``ffn.*``, ``head.norm``,
    ``head.classifier``; ``model`` / ``model_ema``, ``module.`` prefixes) and the library's converted
    release files (``initial_roi``, ``norm1``, ``attn.qkv``, ``stage_embedding``, ``norm``, ``proj``).
    Nothing depends on the input size, so nothing is resized.
    """
    state_dict = unwrap_state_dict(state_dict)
    if not any(k.startswith("layers.") for k in state_dict):
        return dict(state_dict)
    rules = _IMAGENET_TO_LIBRARY + _LIBRARY_TO_VITZOO
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return _layers_to_units(renamed)


def _create(variant: str, pretrained: bool, config: SparseFormerConfig, **kwargs) -> SparseFormer:
    # Config fields can be overridden at creation; drop_path_rate stays a model argument, as in timm.
    names = {f.name for f in fields(SparseFormerConfig)} - {"drop_path_rate"}
    config = replace(config, **{name: kwargs.pop(name) for name in names & kwargs.keys()})
    return build_model(SparseFormer, variant, pretrained, checkpoint_filter_fn, (0,), config=config, **kwargs)


_RELEASE = "https://github.com/showlab/sparseformer/releases/download"
_LIBRARY_RELEASE = f"{_RELEASE}/v2.0.0-refactor"
_V1_PAPER = dict(
    paper_ids="arXiv:2304.03768", paper_name="SparseFormer: Sparse Visual Recognition via Limited Latent Tokens"
)
_BOOT_PAPER = dict(paper_ids="arXiv:2312.01987", paper_name="Bootstrapping SparseFormers from Vision Foundation Models")


def _cfg(url: str = "", **kwargs) -> dict:
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.conv",
        "classifier": "head.fc",
        "license": "mit",
        "origin_url": "https://github.com/showlab/sparseformer",
        **_V1_PAPER,
        **kwargs,
    }


# The library's preprocessing: torchvision Resize(256) (bilinear) + CenterCrop(224).
_LIBRARY = dict(interpolation="bilinear")

default_cfgs = generate_default_cfgs(
    {
        "sparseformer_tiny.in1k": _cfg(f"{_RELEASE}/v1.0.0-imagenet/sparseformer_t_imagenet1k.pth"),
        "sparseformer_small.in1k": _cfg(f"{_RELEASE}/v1.0.0-imagenet/sparseformer_s_imagenet1k.pth"),
        "sparseformer_base.in1k": _cfg(f"{_RELEASE}/v1.0.0-imagenet/sparseformer_b_imagenet1k.pth"),
        "sparseformer_v1_tiny.in1k": _cfg(f"{_LIBRARY_RELEASE}/sparseformer_v1_tiny_converted.pth", **_LIBRARY),
        "sparseformer_v1_small.in1k": _cfg(f"{_LIBRARY_RELEASE}/sparseformer_v1_small_converted.pth", **_LIBRARY),
        "sparseformer_v1_base.in1k": _cfg(f"{_LIBRARY_RELEASE}/sparseformer_v1_base_converted.pth", **_LIBRARY),
        "sparseformer_boot_augreg_base.in1k": _cfg(
            f"{_LIBRARY_RELEASE}/sparseformer_btsp_augreg_base_converted.pth",
            mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD, **_LIBRARY, **_BOOT_PAPER,
        ),
        "sparseformer_boot_augreg_large.in1k": _cfg(
            f"{_LIBRARY_RELEASE}/sparseformer_btsp_augreg_large_converted.pth",
            mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD, **_LIBRARY, **_BOOT_PAPER,
        ),
        # Image towers of OpenAI CLIP: the output is the CLIP image embedding, not class logits.
        "sparseformer_boot_clip_base.openai": _cfg(
            f"{_LIBRARY_RELEASE}/sparseformer_btsp_openai_clip_base_converted.pth",
            num_classes=512, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD, **_LIBRARY, **_BOOT_PAPER,
        ),
        "sparseformer_boot_clip_large.openai": _cfg(
            f"{_LIBRARY_RELEASE}/sparseformer_btsp_openai_clip_large_converted.pth",
            num_classes=768, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD, **_LIBRARY, **_BOOT_PAPER,
        ),
    }
)

_T = dict(widths=(256,) + (512,) * 8, repeats=(4,) + (1,) * 8, num_latent_tokens=49, drop_path_rate=0.2)
_S = dict(widths=(320,) + (640,) * 8, repeats=(4,) + (1,) * 8, num_latent_tokens=64, drop_path_rate=0.3)
_B = dict(widths=(384,) + (768,) * 10, repeats=(4,) + (1,) * 10, num_latent_tokens=81, drop_path_rate=0.4)


@register_model
def sparseformer_tiny(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_tiny", pretrained, _v1(**_T), **kwargs)


@register_model
def sparseformer_small(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_small", pretrained, _v1(**_S), **kwargs)


@register_model
def sparseformer_base(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_base", pretrained, _v1(**_B), **kwargs)


@register_model
def sparseformer_v1_tiny(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_v1_tiny", pretrained, _v1(**_T, library=True), **kwargs)


@register_model
def sparseformer_v1_small(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_v1_small", pretrained, _v1(**_S, library=True), **kwargs)


@register_model
def sparseformer_v1_base(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_v1_base", pretrained, _v1(**_B, library=True), **kwargs)


@register_model
def sparseformer_boot_augreg_base(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_boot_augreg_base", pretrained, _boot(768, 8, 48), **kwargs)


@register_model
def sparseformer_boot_augreg_large(pretrained: bool = False, **kwargs) -> SparseFormer:
    return _create("sparseformer_boot_augreg_large", pretrained, _boot(1024, 16, 48), **kwargs)


@register_model
def sparseformer_boot_clip_base(pretrained: bool = False, **kwargs) -> SparseFormer:
    config = _boot(768, 8, 48, quick_gelu=True, head_bias=False)
    return _create("sparseformer_boot_clip_base", pretrained, config, **kwargs)


@register_model
def sparseformer_boot_clip_large(pretrained: bool = False, **kwargs) -> SparseFormer:
    config = _boot(1024, 16, 63, quick_gelu=True, head_bias=False)
    return _create("sparseformer_boot_clip_large", pretrained, config, **kwargs)
