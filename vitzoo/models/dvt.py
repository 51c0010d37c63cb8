"""DVT online denoiser (Denoising Vision Transformers), exact to Jiawei-Yang/Denoising-ViT, on any timm ViT.

Paper: "Denoising Vision Transformers" (Yang et al., ECCV 2024).

ViTs' patch features carry position-dependent artifacts.  DVT's stage 2 learns a small *online denoiser*
that removes them from the last layer's features in one pass: one pre-norm transformer block applied to
the ViT's normalised patch tokens (class and register tokens dropped) plus a learned position embedding,
with no residual around the block.  Stage 3 ("distilled") fine-tunes the ViT itself to produce the
denoised features; those models need no denoiser.

Three kinds of models are registered:

* ``dvt_denoiser_*``: the denoiser alone, mapping channels-last features (B, H, W, C) to the same shape.
* ``dvt_<timm ViT name>``: :class:`DenoisedViT`, timm's ViT + the denoiser.  The dense path
  (``forward_intermediates``, ``features_only``) returns the denoised last-layer map; ``forward_features``
  returns the ViT's token sequence with its patch tokens denoised, so the ViT's own head classifies as
  before with token pooling and on denoised patches with ``global_pool='avg'``.
* ``dvt_distilled_<timm ViT name>``: the same class without a denoiser, holding the authors' distilled ViT.

``pretrained=True`` reads the authors' file from the Hugging Face Hub (``jjiaweiyang/DVT``) and, when it
holds only the denoiser, takes the ViT's weights from timm's own pretrained tag: one call gives both.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import partial
from typing import List, Optional, Tuple, Union

import timm
import torch
import torch.nn as nn
from timm.layers import resample_abs_pos_embed, to_2tuple
from timm.models import PretrainedCfg, get_pretrained_cfg, register_model
from timm.models._builder import resolve_pretrained_cfg
from timm.models._features import feature_take_indices
from timm.models.vision_transformer import Block

from ..checkpoint import CheckpointError, strip_prefixes, unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import checkpoint_block
from ._builder import build_model, generate_default_cfgs
from ._contract import check_output_fmt

__all__ = ["DVTDenoiser", "DenoisedViT", "checkpoint_filter_fn", "denoiser_checkpoint_filter_fn"]


def dvt_grid_size(patch_size: int) -> int:
    """Side of the denoiser's position table: main_denoiser.py trains at 518x518, or 512x512 for strides 16 and 8."""
    return (518 if patch_size == 14 else 512) // patch_size


