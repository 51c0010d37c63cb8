"""tools/train.py and tools/test.py end to end on the synthetic datasets: a few iterations of UPerNet and
Mask R-CNN with a vitzoo backbone, loss decreasing, save + resume, evaluation printing mIoU / COCO mAP."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmseg", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")
pytest.importorskip("mmdet", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")

REPO = Path(__file__).resolve().parents[1]
SEG_CONFIG = REPO / "configs/segmentation/quickstart_upernet_vz_swin_tiny_synthetic.py"
DET_CONFIG = REPO / "configs/detection/quickstart_mask_rcnn_vz_swin_tiny_synthetic.py"


def _run(tool: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{tool} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout + result.stderr


def _short_run_options(data_root: Path, kind: str, iters: int) -> list[str]:
    """Override the quickstart config: tiny dataset under tmp, few iterations, logs every iteration."""
    root = str(data_root) + ("/" if kind == "coco" else "")
    options = [
        f"synthetic_data.root={root}",
        "synthetic_data.num_train=8",
        "synthetic_data.num_val=2",
        f"train_dataloader.dataset.data_root={root}",
        f"val_dataloader.dataset.data_root={root}",
        f"test_dataloader.dataset.data_root={root}",
        f"train_cfg.max_iters={iters}",
        f"train_cfg.val_interval={iters}",
        "default_hooks.checkpoint.interval=3",
        "default_hooks.logger.interval=1",
        # no warm-up, so that a few iterations already learn
        "param_scheduler.0.start_factor=1.0",
        "param_scheduler.0.end=1",
    ]
    if kind == "coco":
        ann = f"{root}annotations/instances_val2017.json"
        # an 8-step model scores every box below the default 0.05: keep them so that COCO mAP is computed
        options += [f"val_evaluator.ann_file={ann}", f"test_evaluator.ann_file={ann}", "model.test_cfg.rcnn.score_thr=0.0"]
    return options


def _losses(work_dir: Path, terms: tuple[str, ...] = ("loss",)) -> list[tuple[int, float]]:
    """(iteration, sum of the loss ``terms``) of every logged training step of every run in the work dir."""
    steps = []
    for scalars in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if "loss" in record and "iter" in record:
                steps.append((record["iter"], sum(record[t] for t in terms)))
    return steps


# The losses that must fall within a few steps from scratch. For Mask R-CNN these are the RPN and box
# classification losses: the box and mask losses are over positive proposals only, and they grow while
# the RPN starts finding objects.
DECREASING = {"ade20k": ("loss",), "coco": ("loss_rpn_cls", "loss_cls")}


@pytest.mark.parametrize(
    "config, kind, metric",
    [(SEG_CONFIG, "ade20k", "mIoU"), (DET_CONFIG, "coco", "coco/bbox_mAP")],
    ids=["upernet", "mask_rcnn"],
)
def test_train_resume_and_evaluate(tmp_path, config, kind, metric):
    data_root, work_dir = tmp_path / "data", tmp_path / "work"
    first = _short_run_options(data_root, kind, iters=6)
    _run("train.py", str(config), "--work-dir", str(work_dir), "--cfg-options", *first, cwd=tmp_path)
    assert (work_dir / "iter_6.pth").is_file() and (work_dir / "iter_3.pth").is_file()
    losses = _losses(work_dir)
    assert [i for i, _ in losses] == list(range(1, 7))
    assert all(v == v and v < 1e4 for _, v in losses), losses
    values = [v for _, v in _losses(work_dir, DECREASING[kind])]
    assert sum(values[-2:]) < sum(values[:2]), f"{' + '.join(DECREASING[kind])} did not decrease: {values}"

    # resume: continues from iteration 6 of the same work dir up to 8
    log = _run(
        "train.py", str(config), "--work-dir", str(work_dir), "--resume",
        "--cfg-options", *_short_run_options(data_root, kind, iters=8), cwd=tmp_path,
    )
    assert "resumed" in log.lower() or "Load checkpoint" in log
    assert [i for i, _ in _losses(work_dir)] == list(range(1, 9))
    assert (work_dir / "iter_8.pth").is_file()

    metrics_file = tmp_path / "metrics.json"
    _run(
        "test.py", str(config), str(work_dir / "iter_8.pth"), "--work-dir", str(tmp_path / "eval"),
        "--out", str(metrics_file), "--cfg-options", *_short_run_options(data_root, kind, iters=8), cwd=tmp_path,
    )
    metrics = json.loads(metrics_file.read_text())
    assert metric in metrics and 0.0 <= metrics[metric] <= 100.0, metrics


def test_train_rejects_a_missing_config(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tools/train.py"), "configs/nope.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_amp_without_a_gpu_says_so(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: --amp is valid here")
    result = subprocess.run(
        [sys.executable, str(REPO / "tools/train.py"), str(SEG_CONFIG), "--amp", "--work-dir", str(tmp_path / "w")],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode != 0 and "--amp needs a CUDA GPU" in result.stderr
