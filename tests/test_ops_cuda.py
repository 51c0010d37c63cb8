"""The Triton kernels compiled for and run on a CUDA GPU, against float64 math (skipped without a GPU).

The other op tests run the kernels under Triton's CPU interpreter; these run what a GPU user runs: the compiled
kernels at the models' stage shapes, in float32, float16 and bfloat16, forward and backward.  Each output and
gradient is compared by its relative error ``||a - ref|| / ||ref||`` to the torch reference computed in float64
on the CPU from the same (rounded) inputs; the torch backend's own error on the GPU is recorded beside it
(``pytest --junitxml``: properties ``<name>_triton``, ``<name>_torch``).
"""
import functools
import warnings

import pytest
import torch

from op_inputs import decay_inputs, decay_rates, in_nan_storage, window_inputs
from parity_utils import assert_fixture_close, load_via_user_path
from vitzoo.ops import _dispatch, _triton_window, attention_backend, axial_decay_attention, decay_attention
from vitzoo.ops import rotary_embedding, window_attention
from vitzoo.ops._dispatch import resolve

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Relative error bounds: float32 products run in IEEE fp32 (torch's TF32 flag is off by default); 16-bit
# kernels round probabilities and their gradients to the input dtype before the products, as FlashAttention does.
MAX_REL_ERROR = {torch.float32: 1e-5, torch.float16: 5e-3, torch.bfloat16: 3e-2}


@pytest.fixture(autouse=True)
def _exact_cuda_math(monkeypatch):
    """IEEE float32 in torch's products and convolutions (TF32 would exceed the float32 bounds), fresh warnings."""
    monkeypatch.setattr(_dispatch, "_WARNED", set())
    # torch's flags are properties of modules that monkeypatch cannot restore
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape
    actual = actual.detach().double().cpu()
    assert actual.isfinite().all(), "non-finite values"
    return ((actual - expected).norm() / expected.norm().clamp_min(1e-30)).item()


def _outputs_and_grads(op, leaves, args, backend):
    """Output and gradients of ``leaves`` of ``op(*leaves, *args)`` under ``backend``, no fallback allowed, for an
    output gradient drawn from a fixed seed (the same for every backend)."""
    with attention_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback would compare the reference with itself
        out = op(*leaves, *args)
    generator = torch.Generator(out.device).manual_seed(1)
    grad_out = torch.randn(out.shape, generator=generator, device=out.device, dtype=torch.float32).to(out.dtype)
    grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True, materialize_grads=True)
    return [out, *grads], grad_out


def _check_against_float64(op, leaves, args, names, dtype, record_property):
    """Triton and torch on the GPU against the torch reference in float64 on the CPU."""
    triton, grad_out = _outputs_and_grads(op, leaves, args, "triton")
    torch_gpu, _ = _outputs_and_grads(op, leaves, args, "torch")
    as_double = [t.detach().double().cpu().requires_grad_() for t in leaves]
    cpu_args = [a.double().cpu() if isinstance(a, torch.Tensor) else a for a in args]
    with attention_backend("torch"):
        out = op(*as_double, *cpu_args)
    reference = [out, *torch.autograd.grad(out, as_double, grad_out.double().cpu())]
    failures = []
    for name, t, g, e in zip(names, triton, torch_gpu, reference):
        err_triton, err_torch = _relative_error(t, e), _relative_error(g, e)
        record_property(f"{name}_triton", f"{err_triton:.3g}")
        record_property(f"{name}_torch", f"{err_torch:.3g}")
        if not err_triton <= MAX_REL_ERROR[dtype]:
            failures.append(f"{name}: relative error {err_triton:.3g} (torch on the GPU: {err_torch:.3g})")
    assert not failures, "; ".join(failures)


