"""tools/benchmark_kernels.py on CPU: the torch backend alone, at Swin-T and RMT-T stage shapes."""
import csv
import dataclasses
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import benchmark_kernels  # noqa: E402

SMALLEST = ["--device", "cpu", "--sizes", "64", "--iters", "1", "--batch", "1"]


def test_cpu_run_times_torch_only_at_every_stage(tmp_path, capsys):
    out = tmp_path / "kernels.csv"
    results = benchmark_kernels.main(SMALLEST + ["--csv", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith("CPU") and "timing the torch backend only" in printed
    assert "authors' paths" in printed

    measured = [r for r in results if r.status == benchmark_kernels.MEASURED]
    # Swin-T: window attention at all four stages; RMT-T: axial at stages 1-2, full at stages 3-4.
    assert sorted({(r.op, r.stage) for r in measured}) == [
        ("axial_decay_attention", 1), ("axial_decay_attention", 2), ("decay_attention", 3), ("decay_attention", 4),
        ("window_attention", 1), ("window_attention", 2), ("window_attention", 3), ("window_attention", 4),
    ]
    assert {r.backend for r in measured} == {"torch"} and {r.mode for r in measured} == set(benchmark_kernels.MODES)
    assert all(r.ms_median > 0 and r.peak_mem_mb > 0 and r.gb_per_s > 0 for r in measured)
    assert all(math.isnan(r.roofline_pct) and r.speedup_vs_torch == 1 for r in measured)
    not_measured = {(r.backend, r.status) for r in results if r.status != benchmark_kernels.MEASURED}
    # xformers gets the dispatcher's reason: not installed (here), or no CPU operator where it is installed
    assert {backend for backend, _ in not_measured} == {"triton", "xformers"}
    assert ("triton", benchmark_kernels.CPU_NOTE) in not_measured
    xformers_statuses = {status for backend, status in not_measured if backend == "xformers"}
    assert all(status.startswith("unavailable: xformers") for status in xformers_statuses)
    assert "decay_attention / xformers: unavailable: xformers" in printed

    # Swin-T stage 1 at 64x64: a 16x16 map of 96 channels, 3 heads, shifted 7x7 windows; bytes moved in fp32 are
    # x (16*16*96) + qkv weight (288*96) + qkv bias (288) + bias table (13*13*3), then the output (16*16*96).
    stage1 = next(r for r in measured if (r.op, r.stage, r.mode) == ("window_attention", 1, "forward"))
    assert stage1.shape == "16x16x96, 3 heads, window 7, shift 3"
    assert stage1.gb_moved == pytest.approx(4 * (2 * 16 * 16 * 96 + 288 * 96 + 288 + 13 * 13 * 3) / 1e9)

    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == [f.name for f in dataclasses.fields(benchmark_kernels.Result)]
    assert len(rows) == len(results) == 8 * 2 * 3  # stage cases x modes x backends


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
