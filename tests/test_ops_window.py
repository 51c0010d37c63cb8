"""window_attention: the Triton kernels (under TRITON_INTERPRET=1 on CPU) against the torch reference."""
import re
import warnings

import pytest
import torch

from op_inputs import in_nan_storage, window_inputs
from parity_utils import assert_fixture_close, load_via_user_path
from vitzoo.ops import _dispatch, _triton_window, attention_backend, window_attention
from vitzoo.ops._dispatch import resolve

OP = "window_attention"


def run(backend, x, weight, bias, table, heads, window, shift):
    """Output and gradients (x, weight, bias, table) of one backend for a fixed upstream gradient."""
    with attention_backend(backend):
        out = window_attention(x, weight, bias, table, heads, window, shift)
    leaves = [t for t in (x, weight, bias, table) if t is not None]
    grads = torch.autograd.grad(out, leaves, torch.linspace(-1, 1, out.numel()).view_as(out).to(out.dtype),
                                allow_unused=True, materialize_grads=True)
    return [out, *grads]


# (B, H, W, heads, head_dim, table window, window, shift): window multiples, odd sizes (pad tokens in
# shifted windows), a runtime window smaller than the table's, window 12 with head dim 64.
CASES = [
    (1, 14, 14, 2, 16, 7, 7, 0),
    (1, 14, 14, 2, 16, 7, 7, 3),
    (2, 9, 11, 2, 16, 7, 7, 3),
    (1, 9, 11, 1, 32, 7, 7, 0),
    (1, 11, 6, 2, 16, 7, 6, 0),
    (1, 10, 9, 1, 32, 7, 5, 2),
    (1, 13, 25, 1, 64, 12, 12, 6),
]


@pytest.mark.parametrize("B, H, W, heads, head_dim, table_window, window, shift", CASES)
def test_triton_matches_reference_fp32(B, H, W, heads, head_dim, table_window, window, shift):
    inputs = window_inputs(B, H, W, heads, head_dim, table_window)
    expected = run("torch", *inputs, heads, window, shift)
    actual = run("triton", *inputs, heads, window, shift)
    for name, a, e in zip(("out", "d_x", "d_weight", "d_bias", "d_table"), actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=2e-5, msg=lambda m: f"{name}: {m}")


# Every path of the kernels, one head, shift on, odd H and W (pad tokens): (path, dtype, B, H, W, head dim, window,
# shift, windows per program).  "fused": a window is one query block and the dq kernel computes dk, dv too;
# "query blocks": the dq kernel and the dk/dv kernel's loop take several query blocks; "key blocks": the dk/dv
# kernel several key blocks as well.  Three windows two per program leave a ragged last group; 16 is the
# largest window.
KERNEL_PATHS = [
    ("fused", torch.float16, 3, 5, 6, 16, 7, 3, 2),
    ("query blocks", torch.float32, 3, 5, 6, 16, 7, 3, 2),
    ("key blocks", torch.float32, 1, 11, 35, 32, 12, 6, 2),
    ("key blocks", torch.float16, 1, 23, 11, 32, 12, 6, 1),
    ("key blocks", torch.float32, 1, 15, 17, 16, 16, 8, 2),
]


@pytest.mark.parametrize("path, dtype, B, H, W, head_dim, window, shift, per_program", KERNEL_PATHS)
def test_triton_kernel_paths_match_reference(monkeypatch, path, dtype, B, H, W, head_dim, window, shift, per_program):
    monkeypatch.setattr(_triton_window, "_windows_per_program", lambda *launch: per_program)
    config = _triton_window._launch_config(
        torch.empty(B, H, W, 3 * head_dim, dtype=dtype), torch.empty((2 * window - 1) ** 2, 1), 1, window, shift
    )
    tiles, tokens = config["tiles"], window * window
    if path == "fused":
        assert tiles.dkdv is None and tiles.dq_m == config["n_pad"]
    else:
        assert tiles.dq_m < tokens and tiles.dkdv[0] < tokens
        assert (tiles.dkdv[1] < tokens) == (path == "key blocks")
    x, weight, bias, table = window_inputs(B, H, W, 1, head_dim, window, dtype=dtype)
    actual = run("triton", x, weight, bias, table, 1, window, shift)
    as_fp32 = [t.detach().float().requires_grad_() for t in (x, weight, bias)]
    expected = run("torch", *as_fp32, table, 1, window, shift)
    tolerance = dict(rtol=1e-5, atol=2e-5) if dtype == torch.float32 else dict(rtol=2e-2, atol=3e-2)
    for name, a, e in zip(("out", "d_x", "d_weight", "d_bias", "d_table"), actual, expected):
        assert a.dtype == (torch.float32 if name == "d_table" else dtype)
        torch.testing.assert_close(a.float(), e, **tolerance, msg=lambda m: f"{name}: {m}")


