"""The xformers backend: its glue against the torch reference through a fake ``xformers`` package on CPU, and
the reasons it is reported unavailable (this machine's real one included)."""
import importlib.util
import sys
import textwrap
import warnings

import pytest
import torch

from vitzoo.ops import _dispatch, _xformers, attention_backend, axial_decay_attention, decay_attention, window_attention

# xformers.ops.memory_efficient_attention as documented (BMHK tensors, a tensor attn_bias of exactly
# (B, H, Mq, Mk) in q's dtype with 16-byte aligned strides -- stride 0 allowed --, default scale K**-0.5,
# dropout p on the attention weights), computed with torch ops, so that the glue runs on CPU.
FAKE_OPS = '''
import torch

calls = []


def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, *, op=None, output_dtype=None):
    if query.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise NotImplementedError(
            f"No operator found for `memory_efficient_attention_forward` with inputs: dtype={query.dtype} "
            "(supported: {torch.float32, torch.float16, torch.bfloat16})"
        )
    if not query.ndim == key.ndim == value.ndim == 4:
        raise ValueError("Query/Key/Value should all have BMGHK, BMHK or BMK shape (this fake: BMHK only)")
    B, Mq, H, K = query.shape
    Mk = key.shape[1]
    if key.shape != (B, Mk, H, K) or value.shape[:3] != (B, Mk, H):
        raise ValueError(f"Incompatible shapes for attention inputs: {query.shape} {key.shape} {value.shape}")
    if any(t.stride(-1) != 1 for t in (query, key, value)) or len({t.dtype for t in (query, key, value)}) != 1:
        raise ValueError("q, k, v need stride 1 in their last dim and one dtype")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"Invalid dropout probability: p={p}")
    if attn_bias is not None:
        if tuple(attn_bias.shape) != (B, H, Mq, Mk):
            raise ValueError(f"Invalid shape for attention bias: {tuple(attn_bias.shape)} (expected {(B, H, Mq, Mk)})")
        if attn_bias.dtype != query.dtype:
            raise RuntimeError("invalid dtype for bias - should match query's dtype")
        align = 128 // torch.finfo(attn_bias.dtype).bits
        if any(s % align for s in attn_bias.stride()[:-1]) or attn_bias.stride(-1) != 1:
            raise NotImplementedError(
                f"attn_bias.stride(-2) % {align} != 0 (attn_bias.stride() = {attn_bias.stride()})"
            )
    calls.append(dict(shape=tuple(query.shape), p=p, scale=scale))
    scale = K**-0.5 if scale is None else scale
    q, k, v = (t.transpose(1, 2) for t in (query * scale, key, value))
    attn = q @ k.transpose(-2, -1)
    if attn_bias is not None:
        attn = attn + attn_bias
    attn = torch.nn.functional.dropout(attn.softmax(-1), p)
    return (attn @ v).transpose(1, 2).contiguous()
'''

# xformers built for another torch: its import logs and records why its C++/CUDA extensions did not load.
BUILT_FOR_ANOTHER_TORCH = (
    "xFormers can't load C++/CUDA extensions. xFormers was built for:\n"
    "    PyTorch 2.10.0+cu128 with CUDA 1208 (you have 2.14.1+cpu)\n"
    "    Python  3.11.13 (you have 3.11.13)"
)
NO_CPU_OPERATOR = '''
def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, *, op=None, output_dtype=None):
    raise NotImplementedError(
        "No operator found for `memory_efficient_attention_forward` with inputs: "
        "`cutlassF-pt` is not supported because: device=cpu (supported: {'cuda'})"
    )
'''


def _write_package(root, ops_source: str, load_exception: str = "None"):
    package = root / "xformers"
    (package / "ops").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import _cpp_lib\n__version__ = '0.0.35'\n")
    (package / "_cpp_lib.py").write_text(f"_cpp_library_load_exception = {load_exception}\n")
    (package / "ops" / "__init__.py").write_text(textwrap.dedent(ops_source))


def _forget_xformers():
    for name in [m for m in sys.modules if m == "xformers" or m.startswith("xformers.")]:
        del sys.modules[name]
    _xformers._import.cache_clear()
    _xformers.unavailable_reason.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    """Each test imports xformers (real or fake) anew and sees the once-per-reason warnings anew."""
    monkeypatch.setattr(_dispatch, "_WARNED", set())
    _forget_xformers()
    yield
    _forget_xformers()


@pytest.fixture
def install_fake(tmp_path, monkeypatch):
    def install(ops_source: str = FAKE_OPS, load_exception: str = "None"):
        _write_package(tmp_path, ops_source, load_exception)
        monkeypatch.syspath_prepend(str(tmp_path))

    return install


def _fake_calls() -> list:
    """What the fake's memory_efficient_attention was called with (imported by the backend's first use)."""
    return sys.modules["xformers.ops"].calls


def _leaves(*shapes, dtype=torch.float32):
    return [torch.randn(s).to(dtype).requires_grad_() for s in shapes]


