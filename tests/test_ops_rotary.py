"""The rotary embedding op (RMT's theta shift): the Triton kernel (CPU interpreter here) against timm's torch path."""
import warnings

import pytest
import torch
from timm.layers import apply_rot_embed

from op_inputs import in_nan_storage
from vitzoo.ops import _dispatch, attention_backend, rotary_embedding


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(_dispatch, "_WARNED", set())


def _tables(H, W, d, dtype=torch.float32):
    """RMT-like sin/cos (H, W, 1, d): one angle per pair, repeated for its two lanes."""
    angle = torch.rand(H, W, 1, d // 2).repeat_interleave(2, -1) * 50
    return angle.sin().to(dtype), angle.cos().to(dtype)


def _output_and_grad(x, sin, cos, backend, grad_out=None):
    with attention_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would compare torch with itself
        out = rotary_embedding(x, sin, cos)
    grad_out = torch.linspace(-1, 1, out.numel()).reshape(out.shape).to(out.dtype) if grad_out is None else grad_out
    return out, torch.autograd.grad(out, x, grad_out)[0]


# (B, H, W, heads, d): RMT-T stage 1 and 3 heads, a head dim that pads to 64 lanes, one pair, many rows per program
@pytest.mark.parametrize("shape", [(2, 5, 7, 4, 16), (1, 3, 3, 8, 32), (2, 3, 5, 3, 48), (1, 2, 3, 1, 2),
                                   (3, 17, 11, 2, 8)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_kernel_matches_timm_rotation(shape, dtype):
    x = torch.randn(shape).to(dtype).requires_grad_()
    sin, cos = _tables(*shape[1:3], shape[-1])
    out, dx = _output_and_grad(x, sin, cos, "triton")
    expected_out, expected_dx = _output_and_grad(x, sin, cos, "torch")
    assert out.dtype == dtype
    # forward: the same float32 arithmetic, rounded once to x's dtype, as timm's
    torch.testing.assert_close(out, expected_out, rtol=1e-6, atol=1e-6)
    # backward: float32 math rounded once, where torch rounds each term to x's dtype before summing them
    x64 = x.detach().double().requires_grad_()
    _, dx64 = _output_and_grad(x64, sin.double(), cos.double(), "torch", torch.linspace(-1, 1, x.numel()).reshape(
        shape).to(dtype).double())
    bound = 1e-6 if dtype == torch.float32 else 2e-3
    assert (dx.double() - dx64).abs().max() <= bound
    assert (dx.double() - dx64).abs().max() <= (expected_dx.double() - dx64).abs().max() + bound / 2


def test_rotation_of_one_pair_by_a_quarter_turn():
    x = torch.tensor([1.0, 2.0]).view(1, 1, 1, 1, 2)
    sin, cos = torch.ones(1, 1, 1, 2), torch.zeros(1, 1, 1, 2)
    with attention_backend("triton"):
        assert rotary_embedding(x, sin, cos).flatten().tolist() == [-2.0, 1.0]  # (x0, x1) -> (-x1, x0)


def test_kernel_reads_nothing_outside_its_tensors():
    """x, the tables and the output gradient inside NaN-filled storage: any read past them would show as NaN."""
    x = torch.randn(2, 3, 5, 3, 48)
    sin, cos = _tables(3, 5, 48)
    grad_out = torch.randn_like(x)
    guarded = [in_nan_storage(t) for t in (x, sin, cos, grad_out)]
    out, dx = _output_and_grad(guarded[0].requires_grad_(), *guarded[1:3], "triton", guarded[3])
    expected_out, expected_dx = _output_and_grad(x.requires_grad_(), sin, cos, "triton", grad_out)
    assert out.isfinite().all() and dx.isfinite().all()
    assert torch.equal(out, expected_out) and torch.equal(dx, expected_dx)


def test_strided_input_is_rotated_as_its_values():
    x = torch.randn(2, 4, 3, 5, 16).permute(0, 2, 1, 3, 4)  # (2, 3, 4, 5, 16), not contiguous
    sin, cos = _tables(3, 4, 16)
    with attention_backend("triton"):
        out = rotary_embedding(x, sin, cos)
    torch.testing.assert_close(out, apply_rot_embed(x, sin, cos), rtol=1e-6, atol=1e-6)


def test_cpu_default_is_torch_and_xformers_forced_is_passed_over_silently():
    x = torch.randn(1, 2, 2, 1, 4)
    sin, cos = _tables(2, 2, 4)
    assert _dispatch.resolve("rotary_embedding", "cpu", x, sin, cos)[0] == "torch"
    with attention_backend("xformers"), warnings.catch_warnings():
        warnings.simplefilter("error")  # xformers has no rotary op: nothing to warn about
        assert _dispatch.resolve("rotary_embedding", "cpu", x, sin, cos)[0] == "torch"
        assert _dispatch.resolve("rotary_embedding", "cuda", x, sin, cos)[0] == "triton"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda x, sin, cos: (x.bfloat16(), sin, cos), "supported on cpu"),  # the interpreter's bf16 is wrong
        (lambda x, sin, cos: (x, sin.requires_grad_(), cos), "no gradient for the sin/cos tables"),
    ],
)
def test_fallback_warns_once_with_reason(make, reason):
    sin, cos = _tables(2, 3, 8)
    x, sin, cos = make(torch.randn(1, 2, 3, 2, 8), sin, cos)
    with attention_backend("triton"), pytest.warns(UserWarning, match=reason):
        out = rotary_embedding(x, sin, cos)
    torch.testing.assert_close(out, apply_rot_embed(x, sin, cos))


@pytest.mark.parametrize(
    "x_shape, table_shape, match",
    [
        ((1, 2, 3, 2), (2, 3, 1, 2), r"\(B, H, W, heads, d\) map"),
        ((1, 2, 3, 2, 5), (2, 3, 1, 5), "even head dim"),
        ((1, 2, 3, 2, 8), (3, 2, 1, 8), r"sin must be \(H, W, 1, d\) = \(2, 3, 1, 8\)"),
        ((1, 2, 3, 2, 8), (2, 3, 2, 8), r"sin must be \(H, W, 1, d\)"),
    ],
)
def test_bad_input_raises(x_shape, table_shape, match):
    with pytest.raises(ValueError, match=match):
        rotary_embedding(torch.randn(x_shape), torch.randn(table_shape), torch.randn(table_shape))


def test_integer_input_raises():
    sin, cos = _tables(2, 3, 8)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        rotary_embedding(torch.ones(1, 2, 3, 2, 8, dtype=torch.int64), sin, cos)
