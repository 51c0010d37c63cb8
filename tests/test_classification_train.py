"""Classification through tools/train.py and tools/test.py: config loading, training, resume, evaluation, robustness."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vitzoo.classification import config as cfg_module
from vitzoo.classification.config import ConfigError, is_classification_config, load_config, parse_overrides
from vitzoo.classification.data import ImageFolderDataset
from vitzoo.classification.state import TRAIN_STATE_KEY, load_train_state, save_atomic
from vitzoo.synthetic import make_imagefolder_like

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import test as test_tool  # noqa: E402
import train as train_tool  # noqa: E402

MODEL = "slab_pvt_v2_b0"


def _write_config(path: Path, data_root: Path, **sections) -> Path:
    """A small config on a tiny ImageFolder: 32x32 images, batch 8, no heavy augmentation."""
    values = dict(
        model=dict(name=MODEL, drop_path_rate=0.0),
        data=dict(train_dir=str(data_root / "train"), val_dir=str(data_root / "val"), img_size=32, batch_size=8,
                  num_workers=0, auto_augment=None, re_prob=0.0, color_jitter=0.0, scale=(0.8, 1.0)),
        mixup=dict(mixup_alpha=0.0, cutmix_alpha=0.0),
        optimizer=dict(lr=2e-3, base_batch_size=None),
        scheduler=dict(epochs=3, warmup_epochs=0),
        train=dict(log_interval=1),
    )
    for key, update in sections.items():
        values.setdefault(key, {}).update(update)
    path.write_text("".join(f"{key} = {value!r}\n" for key, value in values.items()))
    return path


@pytest.fixture(scope="module")
def tiny_imagefolder(tmp_path_factory) -> Path:
    return make_imagefolder_like(tmp_path_factory.mktemp("shapes"), num_classes=3, num_train=16, num_val=4,
                                 size=(36, 36))


def _records(work_dir: Path, kind: str) -> list[dict]:
    lines = (work_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


# --- configs ---------------------------------------------------------------------------------------------------

def test_config_inheritance_delete_and_overrides(tmp_path):
    (tmp_path / "base.py").write_text(
        "task = 'classification'\nmodel = dict(name='rmt_t', kwargs=dict(a=1))\n"
        "optimizer = dict(lr=1e-3, weight_decay=0.05)\n"
    )
    (tmp_path / "child.py").write_text(
        "_base_ = 'base.py'\noptimizer = dict(lr=5e-4)\nmodel = dict(kwargs=dict(_delete_=True, b=2))\n"
    )
    cfg = load_config(tmp_path / "child.py", parse_overrides(["optimizer.weight_decay=0.1", "data.img_size=160"]))
    assert cfg["optimizer"]["lr"] == 5e-4 and cfg["optimizer"]["weight_decay"] == 0.1
    assert cfg["model"]["kwargs"] == {"b": 2}
    assert cfg["data"]["img_size"] == 160 and cfg["data"]["batch_size"] == 128  # the defaults fill the rest
    assert is_classification_config(tmp_path / "child.py")


def test_config_errors(tmp_path):
    (tmp_path / "typo.py").write_text("model = dict(name='rmt_t')\noptimiser = dict(lr=1)\n")
    with pytest.raises(ConfigError, match="unknown config key 'optimiser'"):
        load_config(tmp_path / "typo.py")
    (tmp_path / "nested.py").write_text("model = dict(name='rmt_t')\noptimizer = dict(learning_rate=1)\n")
    with pytest.raises(ConfigError, match="optimizer.learning_rate"):
        load_config(tmp_path / "nested.py")
    (tmp_path / "noname.py").write_text("task = 'classification'\n")
    with pytest.raises(ConfigError, match="model.name is not set"):
        load_config(tmp_path / "noname.py")
    (tmp_path / "a.py").write_text("_base_ = 'b.py'\n")
    (tmp_path / "b.py").write_text("_base_ = 'a.py'\n")
    with pytest.raises(ConfigError, match="include each other"):
        load_config(tmp_path / "a.py")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["optimizer.lr"])


def test_dense_configs_are_not_classification_configs():
    assert not is_classification_config(REPO / "configs/segmentation/quickstart_upernet_vz_swin_tiny_synthetic.py")
    assert not is_classification_config(REPO / "configs/detection/quickstart_mask_rcnn_vz_swin_tiny_synthetic.py")
    assert is_classification_config(REPO / "configs/classification/quickstart_slab_pvt_v2_b0_synthetic.py")


def test_defaults_group_every_key():
    defaults = cfg_module._default_values()
    assert defaults["task"] == "classification"
    assert {"model", "data", "mixup", "loss", "optimizer", "scheduler", "ema", "train"} <= set(defaults)


# --- data ------------------------------------------------------------------------------------------------------

def test_broken_image_is_reported_with_its_path_and_skipped(tmp_path, caplog):
    root = make_imagefolder_like(tmp_path / "data", num_classes=2, num_train=2, num_val=1, size=(32, 32))
    broken = root / "train" / sorted(os.listdir(root / "train"))[0] / "00000.jpg"
    broken.write_bytes(b"not a jpeg")
    dataset = ImageFolderDataset(root / "train")
    index = [i for i in range(len(dataset)) if dataset.reader.filename(i, absolute=True) == str(broken)][0]
    with caplog.at_level("WARNING"):
        image, target = dataset[index]
    assert image.size == (32, 32)
    assert str(broken) in caplog.text
    (root / "val" / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderDataset(root / "missing")


def test_save_atomic_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = save_atomic({TRAIN_STATE_KEY: 1, "epoch": 1}, tmp_path / "last.pth")

    def failing_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({TRAIN_STATE_KEY: 1, "epoch": 2}, path)
    monkeypatch.undo()
    assert load_train_state(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pth"]
    (tmp_path / "model.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable training state"):
        load_train_state(tmp_path / "model.pth")
    torch.save({"state_dict": {}}, tmp_path / "weights.pth")
    with pytest.raises(ValueError, match="not a tools/train.py training state"):
        load_train_state(tmp_path / "weights.pth")


# --- training --------------------------------------------------------------------------------------------------

def test_train_resume_and_evaluate(tmp_path, tiny_imagefolder):
    """Train 4 steps, resume to 12 (mid-epoch checkpoints), evaluate with tools/test.py; the loss falls."""
    config = _write_config(tmp_path / "tiny.py", tiny_imagefolder, ema=dict(enabled=True, decay=0.9),
                           train=dict(log_interval=1, max_iters=4, checkpoint_interval=2))
    work_dir = tmp_path / "run"
    first = train_tool.main([str(config), "--work-dir", str(work_dir)])
    assert first["step"] == 4 and {"top1", "top5", "ema_top1"} <= set(first)
    state = load_train_state(work_dir / "last.pth")
    assert (state["epoch"], state["batch_in_epoch"], state["num_updates"]) == (0, 4, 4)  # 6 batches per epoch

    final = train_tool.main([str(config), "--work-dir", str(work_dir), "--resume",
                             "--cfg-options", "train.max_iters=12"])
    steps = [r["step"] for r in _records(work_dir, "train")]
    assert steps == list(range(1, 13))  # the resumed run continued at step 5, nothing repeated or skipped
    assert final["epoch"] == 2 and final["step"] == 12
    losses = [r["loss"] for r in _records(work_dir, "train")]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert (work_dir / "epoch_1.pth").is_file() and (work_dir / "epoch_2.pth").is_file()
    for picture in ("training_curve.png", "predictions.png"):
        assert (work_dir / picture).stat().st_size > 1000

    out = tmp_path / "metrics.json"
    metrics = test_tool.main([str(config), str(work_dir / "last.pth"), "--out", str(out)])
    assert metrics["top1"] == pytest.approx(final["top1"]) and metrics["ema_top1"] == pytest.approx(final["ema_top1"])
    assert json.loads(out.read_text()) == metrics


def test_gradient_accumulation_counts_optimizer_steps(tmp_path, tiny_imagefolder):
    config = _write_config(tmp_path / "accum.py", tiny_imagefolder,
                           train=dict(grad_accum_steps=2, max_iters=2, log_interval=1),
                           scheduler=dict(epochs=1, warmup_epochs=0))
    metrics = train_tool.main([str(config), "--work-dir", str(tmp_path / "run")])
    state = load_train_state(tmp_path / "run" / "last.pth")
    assert metrics["step"] == 2 and state["batch_in_epoch"] == 4


def test_slab_norm_schedule_is_set_in_batches(tmp_path, tiny_imagefolder):
    """SLAB's LayerNorm -> BatchNorm counters (ProgressiveRepBN buffers) are set from epochs in training batches."""
    config = _write_config(tmp_path / "slab.py", tiny_imagefolder,
                           model=dict(norm_schedule=dict(warmup_epochs=0.5, total_epochs=1)),
                           train=dict(max_iters=1))
    train_tool.main([str(config), "--work-dir", str(tmp_path / "run")])
    model_state = load_train_state(tmp_path / "run" / "last.pth")["model"]
    warm = [v for k, v in model_state.items() if k.endswith(".warm")]
    total = [v for k, v in model_state.items() if k.endswith(".total_step")]
    assert warm and all(int(v) == 3 - 1 for v in warm)  # 6 batches per epoch: 3 warm-up forwards, one used
    assert all(int(v) == 6 for v in total)