def test_triton_without_qkv_bias_uses_zero_pad_tokens():
    inputs = window_inputs(1, 9, 8, 2, 16, 7, with_bias=False)
    for a, e in zip(run("triton", *inputs, 2, 7, 3), run("torch", *inputs, 2, 7, 3)):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=2e-5)


def test_triton_fp16_matches_fp32_reference():
    x, weight, bias, table = window_inputs(1, 9, 11, 2, 16, 7, dtype=torch.float16)
    actual = run("triton", x, weight, bias, table, 2, 7, 3)
    as_fp32 = [t.detach().float().requires_grad_() for t in (x, weight, bias)]
    expected = run("torch", *as_fp32, table, 2, 7, 3)
    assert actual[0].dtype == actual[1].dtype == torch.float16
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a.float(), e, rtol=2e-2, atol=3e-2)


def test_default_backend_on_cpu_is_torch_and_forcing_selects_triton(monkeypatch):
    x, weight, bias, table = window_inputs(1, 7, 7, 1, 16, 7)
    args = (x, weight, bias, table, 1, 7, 0, 0.0)
    assert resolve(OP, "cpu", *args)[0] == "torch"
    with attention_backend("triton"):
        assert resolve(OP, "cpu", *args)[0] == "triton"
    monkeypatch.setenv("VITZOO_ATTENTION", "triton")
    assert resolve(OP, "cpu", *args)[0] == "triton"
    with attention_backend("torch"):  # the context manager wins over the variable
        assert resolve(OP, "cpu", *args)[0] == "torch"


def _fallback_warnings(monkeypatch, call) -> list[str]:
    monkeypatch.setattr(_dispatch, "_WARNED", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            call()
    return [str(w.message) for w in caught if "vitzoo window_attention" in str(w.message)]


@pytest.mark.parametrize(
    "setup, reason",
    [
        (lambda m: m.setattr(_triton_window, "INTERPRETED", False), "TRITON_INTERPRET=1"),
        (lambda m: None, "dropout"),
    ],
    ids=["cpu-without-interpreter", "dropout"],
)
def test_forced_triton_falls_back_with_one_warning(monkeypatch, setup, reason):
    setup(monkeypatch)
    x, weight, bias, table = window_inputs(1, 9, 9, 1, 16, 7)
    dropout_p = 0.5 if reason == "dropout" else 0.0

    def call():
        torch.manual_seed(0)
        with attention_backend("triton"):
            return window_attention(x, weight, bias, table, 1, 7, 3, dropout_p=dropout_p)

    messages = _fallback_warnings(monkeypatch, call)
    assert len(messages) == 1 and "triton backend cannot run here" in messages[0] and reason in messages[0]
    torch.manual_seed(0)
    with attention_backend("torch"):
        expected = window_attention(x, weight, bias, table, 1, 7, 3, dropout_p=dropout_p)
    torch.testing.assert_close(call(), expected)


def test_float32_large_windows_with_large_head_dims_are_refused():
    assert "head dim <= 64, got 128" in _triton_window.unsupported_reason(torch.float32, 12, 128)
    assert _triton_window.unsupported_reason(torch.float32, 12, 64) is None
    assert _triton_window.unsupported_reason(torch.float32, 8, 128) is None
    assert _triton_window.unsupported_reason(torch.float16, 12, 128) is None


def test_bf16_under_the_interpreter_falls_back_to_torch(monkeypatch):
    x, weight, bias, table = window_inputs(1, 7, 7, 1, 16, 7, dtype=torch.bfloat16)

    def call():
        with attention_backend("triton"):
            return window_attention(x, weight, bias, table, 1, 7, 0)

    messages = _fallback_warnings(monkeypatch, call)
    assert len(messages) == 1 and "interpreter does not support torch.bfloat16" in messages[0]
    assert call().dtype == torch.bfloat16


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(shift=7), "shift 7 must be in"),
        (dict(window=8), "window 8 must be in"),
        (dict(num_heads=3), "divisible by num_heads=3"),
        (dict(qkv_bias=torch.zeros(5)), "qkv_bias must be"),
        (dict(qkv_weight=torch.zeros(96, 16)), "qkv_weight must be (3C, C)"),
        (dict(bias_table=torch.zeros(10, 2)), "is not ((2w-1)**2, heads)"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, error):
    x, weight, bias, table = window_inputs(1, 7, 7, 2, 16, 7)
    args = dict(x=x, qkv_weight=weight, qkv_bias=bias, bias_table=table, num_heads=2, window=7, shift=0) | kwargs
    with pytest.raises(ValueError, match=re.escape(error)):
        window_attention(**args)


