import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import benchmark  # noqa: E402


def test_benchmark_compares_two_models_in_one_run(tmp_path, capsys):
    out = tmp_path / "bench.csv"
    results = benchmark.main(
        ["vz_swin_tiny_patch4_window7_224", "--compare-to", "swin_tiny_patch4_window7_224", "--img-size", "224",
         "--batch-size", "1", "--iters", "1", "--warmup", "0", "--csv", str(out)]
    )
    assert [r.model for r in results] == ["vz_swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224"]
    vz, reference = results
    assert abs(vz.params_m - 28.29) < 0.01 and abs(vz.gflops - 4.49) < 0.01  # paper: 28M, 4.5G
    assert vz.gflops == reference.gflops and vz.peak_mem_mb > 0
    printed = capsys.readouterr().out
    assert "ratio vz_swin_tiny_patch4_window7_224 / swin_tiny_patch4_window7_224" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["model"] for r in rows] == [r.model for r in results]


def test_benchmark_train_mode_and_unknown_model(capsys):
    (result,) = benchmark.main(
        ["vz_swin_tiny_patch4_window7_224", "--mode", "train", "--img-size", "64", "--batch-size", "2",
         "--iters", "1", "--warmup", "0", "--no-flops"]
    )
    assert result.mode == "train" and result.samples_per_s > 0
    import pytest

    with pytest.raises(SystemExit, match="unknown model"):
        benchmark.main(["no_such_model", "--iters", "1"])


def test_benchmark_compares_attention_backends_of_one_model(capsys):
    results = benchmark.main(
        ["rmt_t", "--compare-to", "rmt_t", "--attention", "torch", "torch", "--mode", "train", "--img-size", "64",
         "--batch-size", "1", "--iters", "1", "--warmup", "0"]
    )
    assert [r.model for r in results] == ["rmt_t [torch]", "rmt_t [torch]"]
    assert results[0].gflops == results[1].gflops > 0
    assert "ratio rmt_t [torch] / rmt_t [torch]" in capsys.readouterr().out
    import pytest

    with pytest.raises(SystemExit):
        benchmark.main(["rmt_t", "--attention", "torch", "triton"])  # two backends for one model
    with pytest.raises(SystemExit):
        benchmark.main(["rmt_t", "--attention", "cuda"])