# (B, H, W, heads, head dim, window, shift): Swin-T stages 1, 3 and 4 at 224; odd maps with pad tokens in shifted
# windows; windows 12 and 16; window 8 at head dim 128 (SwinV2/Swin-L-like heads).
WINDOW_CASES = {
    "swin-t stage 1": (2, 56, 56, 3, 32, 7, 3),
    "swin-t stage 3": (2, 14, 14, 12, 32, 7, 3),
    "swin-t stage 4": (2, 7, 7, 24, 32, 7, 0),
    "odd map": (2, 9, 11, 2, 16, 7, 3),
    "window 12 head dim 64": (1, 13, 25, 2, 64, 12, 6),
    "window 12 head dim 32": (2, 30, 26, 4, 32, 12, 6),
    "window 16": (1, 33, 35, 2, 32, 16, 8),
    "window 8 head dim 128": (1, 16, 21, 2, 128, 8, 4),
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", WINDOW_CASES)
def test_window_attention_kernels(case, dtype, record_property):
    B, H, W, heads, head_dim, window, shift = WINDOW_CASES[case]
    if _triton_window.unsupported_reason(dtype, window, head_dim):
        pytest.skip(_triton_window.unsupported_reason(dtype, window, head_dim))
    leaves = list(window_inputs(B, H, W, heads, head_dim, window, dtype, device="cuda"))
    _check_against_float64(
        window_attention, leaves, (heads, window, shift), ("out", "d_x", "d_weight", "d_bias", "d_table"), dtype,
        record_property,
    )


@pytest.mark.parametrize("per_program", [1, 3, 16])
def test_window_backward_groups_windows_per_program(monkeypatch, per_program, record_property):
    """The dq kernel's loop over several windows per program (training batches), with a ragged last group."""
    monkeypatch.setattr(_triton_window, "_windows_per_program", lambda *launch: per_program)
    leaves = list(window_inputs(5, 28, 28, 3, 32, 7, torch.bfloat16, device="cuda"))
    _check_against_float64(
        window_attention, leaves, (3, 7, 3), ("out", "d_x", "d_weight", "d_bias", "d_table"), torch.bfloat16,
        record_property,
    )


def test_window_backward_at_a_training_batch(record_property):
    """Swin-T stage 1 at batch 128: the launch groups windows per dq program as it chooses on its own."""
    leaves = list(window_inputs(128, 56, 56, 3, 32, 7, torch.bfloat16, device="cuda"))
    _check_against_float64(
        window_attention, leaves, (3, 7, 3), ("out", "d_x", "d_weight", "d_bias", "d_table"), torch.bfloat16,
        record_property,
    )


# Full attention (B, heads, L, d) on an (H, W) grid: RMT-T stages 3 and 4 at 224, partial blocks, head dim 64.
DECAY_CASES = {
    "rmt-t stage 3": (2, 8, (14, 14), 32),
    "rmt-t stage 4": (2, 16, (7, 7), 32),
    "partial blocks": (2, 2, (5, 13), 16),
    "head dim 64": (1, 4, (9, 13), 64),
}
# Axial attention (B, H, W, heads, d): RMT-T stages 1 and 2 at 224, a long odd row.
AXIAL_CASES = {
    "rmt-t stage 1": (2, 56, 56, 4, 16),
    "rmt-t stage 2": (2, 28, 28, 4, 32),
    "long odd rows": (1, 3, 133, 2, 32),
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", DECAY_CASES)
def test_decay_attention_kernels(case, dtype, record_property):
    B, heads, grid, d = DECAY_CASES[case]
    L = grid[0] * grid[1]
    leaves = decay_inputs((B, heads, L, d), (B, heads, L, d), dtype, "cuda")
    args = (decay_rates(heads, "cuda"), grid)
    _check_against_float64(decay_attention, leaves, args, ("out", "dq", "dk", "dv"), dtype, record_property)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", AXIAL_CASES)
def test_axial_decay_attention_kernels(case, dtype, record_property):
    B, H, W, heads, d = AXIAL_CASES[case]
    leaves = decay_inputs((B, H, W, heads, d), (B, H, W, heads, d), dtype, "cuda")
    args = (decay_rates(heads, "cuda"),)
    _check_against_float64(axial_decay_attention, leaves, args, ("out", "dq", "dk", "dv"), dtype, record_property)


# RMT's theta shift (B, H, W, heads, d): RMT-T stages 1 and 3 at 224, an odd map with a head dim of 48 (padded lanes).
ROTARY_CASES = {
    "rmt-t stage 1": (2, 56, 56, 4, 16),
    "rmt-t stage 3": (2, 14, 14, 8, 32),
    "odd map, head dim 48": (1, 5, 9, 3, 48),
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", ROTARY_CASES)
def test_rotary_embedding_kernel(case, dtype, record_property):
    B, H, W, heads, d = ROTARY_CASES[case]
    x = torch.randn(B, H, W, heads, d, device="cuda").to(dtype).requires_grad_()
    angle = torch.rand(H, W, 1, d // 2, device="cuda").repeat_interleave(2, -1) * 100  # float32 tables, as RMT's
    _check_against_float64(rotary_embedding, [x], (angle.sin(), angle.cos()), ("out", "dx"), dtype, record_property)


def test_float32_decay_beyond_head_dim_64_falls_back_with_one_warning():
    q, k, v = decay_inputs((1, 2, 12, 128), (1, 2, 12, 128), torch.float32, "cuda")
    with attention_backend("triton"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = decay_attention(q, k, v, decay_rates(2, "cuda"), (3, 4))
        decay_attention(q, k, v, decay_rates(2, "cuda"), (3, 4))
    # one warning per refused backend: triton's (and xformers' where it is not installed)
    messages = [str(w.message) for w in caught if "vitzoo decay_attention: the triton backend" in str(w.message)]
    assert len(messages) == 1 and "bf16/fp16 autocast" in messages[0]
    with attention_backend("torch"):
        torch.testing.assert_close(out, decay_attention(q, k, v, decay_rates(2, "cuda"), (3, 4)))


def test_cuda_tensors_default_to_triton_except_float32_decay():
    x, weight, bias, table = window_inputs(1, 7, 7, 1, 32, 7, torch.bfloat16, device="cuda")
    assert resolve("window_attention", "cuda", x, weight, bias, table, 1, 7, 0, 0.0)[0] == "triton"
    q = decay_inputs((1, 2, 12, 32), (1, 2, 12, 32), torch.bfloat16, "cuda")[0]
    assert resolve("decay_attention", "cuda", q, q, q, decay_rates(2, "cuda"), (3, 4), None)[0] == "triton"
    q = q.float()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve("decay_attention", "cuda", q, q, q, decay_rates(2, "cuda"), (3, 4), None)[0] == "torch"
    # passed over for speed, not refused: no warning for triton (xformers warns where it is not installed)
    assert [str(w.message) for w in caught if "triton" in str(w.message)] == []
    with attention_backend("triton"):
        assert resolve("decay_attention", "cuda", q, q, q, decay_rates(2, "cuda"), (3, 4), None)[0] == "triton"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_kernels_read_nothing_outside_their_tensors(dtype):
    """Odd sizes with every tensor inside NaN: a read past any tensor would make NaN outputs or gradients.  The
    results match the unguarded run's to rounding: atomic adds (bias-table and qkv-bias gradients) sum in any order."""
    heads, C = 2, 32
    qkv, d_out = torch.randn(2, 9, 11, 3 * C, device="cuda").to(dtype), torch.randn(2, 9, 11, C, device="cuda")
    table, pad = torch.randn(169, heads, device="cuda"), torch.randn(3 * C, device="cuda").to(dtype)
    q, k, v = (torch.randn(1, heads, 35, 16, device="cuda").to(dtype) for _ in range(3))
    results = []
    guarded_far = functools.partial(in_nan_storage, guard=1 << 16)  # 64k elements of NaN either side
    for wrap in (guarded_far, torch.clone):
        window_in = [wrap(t).requires_grad_() for t in (qkv, table, pad)]
        out = _triton_window.WindowAttentionFunction.apply(*window_in, heads, 7, 3)
        results.append([out, *torch.autograd.grad(out, window_in, wrap(d_out.to(dtype)))])
        decay_in = [wrap(t).requires_grad_() for t in (q, k, v)]
        with attention_backend("triton"):
            out = decay_attention(*decay_in, decay_rates(heads, "cuda"), (5, 7))
        results[-1] += [out, *torch.autograd.grad(out, decay_in, wrap(torch.ones_like(out)))]
    for guarded, plain in zip(*results):
        assert guarded.isfinite().all()
        torch.testing.assert_close(guarded, plain)


@pytest.mark.parametrize("fixture, model_name", [("swin_tiny_patch4_window7_224", "vz_swin_tiny_patch4_window7_224"),
                                                 ("rmt_t", "rmt_t")])
def test_parity_fixture_on_the_gpu_with_triton_forced(fixture, model_name, tmp_path):
    model, fx = load_via_user_path(fixture, model_name, tmp_path)
    with torch.no_grad(), attention_backend("triton"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.cuda()(fx.input.cuda())
    assert_fixture_close(out.cpu(), fx.output, fx)
