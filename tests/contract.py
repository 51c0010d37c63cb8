"""The timm contract every vitzoo model keeps; family tests call these on a small variant.

Each check builds its own model so that the families' tests stay independent; keep inputs small.
"""
from __future__ import annotations

import timm
import torch

import vitzoo  # noqa: F401  (registers the models)


def _input(model, size, batch=2):
    in_chans = getattr(model, "in_chans", 3)
    return torch.randn(batch, in_chans, *size)


def check_forward_api(model_name: str, size=(224, 224), **kwargs) -> None:
    """forward == forward_head(forward_features); pre_logits; reset_classifier; group_matcher; no_weight_decay."""
    model = timm.create_model(model_name, num_classes=10, **kwargs).eval()
    x = _input(model, size)
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (2, 10)
        feats = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(feats), logits)
        pre = model.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, model.num_features), (pre.shape, model.num_features)
        model.reset_classifier(5)
        assert model(x).shape == (2, 5)
        model.reset_classifier(0)
        assert model(x).shape == (2, model.num_features)
    matcher = model.group_matcher()
    assert "stem" in matcher and "blocks" in matcher
    coarse = model.group_matcher(coarse=True)
    assert "blocks" in coarse
    nwd = model.no_weight_decay()
    names = dict(model.named_parameters())
    assert all(n in names or any(p.startswith(n) for p in names) for n in nwd), nwd


def check_grad_checkpointing_and_backward(model_name: str, size=(224, 224), **kwargs) -> None:
    """Same output with gradient checkpointing on; every parameter gets a gradient."""
    model = timm.create_model(model_name, num_classes=10, drop_path_rate=0.0, **kwargs).train()
    x = _input(model, size)
    torch.manual_seed(1)
    ref = model(x)
    ref.sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:10]}"
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    model.set_grad_checkpointing(True)
    torch.manual_seed(1)
    out = model(x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    for n, p in model.named_parameters():
        if n in grads:
            torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5, msg=lambda m: f"{n}: {m}")


def check_features(model_name: str, size, reductions, **kwargs) -> list[torch.Tensor]:
    """features_only=True returns NCHW maps at the given reductions, equal to forward_intermediates."""
    model = timm.create_model(model_name, features_only=True, **kwargs).eval()
    x = _input(model, size, batch=1)
    with torch.no_grad():
        feats = model(x)
    assert len(feats) == len(reductions), [f.shape for f in feats]
    for f, r, ch in zip(feats, reductions, model.feature_info.channels()):
        expected = (1, ch, -(-size[0] // r), -(-size[1] // r))
        assert tuple(f.shape) == expected, (tuple(f.shape), expected)
    assert list(model.feature_info.reduction()) == list(reductions)
    return feats


def check_intermediates_match_features_only(model_name: str, size=(224, 224), **kwargs) -> None:
    """forward_intermediates agrees with forward_features and with a features_only model of the same weights."""
    full = timm.create_model(model_name, **kwargs).eval()
    feats_model = timm.create_model(
        model_name, features_only=True, pretrained=True,
        pretrained_cfg_overlay=dict(state_dict=full.state_dict()), **kwargs,
    ).eval()
    x = _input(full, size, batch=1)
    with torch.no_grad():
        final, inter = full.forward_intermediates(x)
        torch.testing.assert_close(final, full.forward_features(x))
        only = full.forward_intermediates(x, intermediates_only=True)
        for a, b, c in zip(inter, only, feats_model(x)):
            torch.testing.assert_close(a, b)
            torch.testing.assert_close(a, c)
        last = full.forward_intermediates(x, indices=1, intermediates_only=True)
        assert len(last) == 1
        torch.testing.assert_close(last[0], inter[-1])
