"""tools/benchmark_kernels.py on CPU: the torch backend and the authors' paths, at Swin-T and RMT-T stage shapes."""
import csv
import dataclasses
import functools
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import benchmark_kernels  # noqa: E402
from op_inputs import decay_inputs, decay_rates, window_inputs  # noqa: E402
from vitzoo.layers.window import shifted_window_mask  # noqa: E402
from vitzoo.ops import attention_backend, axial_decay_attention, decay_attention, decay_mask  # noqa: E402
from vitzoo.ops import rotary_embedding, window_attention  # noqa: E402

SMALLEST = ["--device", "cpu", "--sizes", "64", "--iters", "1", "--batch", "1"]


def test_cpu_run_times_torch_only_at_every_stage(tmp_path, capsys):
    out = tmp_path / "kernels.csv"
    results = benchmark_kernels.main(SMALLEST + ["--csv", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith("CPU") and "timing the torch backend and the authors' paths only" in printed

    measured = [r for r in results if r.status == benchmark_kernels.MEASURED]
    # Swin-T: window attention at all four stages; RMT-T: axial at stages 1-2, full at stages 3-4, the rotary
    # embedding at every stage.
    assert sorted({(r.op, r.stage) for r in measured}) == [
        ("axial_decay_attention", 1), ("axial_decay_attention", 2), ("decay_attention", 3), ("decay_attention", 4),
        ("rotary_embedding", 1), ("rotary_embedding", 2), ("rotary_embedding", 3), ("rotary_embedding", 4),
        ("window_attention", 1), ("window_attention", 2), ("window_attention", 3), ("window_attention", 4),
    ]
    assert {r.backend for r in measured} == {"torch", "authors"}
    assert {r.mode for r in measured} == set(benchmark_kernels.MODES)
    assert all(r.ms_median > 0 and r.peak_mem_mb > 0 and r.gb_per_s > 0 for r in measured)
    assert all(math.isnan(r.roofline_pct) for r in measured)
    # each row against both references: torch's ratios are 1 on torch's rows, the authors' on theirs
    for r in measured:
        assert r.speedup_vs_torch > 0 and r.speedup_vs_authors > 0 and r.mem_vs_torch > 0 and r.mem_vs_authors > 0
        reference = (r.speedup_vs_torch, r.mem_vs_torch) if r.backend == "torch" else (
            r.speedup_vs_authors, r.mem_vs_authors)
        assert reference == (1, 1)
    not_measured = {(r.backend, r.status) for r in results if r.status != benchmark_kernels.MEASURED}
    # xformers gets the dispatcher's reason: not installed (here), or no CPU operator where it is installed
    assert {backend for backend, _ in not_measured} == {"triton", "xformers"}
    assert ("triton", benchmark_kernels.CPU_NOTE) in not_measured
    xformers_statuses = {(r.op, r.status) for r in results if r.backend == "xformers"}
    assert all(status.startswith("unavailable: xformers") for op, status in xformers_statuses
               if op != "rotary_embedding")
    assert ("rotary_embedding", "unavailable: not implemented for this op") in xformers_statuses
    assert "decay_attention / xformers: unavailable: xformers" in printed

    # Swin-T stage 1 at 64x64: a 16x16 map of 96 channels, 3 heads, shifted 7x7 windows; bytes moved in fp32 are
    # x (16*16*96) + qkv weight (288*96) + qkv bias (288) + bias table (13*13*3), then the output (16*16*96).
    stage1 = next(r for r in measured if (r.op, r.stage, r.mode) == ("window_attention", 1, "forward"))
    assert stage1.shape == "16x16x96, 3 heads, window 7, shift 3"
    assert stage1.gb_moved == pytest.approx(4 * (2 * 16 * 16 * 96 + 288 * 96 + 288 + 13 * 13 * 3) / 1e9)

    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == [f.name for f in dataclasses.fields(benchmark_kernels.Result)]
    assert len(rows) == len(results) == 12 * 2 * 4  # stage cases x modes x (3 backends + the authors' path)


def _grads(tensors):
    grads = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return grads


def _assert_same_as_torch_backend(op, authors, args, trainable, **tol):
    """The authors' path gives the torch backend's output and gradients (float32)."""
    with attention_backend("torch"):
        expected = op(*args)
    grad_output = torch.randn_like(expected)
    expected.backward(grad_output)
    expected_grads = _grads(trainable)
    out = authors(*args)
    out.backward(grad_output)
    torch.testing.assert_close(out, expected, **tol)
    for got, want in zip(_grads(trainable), expected_grads):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("side, window, shift", [(14, 7, 3), (14, 7, 0), (11, 5, 2)])  # 11: padded to 15
def test_swin_authors_path_equals_the_torch_backend(side, window, shift):
    torch.manual_seed(0)
    x, weight, bias, table = window_inputs(2, side, side, heads=3, head_dim=8, table_window=7)
    padded = side + (-side) % window
    authors = functools.partial(benchmark_kernels.swin_authors_attention,
                                shift_mask=shifted_window_mask(padded, padded, window, shift, "cpu"))
    _assert_same_as_torch_backend(window_attention, authors, (x, weight, bias, table, 3, window, shift, 0.0),
                                  (x, weight, bias, table), rtol=1e-5, atol=2e-5)


def test_rmt_authors_paths_equal_the_torch_backend():
    torch.manual_seed(0)
    decay = decay_rates(4)
    H, W = 5, 6
    full = decay_inputs((2, 4, H * W, 8), (2, 4, H * W, 8), torch.float32)
    mask = decay_mask(decay, H, W)
    _assert_same_as_torch_backend(decay_attention, benchmark_kernels.rmt_authors_full,
                                  (*full, decay, (H, W), lambda: mask), full, rtol=1e-5, atol=1e-5)
    axial = decay_inputs((2, H, W, 4, 8), (2, H, W, 4, 8), torch.float32)
    masks = decay_mask(decay, H, 1), decay_mask(decay, 1, W)
    _assert_same_as_torch_backend(axial_decay_attention, benchmark_kernels.rmt_authors_axial,
                                  (*axial, decay, lambda: masks), axial, rtol=1e-5, atol=1e-5)


def test_rmt_authors_theta_shift_equals_the_torch_backend():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4, 8, requires_grad=True)
    angle = torch.rand(3, 5, 1, 4).repeat_interleave(2, -1) * 20
    _assert_same_as_torch_backend(rotary_embedding, benchmark_kernels.rmt_authors_theta_shift,
                                  (x, angle.sin(), angle.cos()), (x,), rtol=1e-6, atol=1e-6)


def test_authors_rows_run_under_autocast_in_16_bit(capsys):
    # bf16 inputs with the authors' float32 masks: their scores are softmaxed in float32 under autocast, as in
    # their AMP training (without autocast the float32 probabilities could not multiply bf16 values)
    results = benchmark_kernels.main(["--device", "cpu", "--sizes", "32", "--iters", "1", "--batch", "1",
                                      "--dtype", "bf16", "--ops", "decay_attention", "axial_decay_attention",
                                      "rotary_embedding"])
    authors = [r for r in results if r.backend == "authors"]
    assert authors and all(r.status == benchmark_kernels.MEASURED and r.ms_median > 0 for r in authors)


def test_time_limit_skips_the_cases_not_started(capsys):
    results = benchmark_kernels.main(SMALLEST + ["--ops", "decay_attention", "--time-limit", "1e-9"])
    assert results and all(r.status.startswith("skipped: the 1e-09 s time limit") for r in results)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ops", "flash_attention"], "invalid choice: 'flash_attention'"),
        (["--sizes", "224", "100"], "--sizes 100: sizes must be multiples of 32"),
        (["--batch", "0"], "--batch, --iters and --warmup must be >= 1"),
    ],
)
def test_bad_arguments_fail_clearly(argv, message, capsys):
    with pytest.raises(SystemExit):
        benchmark_kernels.main(["--device", "cpu"] + argv)
    assert message in capsys.readouterr().err
