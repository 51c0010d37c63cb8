"""Decay-masked attention ops: the Triton kernels (CPU interpreter here) against the torch reference."""
import sys
import warnings

import pytest
import timm
import torch

from op_inputs import decay_inputs, decay_rates
from parity_utils import load_via_user_path
from vitzoo.ops import _dispatch, attention_backend, axial_decay_attention, decay_attention, decay_mask

# float16 kernels accumulate in fp32 like torch's reference, but round P and dS to fp16 before the products
# (as FlashAttention does): compare both to fp32 math with fp16-sized tolerances.
TOLERANCES = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float16: dict(rtol=1e-2, atol=1e-2)}
# rmt_t fixture: feature tolerance of test_rmt (the fixtures were recorded on another CPU).
FEATURE_ATOL = 1e-3


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    """Each test sees the dispatcher's once-per-reason warnings anew."""
    monkeypatch.setattr(_dispatch, "_WARNED", set())


def _outputs_and_grads(op, inputs, *args, backend, upcast=False):
    """Output and input gradients of ``op`` under ``backend`` (fp32 math on the same values with ``upcast``)."""
    leaves = [t.detach().float().requires_grad_() if upcast else t for t in inputs]
    with attention_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would compare the reference with itself
        out = op(*leaves, *args)
    grad_out = torch.linspace(-1, 1, out.numel()).reshape(out.shape).to(out.dtype)
    return (out, *torch.autograd.grad(out, leaves, grad_out))


def _assert_all_close(actual, expected, dtype):
    for name, a, e in zip(("output", "dq", "dk", "dv"), actual, expected):
        torch.testing.assert_close(a.float(), e.float(), **TOLERANCES[dtype], msg=lambda m: f"{name}: {m}")