def test_training_killed_mid_epoch_resumes(tmp_path, tiny_imagefolder):
    """SIGKILL a run after a mid-epoch checkpoint: last.pth is intact and --resume finishes the run."""
    config = _write_config(tmp_path / "kill.py", tiny_imagefolder, scheduler=dict(epochs=50, warmup_epochs=0),
                           train=dict(checkpoint_interval=1, log_interval=1))
    work_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, str(REPO / "tools" / "train.py"), str(config), "--work-dir",
                                str(work_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (work_dir / "metrics.jsonl").is_file() and len(_records(work_dir, "train")) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the training run did not reach step 3 within 2 minutes")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    state = load_train_state(work_dir / "last.pth")
    assert state["num_updates"] >= 2
    final = train_tool.main([str(config), "--work-dir", str(work_dir), "--resume", "--cfg-options",
                             f"train.max_iters={state['num_updates'] + 2}"])
    assert final["step"] == state["num_updates"] + 2


def test_torchrun_two_processes(tmp_path, tiny_imagefolder):
    """DistributedDataParallel on CPU (gloo): each process takes half of every epoch's batches."""
    config = _write_config(tmp_path / "ddp.py", tiny_imagefolder, data=dict(batch_size=4),
                           train=dict(max_iters=3, log_interval=1))
    work_dir = tmp_path / "run"
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--master-addr", "127.0.0.1", "--master-port", str(port)]
    result = subprocess.run([*torchrun, str(REPO / "tools" / "train.py"), str(config), "--launcher", "pytorch",
                             "--work-dir", str(work_dir)], env=dict(os.environ, PYTHONPATH=str(REPO)),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["step"] for r in _records(work_dir, "train")] == [1, 2, 3]  # logged once, by rank 0
    assert "2 processes x batch 4" in (work_dir / "log.txt").read_text()
    assert json.loads((work_dir / "metrics.json").read_text())["step"] == 3


# --- bad input -------------------------------------------------------------------------------------------------

def test_bad_runs_fail_with_a_message(tmp_path, tiny_imagefolder):
    config = _write_config(tmp_path / "fp16.py", tiny_imagefolder, train=dict(amp="float16"))
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="needs a CUDA GPU"):
            train_tool.main([str(config), "--work-dir", str(tmp_path / "a")])
        with pytest.raises(SystemExit, match="--amp needs a CUDA GPU"):
            train_tool.main([str(_write_config(tmp_path / "b.py", tiny_imagefolder)), "--amp"])
    config = _write_config(tmp_path / "denoiser.py", tiny_imagefolder, model=dict(name="dvt_denoiser_vits14"))
    with pytest.raises(SystemExit, match="cannot be built as a classifier|not an image classifier"):
        train_tool.main([str(config), "--work-dir", str(tmp_path / "c")])
    config = _write_config(tmp_path / "unknown.py", tiny_imagefolder, model=dict(name="no_such_model"))
    with pytest.raises(SystemExit, match="not a registered"):
        train_tool.main([str(config), "--work-dir", str(tmp_path / "d")])
    config = _write_config(tmp_path / "nodata.py", tmp_path / "missing")
    with pytest.raises(SystemExit, match="does not exist"):
        train_tool.main([str(config), "--work-dir", str(tmp_path / "e")])
    with pytest.raises(SystemExit, match="no such training state"):
        train_tool.main([str(_write_config(tmp_path / "f.py", tiny_imagefolder)), "--resume", str(tmp_path / "x.pth")])
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    with pytest.raises(SystemExit):
        test_tool.main([str(_write_config(tmp_path / "g.py", tiny_imagefolder)), str(junk)])
