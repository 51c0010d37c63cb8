"""``build_model``: timm's ``build_model_with_cfg`` with vitzoo's safe, checked weight loading.

Every family's ``_create_*`` function calls :func:`build_model`.  When ``pretrained=True`` vitzoo
reads the weights itself (safetensors or ``weights_only=True``; see :mod:`vitzoo.checkpoint`), then
hands the state dict to timm, which runs the family's ``checkpoint_filter_fn``, adapts the classifier
and input channels, and wraps the model for ``features_only``.  Before timm loads, the converted
state dict is compared with the model so that a checkpoint of another architecture fails with a
message instead of a long list of missing keys.

Pretrained cfgs are :class:`VitzooPretrainedCfg`: timm's ``PretrainedCfg`` plus the SHA-256 of the
weight file, which :func:`vitzoo.hub.fetch_pretrained` checks after a download.  Family files build
their cfgs with this module's :func:`generate_default_cfgs` so that the registry (and a user's
``pretrained_cfg_overlay=dict(sha256=...)``) can carry it.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping

import torch.nn as nn
from timm.models import PretrainedCfg, build_model_with_cfg
from timm.models import generate_default_cfgs as timm_generate_default_cfgs
from timm.models._builder import resolve_pretrained_cfg

from ..checkpoint import CheckpointError, check_state_dict_matches, unwrap_state_dict
from ..hub import fetch_pretrained

__all__ = ["VitzooPretrainedCfg", "build_model", "generate_default_cfgs"]

FilterFn = Callable[[Mapping, nn.Module], dict]


@dataclasses.dataclass
class VitzooPretrainedCfg(PretrainedCfg):
    """timm's pretrained cfg plus ``sha256``: the SHA-256 of the file at ``url`` (or ``hf_hub_filename``).

    Record it only when the authors publish it; a download whose file name follows torch.hub's
    ``name-<sha256 prefix>.ext`` convention is checked against that prefix without it.
    """

    sha256: str | None = None

    def __post_init__(self):
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", str(self.sha256)):
            raise ValueError(
                f"pretrained cfg sha256 must be the 64 lowercase hex digits of the file's SHA-256 (as "
                f"`sha256sum FILE` prints it), got {self.sha256!r}"
            )


def generate_default_cfgs(cfgs: Mapping[str, Mapping[str, Any]]) -> dict:
    """timm's ``generate_default_cfgs`` for cfg dicts that may carry ``sha256``."""
    return timm_generate_default_cfgs({name: VitzooPretrainedCfg(**cfg) for name, cfg in cfgs.items()})


def _resolve_pretrained_cfg(variant: str, pretrained_cfg: Any, pretrained_cfg_overlay: Any) -> PretrainedCfg:
    # timm turns a cfg dict into its own PretrainedCfg, which has no sha256 field
    if isinstance(pretrained_cfg, Mapping):
        pretrained_cfg = VitzooPretrainedCfg(**pretrained_cfg)
    return resolve_pretrained_cfg(variant, pretrained_cfg=pretrained_cfg, pretrained_cfg_overlay=pretrained_cfg_overlay)


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    classifier = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if classifier is None:
        return ()
    names = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    return tuple(f"{name}." for name in names)


def _checked_filter(checkpoint_filter_fn: FilterFn, variant: str) -> FilterFn:
    def filter_fn(state_dict: Mapping, model: nn.Module) -> dict:
        try:
            converted = checkpoint_filter_fn(state_dict, model)
        except CheckpointError:
            raise
        except (KeyError, IndexError, RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"could not convert this checkpoint for {variant} ({type(e).__name__}: {e}); "
                "is it a checkpoint of this model family?"
            ) from e
        check_state_dict_matches(converted, model, variant, ignore_prefixes=_classifier_prefixes(model))
        return converted

    return filter_fn


def build_model(
    model_cls: Callable[..., nn.Module],
    variant: str,
    pretrained: bool,
    checkpoint_filter_fn: FilterFn,
    default_out_indices: int | tuple[int, ...] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build ``variant``; with ``pretrained=True`` load its weights through ``checkpoint_filter_fn``.

    ``features_only=True`` returns the maps of ``forward_intermediates`` at ``out_indices`` (a kwarg,
    else ``default_out_indices``; None: every level of the model's ``feature_info``, which the model's
    ``prune_intermediate_layers`` resolves as timm's ``feature_take_indices`` does).

    The weights come from ``pretrained_cfg_overlay=dict(file=PATH)`` when given, else from the
    pretrained cfg's URL or Hugging Face Hub file.  Models whose weights have no direct link raise
    an error that says where to download them and how to pass the file.
    """
    feature_cfg = dict(feature_cls="getter", out_indices=kwargs.pop("out_indices", default_out_indices))
    cfg = _resolve_pretrained_cfg(variant, kwargs.pop("pretrained_cfg", None), kwargs.pop("pretrained_cfg_overlay", None))
    if pretrained and cfg.state_dict is None:
        checkpoint = fetch_pretrained(variant, cfg.to_dict())
        kwargs["pretrained_cfg_overlay"] = dict(state_dict=unwrap_state_dict(checkpoint))
    kwargs["pretrained_cfg"] = cfg
    model = build_model_with_cfg(
        model_cls,
        variant,
        pretrained,
        pretrained_filter_fn=_checked_filter(checkpoint_filter_fn, variant),
        feature_cfg=feature_cfg,
        **kwargs,
    )
    # The loaded tensors must not stay alive through the model's config.
    model.pretrained_cfg.pop("state_dict", None)
    return model