def test_decay_mask_is_manhattan():
    decay = decay_rates(2)
    mask = decay_mask(decay, 3, 4)
    for i in range(12):
        for j in range(12):
            distance = abs(i // 4 - j // 4) + abs(i % 4 - j % 4)
            torch.testing.assert_close(mask[:, i, j], distance * decay, rtol=0, atol=0)
    column = torch.arange(5.0)
    torch.testing.assert_close(decay_mask(decay, 5, 1), (column[:, None] - column).abs() * decay[:, None, None])
    assert decay_mask(decay.half(), 2, 3).dtype == torch.float16


# (H, W): several key blocks and a partial one (the interpreter's blocks hold 32 tokens), one row, one
# column, one token.  Head dims 16 and 24: the second is padded to 32 inside the kernels.
@pytest.mark.parametrize("grid", [(5, 7), (1, 9), (3, 1), (1, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_decay_attention_matches_reference(grid, dtype):
    heads, L = 2, grid[0] * grid[1]
    inputs = decay_inputs((2, heads, L, 16), (2, heads, L, 24), dtype)
    args = (decay_rates(heads), grid)
    expected = _outputs_and_grads(decay_attention, inputs, *args, backend="torch", upcast=dtype != torch.float32)
    _assert_all_close(_outputs_and_grads(decay_attention, inputs, *args, backend="triton"), expected, dtype)


def test_cached_mask_is_what_torch_uses():
    q, k, v = decay_inputs((1, 2, 6, 16), (1, 2, 6, 16), torch.float32)
    decay = decay_rates(2)
    built = decay_attention(q, k, v, decay, (2, 3))
    torch.testing.assert_close(decay_attention(q, k, v, decay, (2, 3), decay_mask(decay, 2, 3)), built)


# W = 33: the W pass has two key blocks, the second with one token; H = 3 and W = 2: short odd passes.
@pytest.mark.parametrize("grid", [(3, 33), (4, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_axial_decay_attention_matches_reference(grid, dtype):
    heads = 2
    inputs = decay_inputs((1, *grid, heads, 16), (1, *grid, heads, 16), dtype)
    args = (decay_rates(heads),)
    expected = _outputs_and_grads(axial_decay_attention, inputs, *args, backend="torch", upcast=dtype != torch.float32)
    _assert_all_close(_outputs_and_grads(axial_decay_attention, inputs, *args, backend="triton"), expected, dtype)


def test_axial_is_w_then_h_with_1d_masks():
    decay = decay_rates(2)
    q, k, v = decay_inputs((1, 3, 4, 2, 16), (1, 3, 4, 2, 16), torch.float32)
    expected = axial_decay_attention(q, k, v, decay, (decay_mask(decay, 3, 1), decay_mask(decay, 1, 4)))
    with attention_backend("triton"):
        torch.testing.assert_close(axial_decay_attention(q, k, v, decay), expected)


def test_broadcast_gradient_of_a_sum():
    """``out.sum().backward()`` hands the kernels a zero-stride gradient."""
    decay = decay_rates(1)
    q, k, v = decay_inputs((1, 2, 3, 1, 16), (1, 2, 3, 1, 16), torch.float32)
    with attention_backend("triton"):
        axial_decay_attention(q, k, v, decay).sum().backward()
    grads = [t.grad for t in (q, k, v)]
    expected = torch.autograd.grad(axial_decay_attention(q, k, v, decay).sum(), (q, k, v))
    for grad, ref in zip(grads, expected):
        torch.testing.assert_close(grad, ref)


def _args_4d(dtype=torch.float32):
    return (*decay_inputs((1, 2, 6, 16), (1, 2, 6, 16), dtype), decay_rates(2), (2, 3))


def test_cpu_default_is_torch_and_forced_triton_runs():
    args = _args_4d()
    assert _dispatch.resolve("decay_attention", "cpu", *args, None)[0] == "torch"
    with attention_backend("triton"):
        assert _dispatch.resolve("decay_attention", "cpu", *args, None)[0] == "triton"


@pytest.mark.parametrize(
    "breaks_triton, dtype, reason",
    [
        (lambda mp: mp.setattr("vitzoo.ops._triton_decay.INTERPRETED", False), torch.float32, "TRITON_INTERPRET=1"),
        (lambda mp: None, torch.bfloat16, "bfloat16 is not supported on cpu"),
    ],
)
def test_fallback_warns_once_with_reason(monkeypatch, breaks_triton, dtype, reason):
    breaks_triton(monkeypatch)
    args = _args_4d(dtype)
    with attention_backend("triton"):
        with pytest.warns(UserWarning, match=reason):
            out = decay_attention(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            decay_attention(*args)  # same reason: no second warning
    with attention_backend("torch"):
        torch.testing.assert_close(out, decay_attention(*args))


def test_fallback_when_triton_does_not_import(monkeypatch):
    import vitzoo.ops

    monkeypatch.delattr(vitzoo.ops, "_triton_decay")
    monkeypatch.setitem(sys.modules, "vitzoo.ops._triton_decay", None)
    with attention_backend("triton"), pytest.warns(UserWarning, match="triton does not import"):
        decay_attention(*_args_4d())


def test_fallback_for_learnable_decay():
    q, k, v, decay, grid = _args_4d()
    decay.requires_grad_()
    with attention_backend("triton"), pytest.warns(UserWarning, match="no gradient for decay"):
        decay_attention(q, k, v, decay, grid).sum().backward()
    assert decay.grad is not None


def test_cuda_rules_refuse_fp32_beyond_head_dim_64_but_the_interpreter_runs_it():
    from vitzoo.ops.decay_attention import kernel_refusal

    decay = decay_rates(2)
    wide = torch.zeros(1, 2, 6, 128)
    assert "float32 at head dims above 64 would spill" in kernel_refusal(wide, wide, decay, "cuda")
    assert "bf16/fp16 autocast" in kernel_refusal(wide, wide, decay, "cuda")
    assert kernel_refusal(wide.half(), wide.half(), decay, "cuda") is None
    assert kernel_refusal(wide[..., :64], wide[..., :64], decay, "cuda") is None
    assert kernel_refusal(wide, wide, decay, "cpu") is None
    assert "bfloat16 is not supported on cpu" in kernel_refusal(wide.bfloat16(), wide.bfloat16(), decay, "cpu")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: {**a, "grid": (3, 3)}, r"expected \(1, 2, 9\)"),
        (lambda a: {**a, "decay": a["decay"][:1]}, r"expected \(1, 1, 6\)"),
        (lambda a: {**a, "decay": a["decay"][None]}, "decay must be a 1-D float tensor"),
        (lambda a: {**a, "k": a["k"][..., :8]}, "q and k must have the same shape"),
        (lambda a: {**a, "v": a["v"].double()}, "same float dtype"),
    ],
)
def test_bad_input_raises(change, match):
    q, k, v, decay, grid = _args_4d()
    args = change(dict(q=q, k=k, v=v, decay=decay, grid=grid))
    with pytest.raises(ValueError, match=match):
        decay_attention(args["q"], args["k"], args["v"], args["decay"], args["grid"])


def test_axial_bad_input_raises():
    q, k, v = decay_inputs((1, 3, 4, 2, 16), (1, 3, 5, 2, 16), torch.float32)
    with pytest.raises(ValueError, match="v has shape"):
        axial_decay_attention(q, k, v, decay_rates(2))


@pytest.mark.parametrize("stage", [1, 3])  # decomposed (28 x 28) and full (7 x 7) attention
def test_rmt_t_fixture_stage_with_triton(stage, tmp_path):
    """The authors' stage outputs with the Triton kernels forced (a whole forward under the interpreter
    takes minutes): the stage's input is the fixture's previous feature map, first image only."""
    model, fx = load_via_user_path("rmt_t", "rmt_t", tmp_path)
    x = fx.features[str(stage - 1)][:1].permute(0, 2, 3, 1)
    expected = fx.features[str(stage)][:1].permute(0, 2, 3, 1)
    with torch.no_grad():
        with attention_backend("triton"), warnings.catch_warnings():
            warnings.simplefilter("error")
            out = model.layers[stage](x)
        reference = model.layers[stage](x)
    torch.testing.assert_close(out, expected, rtol=fx.rtol, atol=FEATURE_ATOL)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("stage", [1, 3])  # decomposed and full attention
def test_rmt_builds_no_masks_for_triton(stage):
    """The fused kernels compute the decay: an RMT-T stage run with Triton leaves its masks unbuilt; the torch
    backend then builds them, with the same output."""
    model = timm.create_model("rmt_t").eval()
    layer = model.layers[stage]
    x = torch.randn(1, 6, 10, layer.downsample.conv.in_channels)  # a 3 x 5 map after the stride-2 downsample
    with torch.no_grad():
        with attention_backend("triton"), warnings.catch_warnings():
            warnings.simplefilter("error")
            out = layer(x)
        (grid,) = layer.rel_pos._cache.values()
        assert "masks" not in vars(grid)  # functools.cached_property: never computed
        with attention_backend("torch"):
            reference = layer(x)
    assert [m.shape[-1] for m in vars(grid)["masks"]] == ([3, 5] if stage == 1 else [15])
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)


def _in_nan_storage(t: torch.Tensor, pad_tokens: int = 40, pad_dim: int = 8) -> torch.Tensor:
    """``t`` (..., L, d) as a view into NaN storage with extra tokens and channels after each row and map."""
    storage = torch.full((*t.shape[:-2], t.shape[-2] + pad_tokens, t.shape[-1] + pad_dim), float("nan"), dtype=t.dtype)
    return storage[..., : t.shape[-2], : t.shape[-1]].copy_(t.detach())


@pytest.mark.parametrize("grid", [(5, 7), (1, 33), (3, 1)])
def test_decay_kernels_read_nothing_outside_their_tensors(grid):
    """Partial token blocks and padded head dims next to NaN: a read past a tensor's rows or tokens would
    make NaN outputs or gradients."""
    heads, L = 2, grid[0] * grid[1]
    q, k, v, d_out = (torch.randn(1, heads, L, d) for d in (16, 16, 24, 24))
    decay = decay_rates(heads)
    results = []
    for wrap in (_in_nan_storage, torch.clone):
        inputs = [wrap(t).requires_grad_() for t in (q, k, v)]
        with attention_backend("triton"), warnings.catch_warnings():
            warnings.simplefilter("error")
            out = decay_attention(*inputs, decay, grid)
        results.append([out, *torch.autograd.grad(out, inputs, wrap(d_out))])
    for a, e in zip(*results):
        assert a.isfinite().all()
        torch.testing.assert_close(a, e, rtol=0, atol=0)


@pytest.mark.parametrize(
    "grid, mask, match",
    [
        ((-2, -3), None, r"grid_size must be the map's \(H, W\), two positive ints"),
        ((2, 3, 1), None, "grid_size must be"),
        ((2, 3), torch.zeros(2, 5, 5), r"cached decay mask shapes \[\(2, 5, 5\)\] do not match"),
    ],
)
def test_bad_grid_or_cached_mask_raises(grid, mask, match):
    q, k, v, decay, _ = _args_4d()
    with attention_backend("torch"), pytest.raises(ValueError, match=match):
        decay_attention(q, k, v, decay, grid, mask)


def test_a_backend_declining_automatic_selection_is_passed_over_silently_but_can_be_forced(monkeypatch):
    """How float32 decay attention stays on torch on CUDA (measured faster there) while Triton can be forced."""
    monkeypatch.setitem(_dispatch._REGISTRY, "probe_op", {})
    _dispatch.register("probe_op", "torch")(lambda x: "torch")
    _dispatch.register("probe_op", "triton", automatic=lambda x: "slower" if x == "slow" else None)(lambda x: "triton")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _dispatch.resolve("probe_op", "cuda", "fast")[0] == "triton"
        assert _dispatch.resolve("probe_op", "cuda", "slow")[0] == "torch"
        with attention_backend("triton"):
            assert _dispatch.resolve("probe_op", "cuda", "slow")[0] == "triton"
    # xformers has no implementation of this op: passed over, like the declining triton, without a warning
    assert [str(w.message) for w in caught] == []