class DVTDenoiser(nn.Module):
    """One transformer block over (features + learned position embedding); channels-last in and out."""

    def __init__(self, embed_dim: int = 768, grid_size: Union[int, Tuple[int, int]] = 37, mlp_ratio: float = 4.0):
        super().__init__()
        self.embed_dim = embed_dim
        self.grid_size = to_2tuple(grid_size)
        self.num_classes = 0  # no classifier: timm's loader reads this to decide whether to drop one
        self.grad_checkpointing = False
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid_size[0] * self.grid_size[1], embed_dim) * 0.02)
        self.block = Block(
            embed_dim,
            num_heads=embed_dim // 64,
            mlp_ratio=mlp_ratio,
            qkv_bias=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
            act_layer=nn.GELU,
        )

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"pos_embed"}

    def _check_input(self, x: torch.Tensor) -> None:
        name = f"DVTDenoiser(embed_dim={self.embed_dim})"
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} expects channels-last ViT patch features (B, H, W, C), got {shape}")
        if not x.is_floating_point():
            raise TypeError(f"{name} expects floating-point features, got {x.dtype}")
        if x.shape[-1] != self.embed_dim:
            hint = "; channels-first input? use x.permute(0, 2, 3, 1)" if x.shape[1] == self.embed_dim else (
                f"; this denoiser belongs to a ViT of width {self.embed_dim}: use the denoiser of your ViT's width"
            )
            raise ValueError(f"{name} expects features of width {self.embed_dim}, got shape {tuple(x.shape)}{hint}")

    def resampled_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """The position table at ``grid`` (bicubic, antialiased; unchanged at the trained grid)."""
        return resample_abs_pos_embed(self.pos_embed, list(grid), old_size=list(self.grid_size), num_prefix_tokens=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        B, H, W, C = x.shape
        x = x.reshape(B, H * W, C) + self.resampled_pos_embed((H, W))
        x = checkpoint_block(self.block, x) if self.grad_checkpointing and torch.is_grad_enabled() else self.block(x)
        return x.reshape(B, H, W, C)


def _check_vit(vit: nn.Module) -> None:
    name = type(vit).__name__
    missing = [a for a in ("forward_intermediates", "patch_embed", "num_prefix_tokens", "blocks") if not hasattr(vit, a)]
    if missing:
        raise ValueError(
            f"DenoisedViT needs a timm ViT with patch tokens (VisionTransformer, Eva, ...); {name} has no "
            f"{', '.join(missing)}. DVT denoises the patch tokens of a plain ViT: pass one of "
            "timm.list_models('vit_*') / 'eva*' / 'deit*'"
        )


class DenoisedViT(nn.Module):
    """A timm ViT whose last-layer patch features pass through DVT's denoiser (none for distilled ViTs).

    ``forward_intermediates`` indices run over the ViT's blocks and one more: index ``i < depth`` is block
    ``i``'s patch map as timm's ViT returns it (``norm=True`` applies the ViT's final norm), index ``depth``
    (-1, ``features_only``'s default) is the model's dense output: the ViT's normalised last-layer map after
    the denoiser.
    """

    def __init__(
        self,
        vit: Union[str, nn.Module] = "vit_base_patch14_dinov2",
        denoise: bool = True,
        denoiser_grid_size: Optional[Union[int, Tuple[int, int]]] = None,
        vit_pretrained: bool = False,
        **vit_kwargs,
    ):
        """``vit`` is a timm model name (created with ``vit_kwargs``; any input size by default) or a built ViT.

        ``vit_pretrained`` loads timm's pretrained weights for a named ViT (its tag may be part of the name).
        """
        super().__init__()
        if isinstance(vit, str):
            vit_kwargs = dict(dict(dynamic_img_size=True, dynamic_img_pad=True), **vit_kwargs)
            vit = timm.create_model(vit, pretrained=vit_pretrained, **vit_kwargs)
        elif vit_kwargs or vit_pretrained:
            raise ValueError("vit_kwargs and vit_pretrained apply to a ViT given by name, not to a built module")
        _check_vit(vit)
        self.vit = vit
        self.embed_dim = vit.embed_dim
        self.patch_size = vit.patch_embed.patch_size
        self.in_chans = vit.patch_embed.proj.in_channels
        self.num_features = vit.num_features
        self.head_hidden_size = getattr(vit, "head_hidden_size", vit.num_features)
        self.denoiser = None
        if denoise:
            grid = denoiser_grid_size or dvt_grid_size(self.patch_size[0])
            self.denoiser = DVTDenoiser(self.embed_dim, grid)
        depth = len(vit.blocks)
        self.feature_info = [
            dict(num_chs=self.embed_dim, reduction=self.patch_size[0], module=f"vit.blocks.{i}") for i in range(depth)
        ]
        self.feature_info.append(
            dict(num_chs=self.embed_dim, reduction=self.patch_size[0], module="denoiser" if denoise else "vit.norm")
        )

    @property
    def num_classes(self) -> int:
        return self.vit.num_classes

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        params = dict(self.vit.named_parameters())
        names = {f"vit.{n}" for n in self.vit.no_weight_decay() if any(p.startswith(n) for p in params)}
        return names | ({"denoiser.pos_embed"} if self.denoiser is not None else set())

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        """The ViT's groups under ``vit.``; the denoiser is the last group."""

        def under_vit(pattern: str) -> str:
            return r"^vit\.(?:" + re.sub(r"(^|\|)\^", r"\1", pattern) + ")"

        groups = {}
        for name, rule in self.vit.group_matcher(coarse).items():
            if isinstance(rule, str):
                groups[name] = under_vit(rule)
            else:
                groups[name] = [(under_vit(pattern), order) for pattern, order in rule]
        if self.denoiser is not None:
            blocks = groups["blocks"]
            groups["blocks"] = (
                [(blocks, None), (r"^denoiser", (100000,))] if isinstance(blocks, str) else blocks + [(r"^denoiser", (100000,))]
            )
        return groups

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.vit.set_grad_checkpointing(enable)
        if self.denoiser is not None:
            self.denoiser.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.vit.get_classifier()

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.vit.reset_classifier(num_classes, global_pool)

    def _check_input(self, x: torch.Tensor) -> Tuple[int, int]:
        """Validate the image batch; its patch grid."""
        check_image_input(x, self.in_chans, max(self.patch_size), f"dvt({type(self.vit).__name__})")
        if getattr(self.vit, "dynamic_img_size", False):
            return tuple(self.vit.patch_embed.dynamic_feat_size(x.shape[-2:]))
        return tuple(self.vit.patch_embed.grid_size)

    def _denoise_tokens(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """The token sequence with its patch tokens replaced by their denoised version."""
        if self.denoiser is None:
            return tokens
        prefix, patches = tokens[:, : self.vit.num_prefix_tokens], tokens[:, self.vit.num_prefix_tokens :]
        B, _, C = patches.shape
        denoised = self.denoiser(patches.reshape(B, grid[0], grid[1], C)).reshape(B, -1, C)
        return torch.cat([prefix, denoised], dim=1)

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Block maps and the denoised map (see the class doc); the final output is :meth:`forward_features`."""
        check_output_fmt(output_fmt, ("NCHW", "NLC"))
        grid = self._check_input(x)
        depth = len(self.vit.blocks)
        take_indices, _ = feature_take_indices(depth + 1, indices)
        block_indices = [i for i in take_indices if i < depth]
        with_dense_output = depth in take_indices
        if intermediates_only and not with_dense_output:
            return self.vit.forward_intermediates(
                x, block_indices, norm=norm, stop_early=stop_early, output_fmt=output_fmt, intermediates_only=True
            )
        if block_indices:
            tokens, intermediates = self.vit.forward_intermediates(x, block_indices, norm=norm, output_fmt=output_fmt)
        else:
            tokens, intermediates = self.vit.forward_features(x), []
        tokens = self._denoise_tokens(tokens, grid)
        if with_dense_output:
            dense = tokens[:, self.vit.num_prefix_tokens :]
            if output_fmt == "NCHW":
                dense = dense.transpose(1, 2).reshape(dense.shape[0], -1, *grid)
            intermediates.append(dense)
        return intermediates if intermediates_only else (tokens, intermediates)

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        """Drop what the requested maps do not need; the dense output needs every block and the final norm."""
        depth = len(self.vit.blocks)
        take_indices, max_index = feature_take_indices(depth + 1, indices)
        with_dense_output = max_index == depth
        self.vit.prune_intermediate_layers(
            [min(max_index, depth - 1)], prune_norm=prune_norm and not with_dense_output, prune_head=prune_head
        )
        if not with_dense_output:
            self.denoiser = None
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        grid = self._check_input(x)
        return self._denoise_tokens(self.vit.forward_features(x), grid)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.vit.forward_head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _to_wrapper_keys(state_dict: Mapping) -> dict:
    """Authors' keys -> :class:`DenoisedViT`'s (``vit.*``, ``denoiser.block.*``, ``denoiser.pos_embed``).

    Their ``Denoiser`` holds ``denoiser.*`` (the block), ``pos_embed`` and, with a ViT attached,
    ``vit.model.*``; their distilled ``PretrainedViTWrapper`` holds ``model.*`` (timm's ViT keys).
    """
    out = {}
    for key, value in strip_prefixes(state_dict).items():
        if key == "pos_embed":
            key = "denoiser.pos_embed"
        elif key.startswith("denoiser.") and not key.startswith(("denoiser.block.", "denoiser.pos_embed")):
            key = "denoiser.block." + key[len("denoiser."):]
        elif key.startswith(("vit.model.", "model.")):
            key = "vit." + key.split("model.", 1)[1]
        out[key] = value
    return out


def _resize_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    if pos_embed.shape[1] == grid[0] * grid[1]:
        return pos_embed
    side = math.isqrt(pos_embed.shape[1])
    if side * side != pos_embed.shape[1]:
        raise CheckpointError(f"denoiser pos_embed of {pos_embed.shape[1]} positions is not a square grid")
    return resample_abs_pos_embed(pos_embed, list(grid), old_size=[side, side], num_prefix_tokens=0)


def denoiser_checkpoint_filter_fn(state_dict: Mapping, model: DVTDenoiser) -> dict:
    """An authors' denoiser file (``torch.load(p)['denoiser']``), or a wrapper's, -> :class:`DVTDenoiser`."""
    converted = _to_wrapper_keys(unwrap_state_dict(state_dict))
    out = {k[len("denoiser."):]: v for k, v in converted.items() if k.startswith("denoiser.")}
    if not out:
        out = {k: v for k, v in converted.items() if k.startswith(("block.", "pos_embed"))}
    if not out:
        raise CheckpointError(
            "this checkpoint holds no denoiser weights (keys such as "
            f"{sorted(converted)[:3]}); a distilled DVT ViT loads into dvt_distilled_<vit name>"
        )
    if "pos_embed" in out:
        out["pos_embed"] = _resize_pos_embed(out["pos_embed"], model.grid_size)
    return out


def checkpoint_filter_fn(state_dict: Mapping, model: DenoisedViT) -> dict:
    """An authors' denoiser, distilled ViT or full file (or vitzoo's layout) -> :class:`DenoisedViT`.

    A denoiser-only file leaves the ViT with the weights it was built with (timm's pretrained ones when
    created with ``pretrained=True``); the denoiser's position table is resized to the model's grid.
    """
    out = _to_wrapper_keys(unwrap_state_dict(state_dict))
    has_vit = any(k.startswith("vit.") for k in out)
    has_denoiser = any(k.startswith("denoiser.") for k in out)
    if model.denoiser is None:
        if not has_vit:
            raise CheckpointError(
                "this checkpoint holds no ViT weights (a DVT denoiser file?): a distilled model needs the "
                "distilled ViT; load a denoiser file into dvt_<vit name> instead"
            )
        return {k: v for k, v in out.items() if not k.startswith("denoiser.")}
    if not has_denoiser and has_vit:
        raise CheckpointError(
            "this checkpoint holds a ViT but no denoiser (a DVT distilled file?): load it with "
            "dvt_distilled_<vit name>, which needs no denoiser"
        )
    if not has_vit:
        out.update({f"vit.{k}": v for k, v in model.vit.state_dict().items()})
    if "denoiser.pos_embed" in out:
        out["denoiser.pos_embed"] = _resize_pos_embed(out["denoiser.pos_embed"], model.denoiser.grid_size)
    return out


def _resolve_cfg(variant: str, kwargs: dict) -> PretrainedCfg:
    """The pretrained cfg build_model will use (resolved once, passed on in ``kwargs``), for its tag."""
    cfg = resolve_pretrained_cfg(
        variant, pretrained_cfg=kwargs.pop("pretrained_cfg", None), pretrained_cfg_overlay=kwargs.pop("pretrained_cfg_overlay", None)
    )
    kwargs["pretrained_cfg"] = cfg
    return cfg


def _create_denoiser(variant: str, pretrained: bool = False, **kwargs) -> DVTDenoiser:
    if kwargs.pop("features_only", False):
        raise ValueError(f"{variant} maps features to features; for feature maps of images use dvt_<vit name>")
    return build_model(
        DVTDenoiser,
        variant,
        pretrained,
        denoiser_checkpoint_filter_fn,
        kwargs_filter=("num_classes", "global_pool", "in_chans"),
        **kwargs,
    )


def _create_dvt(variant: str, pretrained: bool = False, **kwargs) -> DenoisedViT:
    """``dvt_[distilled_]<timm ViT>``; with a denoiser file the ViT's weights come from timm (``vit_pretrained``)."""
    distilled = variant.startswith("dvt_distilled_")
    vit_name = variant[len("dvt_distilled_" if distilled else "dvt_"):]
    vit_pretrained = kwargs.pop("vit_pretrained", True) and pretrained and not distilled
    if pretrained:
        cfg = _resolve_cfg(variant, kwargs)
        if vit_pretrained and cfg.tag:
            vit_name = f"{vit_name}.{cfg.tag.rsplit('_', 1)[0]}"  # tags are <timm tag>_<DVT training set>
    return build_model(
        DenoisedViT,
        variant,
        pretrained,
        checkpoint_filter_fn,
        (-1,),
        vit=vit_name,
        denoise=not distilled,
        vit_pretrained=vit_pretrained,
        **kwargs,
    )


_HUB = "jjiaweiyang/DVT"
_PAPER = dict(
    origin_url="https://github.com/Jiawei-Yang/Denoising-ViT",
    paper_ids="arXiv:2401.02957",
    paper_name="Denoising Vision Transformers",
)

# timm ViT (name.tag) -> (short name, denoiser-alone model, folders of the authors' Hub repo with a file for it),
# from the DVT README's tables.
_RELEASES = {
    "vit_small_patch14_dinov2.lvd142m": ("dinov2", "dvt_denoiser_vits14", ("voc_denoised",)),
    "vit_base_patch14_dinov2.lvd142m": (
        "dinov2", "dvt_denoiser_vitb14", ("imgnet_denoised", "voc_denoised", "imgnet_distilled", "voc_distilled")
    ),
    "vit_large_patch14_dinov2.lvd142m": ("dinov2", "dvt_denoiser_vitl14", ("voc_denoised",)),
    "vit_small_patch14_reg4_dinov2.lvd142m": ("dinov2_reg4", "dvt_denoiser_vits14", ("voc_denoised",)),
    "vit_base_patch14_reg4_dinov2.lvd142m": ("dinov2_reg4", "dvt_denoiser_vitb14", ("voc_denoised", "voc_distilled")),
    "vit_large_patch14_reg4_dinov2.lvd142m": ("dinov2_reg4", "dvt_denoiser_vitl14", ("voc_denoised",)),
    "deit3_base_patch16_224.fb_in1k": ("deit3", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
    "vit_base_patch16_clip_384.laion2b_ft_in12k_in1k": ("clip", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
    "vit_base_patch16_224.dino": ("dino", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
    "vit_base_patch16_224.mae": ("mae", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
    "eva02_base_patch16_clip_224.merged2b": ("eva02", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
    "vit_base_patch16_384.augreg_in21k_ft_in1k": ("augreg", "dvt_denoiser_vitb16", ("voc_denoised", "voc_distilled")),
}


def _cfg(vit_with_tag: str, folder: str, image_size: int, **kwargs) -> dict:
    vit_cfg = get_pretrained_cfg(vit_with_tag)
    licenses = dict.fromkeys(["mit", vit_cfg.license or "unknown"])
    return dict(
        hf_hub_id=_HUB,
        hf_hub_filename=f"{folder}/{vit_with_tag}.pth",
        input_size=(3, image_size, image_size),
        interpolation="bicubic",
        crop_pct=1.0,
        crop_mode="squash",  # the authors resize to the training size, no crop
        mean=vit_cfg.mean,
        std=vit_cfg.std,
        license=" AND ".join(licenses),
        description=f"DVT {folder.replace('_', ' ')} for timm's {vit_with_tag}",
        **_PAPER,
        **kwargs,
    )


def _default_cfgs() -> dict:
    cfgs = {}
    for vit_with_tag, (short, denoiser, folders) in _RELEASES.items():
        arch, vit_tag = vit_with_tag.split(".")
        vit_cfg = get_pretrained_cfg(vit_with_tag)
        patch = int(re.search(r"patch(\d+)", arch).group(1))
        image_size = dvt_grid_size(patch) * patch
        for folder in folders:
            dataset, stage = folder.split("_")
            prefix = "dvt_distilled" if stage == "distilled" else "dvt"
            cfgs[f"{prefix}_{arch}.{vit_tag}_{dataset}"] = _cfg(
                vit_with_tag,
                folder,
                image_size,
                num_classes=0 if stage == "distilled" else vit_cfg.num_classes,
                first_conv="vit.patch_embed.proj",
                classifier="vit.head",
            )
            if stage == "denoised":
                # the ViT-B/14 denoiser also under a name whose cfg describes 224x224 images (a 16x16 grid)
                for name in [denoiser] + ([f"{denoiser}_224"] if denoiser == "dvt_denoiser_vitb14" else []):
                    size = 224 if name.endswith("_224") else image_size
                    cfgs[f"{name}.{short}_{dataset}"] = _cfg(
                        vit_with_tag, folder, size, num_classes=0, first_conv=None, classifier=None
                    )
    return generate_default_cfgs(cfgs)


default_cfgs = _default_cfgs()


@register_model
def dvt_denoiser_vits14(pretrained: bool = False, **kwargs) -> DVTDenoiser:
    return _create_denoiser("dvt_denoiser_vits14", pretrained, **dict(dict(embed_dim=384, grid_size=37), **kwargs))


@register_model
def dvt_denoiser_vitb14(pretrained: bool = False, **kwargs) -> DVTDenoiser:
    return _create_denoiser("dvt_denoiser_vitb14", pretrained, **dict(dict(embed_dim=768, grid_size=37), **kwargs))


@register_model
def dvt_denoiser_vitb14_224(pretrained: bool = False, **kwargs) -> DVTDenoiser:
    """The ViT-B/14 denoiser described for 224x224 images: a 16x16 grid, its 37x37 table resampled."""
    return _create_denoiser("dvt_denoiser_vitb14_224", pretrained, **dict(dict(embed_dim=768, grid_size=37), **kwargs))


@register_model
def dvt_denoiser_vitl14(pretrained: bool = False, **kwargs) -> DVTDenoiser:
    return _create_denoiser("dvt_denoiser_vitl14", pretrained, **dict(dict(embed_dim=1024, grid_size=37), **kwargs))


@register_model
def dvt_denoiser_vitb16(pretrained: bool = False, **kwargs) -> DVTDenoiser:
    return _create_denoiser("dvt_denoiser_vitb16", pretrained, **dict(dict(embed_dim=768, grid_size=32), **kwargs))


@register_model
def dvt_vit_small_patch14_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_small_patch14_dinov2", pretrained, **kwargs)


@register_model
def dvt_vit_base_patch14_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_base_patch14_dinov2", pretrained, **kwargs)


@register_model
def dvt_vit_large_patch14_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_large_patch14_dinov2", pretrained, **kwargs)


@register_model
def dvt_vit_small_patch14_reg4_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_small_patch14_reg4_dinov2", pretrained, **kwargs)


@register_model
def dvt_vit_base_patch14_reg4_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_base_patch14_reg4_dinov2", pretrained, **kwargs)


@register_model
def dvt_vit_large_patch14_reg4_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_large_patch14_reg4_dinov2", pretrained, **kwargs)


@register_model
def dvt_deit3_base_patch16_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_deit3_base_patch16_224", pretrained, **kwargs)


@register_model
def dvt_vit_base_patch16_clip_384(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_base_patch16_clip_384", pretrained, **kwargs)


@register_model
def dvt_vit_base_patch16_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    """DINO (``dino_*`` tags) and MAE (``mae_*``) ViT-B/16: one timm architecture, two weight sets."""
    return _create_dvt("dvt_vit_base_patch16_224", pretrained, **kwargs)


@register_model
def dvt_eva02_base_patch16_clip_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_eva02_base_patch16_clip_224", pretrained, **kwargs)


@register_model
def dvt_vit_base_patch16_384(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_vit_base_patch16_384", pretrained, **kwargs)


@register_model
def dvt_distilled_vit_base_patch14_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_vit_base_patch14_dinov2", pretrained, **kwargs)


@register_model
def dvt_distilled_vit_base_patch14_reg4_dinov2(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_vit_base_patch14_reg4_dinov2", pretrained, **kwargs)


@register_model
def dvt_distilled_deit3_base_patch16_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_deit3_base_patch16_224", pretrained, **kwargs)


@register_model
def dvt_distilled_vit_base_patch16_clip_384(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_vit_base_patch16_clip_384", pretrained, **kwargs)


@register_model
def dvt_distilled_vit_base_patch16_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_vit_base_patch16_224", pretrained, **kwargs)


@register_model
def dvt_distilled_eva02_base_patch16_clip_224(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_eva02_base_patch16_clip_224", pretrained, **kwargs)


@register_model
def dvt_distilled_vit_base_patch16_384(pretrained: bool = False, **kwargs) -> DenoisedViT:
    return _create_dvt("dvt_distilled_vit_base_patch16_384", pretrained, **kwargs)
