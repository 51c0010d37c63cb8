"""The timm contract every vitzoo model keeps; family tests call these on a small variant.

Each check builds its own model so that the families' tests stay independent; keep inputs small.
A family whose small variant passes the three main checks with the same arguments subclasses
:class:`ContractTests` instead of wrapping each check in a test of its own.
"""
from __future__ import annotations

from typing import Optional, Sequence

import pytest
import timm
import torch

import vitzoo  # noqa: F401  (registers the models)


def _input(model, size, batch=2):
    in_chans = getattr(model, "in_chans", 3)
    return torch.randn(batch, in_chans, *size)


def check_forward_api(model_name: str, size=(224, 224), **kwargs) -> None:
    """forward == forward_head(forward_features); pre_logits; reset_classifier (an unknown pool is refused);
    group_matcher; no_weight_decay."""
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
    # timm's heads assert on an unknown pool type, vitzoo's own raise a ValueError that lists the choices
    with pytest.raises((AssertionError, ValueError), match="(?i)pool"):
        model.reset_classifier(5, "no_such_pool")
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
    """features_only=True returns finite NCHW maps at the given reductions."""
    model = timm.create_model(model_name, features_only=True, **kwargs).eval()
    x = _input(model, size, batch=1)
    with torch.no_grad():
        feats = model(x)
    assert len(feats) == len(reductions), [f.shape for f in feats]
    for f, r, ch in zip(feats, reductions, model.feature_info.channels()):
        expected = (1, ch, -(-size[0] // r), -(-size[1] // r))
        assert tuple(f.shape) == expected, (tuple(f.shape), expected)
    assert list(model.feature_info.reduction()) == list(reductions)
    assert all(f.isfinite().all() for f in feats)
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


class ContractTests:
    """``class TestContract(contract.ContractTests)`` in a family's test file runs the three main checks.

    Set ``model_name`` (a small variant), ``size`` (the input of the forward and backward checks) and,
    when 224x224 is not right for it, ``intermediates_size``.
    """

    model_name: str
    size: tuple
    intermediates_size: tuple = (224, 224)

    def test_forward_api(self):
        check_forward_api(self.model_name, self.size)

    def test_grad_checkpointing_and_backward(self):
        check_grad_checkpointing_and_backward(self.model_name, self.size)

    def test_intermediates_match_features_only(self):
        check_intermediates_match_features_only(self.model_name, self.intermediates_size)


def check_bad_inputs(model_name: str, min_size: Optional[int], intermediates: bool = False) -> None:
    """A wrong channel count, a channels-last batch, integer pixels, a missing batch dimension and (with
    ``min_size``) too small an image fail with the message that says what to do; also in
    ``forward_intermediates`` with ``intermediates``."""
    model = timm.create_model(model_name).eval()
    cases = [
        (torch.randn(1, 1, 64, 64), ValueError, "expects 3 input channels"),
        (torch.randn(1, 64, 64, 3), ValueError, "channels-last"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), TypeError, "floating-point"),
        (torch.randn(3, 64, 64), ValueError, "4-D image batch.*unsqueeze"),
    ]
    if min_size is not None:
        cases.append((torch.randn(1, 3, min_size - 1, 64), ValueError, f"at least {min_size}x{min_size}"))
    forwards = (model, model.forward_intermediates) if intermediates else (model,)
    with torch.no_grad():
        for x, error, match in cases:
            for forward in forwards:
                with pytest.raises(error, match=match):
                    forward(x)


def check_param_counts(expected: dict, families: str | Sequence[str], rel: float = 0.0) -> dict:
    """Each model of ``expected`` has that many parameters (within ``rel`` of it), and ``expected`` names
    every model that ``timm.list_models(families)`` lists.  Returns the models, built on the meta device."""
    models = {}
    for name, params in expected.items():
        with torch.device("meta"):
            models[name] = timm.create_model(name)
        n = sum(p.numel() for p in models[name].parameters())
        assert abs(n - params) <= rel * params, (name, n, params)
    assert set(timm.list_models(families)) == set(expected)
    return models