def test_swin_parity_fixture_with_triton_forced(monkeypatch, tmp_path):
    model, fx = load_via_user_path("swin_tiny_patch4_window7_224", "vz_swin_tiny_patch4_window7_224", tmp_path)
    kernel_calls = []
    apply = _triton_window.WindowAttentionFunction.apply
    monkeypatch.setattr(_triton_window.WindowAttentionFunction, "apply", lambda *a: kernel_calls.append(1) or apply(*a))
    with torch.no_grad(), attention_backend("triton"):
        assert_fixture_close(model(fx.input), fx.output, fx)
    assert len(kernel_calls) == sum(len(stage.blocks) for stage in model.layers)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(x=torch.zeros(1, 7, 7, 32, dtype=torch.float16)), "qkv weight/bias must have x's dtype torch.float16"),
        (dict(bias_table=torch.zeros(169, 2, dtype=torch.int64)), "bias table must be a floating-point tensor"),
        (dict(dropout_p=1.5), "dropout_p 1.5 must be a probability"),
    ],
)
def test_bad_dtypes_and_dropout_raise_clear_errors(kwargs, error):
    x, weight, bias, table = window_inputs(1, 7, 7, 2, 16, 7)
    args = dict(x=x, qkv_weight=weight, qkv_bias=bias, bias_table=table, num_heads=2, window=7, shift=0) | kwargs
    with pytest.raises((TypeError, ValueError), match=re.escape(error)):
        window_attention(**args)


@pytest.mark.parametrize("H, W, window, shift", [(9, 11, 7, 3), (5, 3, 3, 1)])
def test_window_kernel_reads_nothing_outside_its_tensors(H, W, window, shift):
    """Odd sizes, tensors surrounded by NaN: a read past any tensor's ends would make NaN outputs or gradients."""
    heads, head_dim, table_rows = 2, 16, 13 * 13  # the bias table of 7x7 windows
    C = heads * head_dim
    qkv, table, pad, dout = (torch.randn(*s) for s in ((2, H, W, 3 * C), (table_rows, heads), (3 * C,), (2, H, W, C)))
    guarded = [in_nan_storage(t).requires_grad_() for t in (qkv, table, pad)]
    plain = [t.clone().requires_grad_() for t in (qkv, table, pad)]
    results = []
    for inputs, grad in ((guarded, in_nan_storage(dout)), (plain, dout)):
        out = _triton_window.WindowAttentionFunction.apply(*inputs, heads, window, shift)
        results.append([out, *torch.autograd.grad(out, inputs, grad)])
    for a, e in zip(*results):
        assert a.isfinite().all()
        torch.testing.assert_close(a, e, rtol=0, atol=0)