def _outputs_and_grads(backend, op, leaves, *args):
    """Output and gradients of every leaf for a fixed upstream gradient; a fallback fails the test."""
    with attention_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = op(*args)
    grad_out = torch.linspace(-1, 1, out.numel()).view_as(out).to(out.dtype)
    return [out, *torch.autograd.grad(out, leaves, grad_out)]


def _assert_matches_torch(op, leaves, *args):
    """Equal up to float32 rounding: differences within 1e-5 of each tensor's largest magnitude (weight
    gradients sum over every token, in another order when xformers projects q, k and v separately)."""
    expected = _outputs_and_grads("torch", op, leaves, *args)
    actual = _outputs_and_grads("xformers", op, leaves, *args)
    for i, (a, e) in enumerate(zip(actual, expected)):
        scale = max(1.0, e.abs().max().item())
        torch.testing.assert_close(
            a, e, rtol=1e-5, atol=1e-5 * scale, msg=lambda m: f"{'output' if i == 0 else f'grad {i}'}: {m}"
        )


# (B, H, W, heads, head_dim, table window, window, shift): window multiples, shifted and not; odd sizes
# (pad tokens, in shifted windows too); a window smaller than the table's.  Windows of 49 and 25 tokens: the
# bias rows need the padding that xformers' alignment rule asks for.
WINDOW_CASES = [
    (2, 14, 14, 2, 16, 7, 7, 0),
    (2, 14, 14, 2, 16, 7, 7, 3),
    (2, 9, 11, 3, 16, 7, 7, 3),
    (1, 10, 9, 1, 32, 7, 5, 2),
]


@pytest.mark.parametrize("B, H, W, heads, head_dim, table_window, window, shift", WINDOW_CASES)
def test_window_attention_matches_torch(install_fake, B, H, W, heads, head_dim, table_window, window, shift):
    install_fake()
    C = heads * head_dim
    x, weight, bias, table = _leaves((B, H, W, C), (3 * C, C), (3 * C,), ((2 * table_window - 1) ** 2, heads))
    args = (x, weight, bias, table, heads, window, shift)
    _assert_matches_torch(window_attention, [x, weight, bias, table], *args)
    num_windows = -(-H // window) * -(-W // window)
    # xformers' (B, M, H, K): a window's tokens, (window, head) pairs, head dim; default scale
    assert [c for c in _fake_calls() if c["p"] == 0.0][-1] == dict(
        shape=(B, window * window, num_windows * heads, head_dim), p=0.0, scale=None
    )


def test_window_attention_without_qkv_bias(install_fake):
    install_fake()
    x, weight, table = _leaves((1, 9, 8, 32), (96, 32), (169, 2))
    _assert_matches_torch(window_attention, [x, weight, table], x, weight, None, table, 2, 7, 3)


def test_window_attention_dropout_is_xformers_p(install_fake):
    install_fake()
    x, weight, bias, table = _leaves((1, 7, 7, 16), (48, 16), (48,), (169, 1))
    with attention_backend("xformers"):
        out = window_attention(x, weight, bias, table, 1, 7, 0, dropout_p=0.25)
    assert _fake_calls()[-1]["p"] == 0.25 and out.shape == x.shape


@pytest.mark.parametrize("grid", [(5, 7), (1, 9), (3, 1)])
def test_decay_attention_matches_torch(install_fake, grid):
    install_fake()
    heads, L = 2, grid[0] * grid[1]
    decay = torch.log(1 - 2 ** (-2 - 4 * torch.arange(heads) / heads))
    q, k, v = _leaves((2, heads, L, 16), (2, heads, L, 16), (2, heads, L, 24))
    _assert_matches_torch(decay_attention, [q, k, v], q, k, v, decay, grid)
    assert _fake_calls()[-1] == dict(shape=(2, L, heads, 16), p=0.0, scale=1.0)


@pytest.mark.parametrize("grid", [(3, 5), (4, 2)])
def test_axial_decay_attention_matches_torch(install_fake, grid):
    install_fake()
    heads = 2
    decay = torch.log(1 - 2 ** (-2 - 4 * torch.arange(heads) / heads))
    q, k, v = _leaves((2, *grid, heads, 16), (2, *grid, heads, 16), (2, *grid, heads, 16))
    _assert_matches_torch(axial_decay_attention, [q, k, v], q, k, v, decay)
    H, W = grid
    # along W (rows as the batch), then along H (columns as the batch)
    assert [c["shape"] for c in _fake_calls()[-2:]] == [(2 * H, W, heads, 16), (2 * W, H, heads, 16)]


def test_decay_attention_uses_the_callers_mask_callable(install_fake):
    install_fake()
    decay = torch.tensor([-0.5, -1.0])
    q, k, v = _leaves((1, 2, 6, 16), (1, 2, 6, 16), (1, 2, 6, 16))
    mask = torch.randn(2, 6, 6)  # any cached mask is what the backend adds
    with attention_backend("torch"):
        expected = decay_attention(q, k, v, decay, (2, 3), mask)
    with attention_backend("xformers"):
        torch.testing.assert_close(decay_attention(q, k, v, decay, (2, 3), lambda: mask), expected)


def test_cuda_order_is_triton_then_xformers_then_torch(install_fake):
    """The dispatcher's default order for CUDA tensors (the device type is what it decides on)."""
    install_fake()
    x, weight, bias, table = _leaves((1, 7, 7, 16), (48, 16), (48,), (169, 1))
    args = (x, weight, bias, table, 1, 7, 0)
    assert _dispatch.resolve("window_attention", "cuda", *args, 0.0)[0] == "triton"
    with pytest.warns(UserWarning, match="triton backend cannot run here.*dropout"):
        assert _dispatch.resolve("window_attention", "cuda", *args, 0.5)[0] == "xformers"
    assert _dispatch.resolve("window_attention", "cpu", *args, 0.0)[0] == "torch"


def _window_args():
    x, weight, bias, table = _leaves((1, 9, 9, 16), (48, 16), (48,), (169, 1))
    return x, weight, bias, table, 1, 7, 3


def _falls_back_once(monkeypatch, reason_part: str):
    """``VITZOO_ATTENTION=xformers`` warns once with the reason, and both ops give the torch backend's result."""
    q, k, v = _leaves((1, 2, 6, 16), (1, 2, 6, 16), (1, 2, 6, 16))
    calls = {
        "window_attention": (window_attention, _window_args()),
        "decay_attention": (decay_attention, (q, k, v, torch.tensor([-0.5, -1.0]), (2, 3))),
    }
    for op, (fn, args) in calls.items():
        monkeypatch.setenv("VITZOO_ATTENTION", "xformers")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outputs = [fn(*args) for _ in range(2)]
        monkeypatch.delenv("VITZOO_ATTENTION")
        messages = [str(w.message) for w in caught if f"vitzoo {op}" in str(w.message)]
        assert len(messages) == 1, messages
        assert "xformers backend cannot run here" in messages[0] and reason_part in messages[0], messages[0]
        torch.testing.assert_close(outputs[1], fn(*args))  # automatic selection on CPU: torch


@pytest.mark.skipif(importlib.util.find_spec("xformers") is not None, reason="xformers is installed here")
def test_real_xformers_is_reported_not_installed(monkeypatch):
    assert _xformers.unavailable_reason(torch.device("cpu"), torch.float32, 32, 32, False, False) == (
        "xformers is not installed (pip install a build of xformers for this torch and CUDA)"
    )
    _falls_back_once(monkeypatch, "xformers is not installed")


@pytest.mark.skipif(importlib.util.find_spec("xformers") is None, reason="xformers is not installed here")
def test_real_xformers_refuses_cpu_tensors():
    reason = _xformers.unavailable_reason(torch.device("cpu"), torch.float32, 32, 32, False, False)
    assert reason is not None and "cpu" in reason


def test_import_error_is_the_reason(install_fake, monkeypatch):
    install_fake("raise ImportError('libcudart.so.12: cannot open shared object file')\n")
    _falls_back_once(monkeypatch, "xformers does not import (ImportError: libcudart.so.12: cannot open shared object")


def test_extensions_built_for_another_torch_are_the_reason(install_fake, monkeypatch):
    install_fake(NO_CPU_OPERATOR, load_exception=f"RuntimeError({BUILT_FOR_ANOTHER_TORCH!r})")
    _falls_back_once(monkeypatch, "device=cpu (supported: {'cuda'})")
    reason = _xformers.unavailable_reason(torch.device("cpu"), torch.float32, 16, 16, True, False)
    assert "was built for: PyTorch 2.10.0+cu128 with CUDA 1208 (you have 2.14.1+cpu)" in reason


def test_unsupported_dtype_falls_back(install_fake):
    install_fake()
    x, weight, bias, table = (t.detach().double() for t in _window_args()[:4])
    with attention_backend("xformers"), pytest.warns(UserWarning, match="dtype=torch.float64"):
        out = window_attention(x, weight, bias, table, 1, 7, 3)
    with attention_backend("torch"):
        torch.testing.assert_close(out, window_attention(x, weight, bias, table, 1, 7, 3))


def test_padded_bias_meets_the_alignment_rule():
    bias = torch.randn(6, 49, 49, requires_grad=True)
    for dtype, align in ((torch.float32, 4), (torch.float16, 8)):
        padded = _xformers.padded_bias(bias.to(dtype), 3)
        assert padded.shape == (3, 6, 49, 49) and padded.stride(0) == 0 and padded.stride(-1) == 1
        assert all(s % align == 0 for s in padded.stride()[:-1])
        torch.testing.assert_close(padded[2], bias.to(dtype))
    (grad,) = torch.autograd.grad(_xformers.padded_bias(bias, 3).sum(), bias)
    torch.testing.assert_close(grad, torch.full_like(bias, 3.0))  # summed over the broadcast batch
