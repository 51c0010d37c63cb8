"""The classification training loop: timm's transforms, mixup, losses, optimizers, schedulers and EMA.

One process, or one per GPU under ``torchrun`` (DistributedDataParallel). Each run writes to its work dir:
``training_curve.png`` and ``predictions.png`` (the final model on validation images), ``last.pth`` (the training state, rewritten every ``train.checkpoint_interval`` steps and at each epoch's end,
always by write-then-rename), ``epoch_N.pth``, ``log.txt``, ``metrics.jsonl`` (one JSON record per log
interval and per evaluation) and ``metrics.json`` (the final evaluation).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import timm
import torch
import torch.distributed as dist
import torch.nn as nn
from timm.data import Mixup
from timm.loss import BinaryCrossEntropy, LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3, accuracy, dispatch_clip_grad
from tqdm import tqdm

from ..synthetic import IMAGEFOLDER_SPLITS, ensure_synthetic_data
from .data import ResumableSampler, build_datasets, build_loader, build_val_loader, eval_data_config
from .report import plot_predictions, plot_training_curve
from .state import TRAIN_STATE_KEY, capture_rng, load_train_state, restore_rng, save_atomic
from .token_label import MixTokenModel, TokenLabelConfig, TokenLabelCrossEntropy, TokenLabelDataset

__all__ = ["DistEnv", "init_distributed", "build_classifier", "count_classes", "evaluate", "train", "resolve_data_dirs"]

_logger = logging.getLogger("vitzoo.classification")


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(launcher: str) -> DistEnv:
    """One process (``none``) or the process group ``torchrun`` describes (``pytorch``)."""
    if launcher == "none":
        return DistEnv(0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    if launcher != "pytorch":
        raise SystemExit(f"--launcher {launcher}: classification runs support 'none' and 'pytorch' (torchrun)")
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise SystemExit("--launcher pytorch: start the run with torchrun (RANK / WORLD_SIZE are not set)")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistEnv(dist.get_rank(), dist.get_world_size(), device)


def _setup_logging(work_dir: Path, env: DistEnv) -> None:
    _logger.setLevel(logging.INFO if env.is_main else logging.WARNING)
    for handler in list(_logger.handlers):  # a second run in the same process logs to its own work dir
        _logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for handler in (logging.StreamHandler(sys.stdout), logging.FileHandler(work_dir / "log.txt")):
        handler.setFormatter(formatter)
        _logger.addHandler(handler)


def resolve_data_dirs(cfg: Mapping[str, Any], env: DistEnv | None = None) -> dict[str, Any]:
    """``cfg['data']`` with train_dir / val_dir filled in for a synthetic dataset (written on first use)."""
    data_cfg = dict(cfg["data"])
    spec = data_cfg.get("synthetic")
    if spec:
        root = Path(spec.get("root", "data/synthetic_shapes"))
        if env is None or env.is_main:
            ensure_synthetic_data({"kind": "imagefolder", **spec, "root": str(root)})
        if dist.is_initialized():
            dist.barrier()
        data_cfg["train_dir"], data_cfg["val_dir"] = (str(root / split) for split in IMAGEFOLDER_SPLITS)
    return data_cfg


def build_classifier(model_cfg: Mapping[str, Any], num_classes: int) -> nn.Module:
    """``timm.create_model`` with the config's options, checked to be a classifier with ``num_classes`` outputs."""
    name = model_cfg["name"]
    if name not in timm.list_models() and name.split(".")[0] not in timm.list_models():
        raise SystemExit(f"model.name {name!r} is not a registered timm / vitzoo model (see timm.list_models())")
    kwargs = dict(model_cfg.get("kwargs") or {})
    if model_cfg.get("drop_rate"):
        kwargs["drop_rate"] = model_cfg["drop_rate"]
    if model_cfg.get("drop_path_rate") is not None:
        kwargs["drop_path_rate"] = model_cfg["drop_path_rate"]
    try:
        model = timm.create_model(name, pretrained=model_cfg.get("pretrained", False), num_classes=num_classes, **kwargs)
    except TypeError as e:
        raise SystemExit(f"{name} cannot be built as a classifier with {sorted(kwargs)} ({e})") from e
    if getattr(model, "num_classes", None) != num_classes or not hasattr(model, "reset_classifier"):
        raise SystemExit(f"{name} is not an image classifier (no classification head): it cannot be trained here")
    return model


def _apply_norm_schedule(model: nn.Module, schedule: Mapping[str, Any] | None, batches_per_epoch: int) -> None:
    """SLAB: set every progressive LayerNorm -> BatchNorm schedule, in training forwards (= batches)."""
    if not schedule:
        return
    from ..layers.prepbn import ProgressiveRepBN

    norms = [m for m in model.modules() if isinstance(m, ProgressiveRepBN)]
    if not norms:
        raise SystemExit("model.norm_schedule is set, but the model has no progressive LayerNorm -> BatchNorm layers")
    warm = int(round(schedule["warmup_epochs"] * batches_per_epoch))
    total = int(round(schedule["total_epochs"] * batches_per_epoch))
    if total <= 0:
        raise SystemExit("model.norm_schedule.total_epochs must be > 0")
    for norm in norms:
        norm.warm.fill_(warm)
        norm.iter.fill_(total)
        norm.total_step.fill_(total)


def _autocast(device: torch.device, amp: str | None):
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, amp))


def _check_amp(amp: str | None, device: torch.device) -> None:
    if amp not in (None, "bfloat16", "float16"):
        raise SystemExit(f"train.amp must be None, 'bfloat16' or 'float16', not {amp!r}")
    if amp == "float16" and device.type != "cuda":
        raise SystemExit("train.amp='float16' needs a CUDA GPU; use 'bfloat16' (or None) on CPU")


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@torch.no_grad()
def evaluate(model: nn.Module, loader, env: DistEnv, amp: str | None = None, desc: str = "eval") -> dict[str, float]:
    """Cross-entropy, top-1 and top-5 (top-k capped at the number of classes) over the loader, all processes."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=env.device)  # loss sum, top1 hits, top5 hits, count
    for images, targets in tqdm(loader, desc=desc, leave=False, disable=not env.is_main, mininterval=2):
        images, targets = images.to(env.device), targets.to(env.device)
        with _autocast(env.device, amp):
            logits = model(images)
        logits = logits.float()
        k = min(5, logits.shape[-1])
        top1, top5 = accuracy(logits, targets, topk=(1, k))
        n = targets.shape[0]
        totals += torch.tensor(
            [nn.functional.cross_entropy(logits, targets, reduction="sum").item(), top1.item() * n / 100,
             top5.item() * n / 100, n], dtype=torch.float64, device=env.device,
        )
    if dist.is_initialized():
        dist.all_reduce(totals)
    loss, hits1, hits5, count = totals.tolist()
    return {"loss": loss / count, "top1": 100 * hits1 / count, "top5": 100 * hits5 / count}


def _loss_fn(cfg: Mapping[str, Any], mixup_active: bool) -> nn.Module:
    smoothing = cfg["loss"]["label_smoothing"]
    if cfg["loss"].get("token_label"):
        return TokenLabelCrossEntropy(TokenLabelConfig.from_config(cfg), smoothing)
    if cfg["loss"]["bce"]:
        return BinaryCrossEntropy(smoothing=0.0 if mixup_active else smoothing)
    if mixup_active:
        return SoftTargetCrossEntropy()  # mixup / cutmix already smoothed the targets
    if smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing=smoothing)
    return nn.CrossEntropyLoss()


def _scaled_lrs(cfg: Mapping[str, Any], total_batch: int) -> tuple[float, float, float]:
    base = cfg["optimizer"]["base_batch_size"]
    scale = total_batch / base if base else 1.0
    sched = cfg["scheduler"]
    bounds_scale = scale if cfg["optimizer"]["scale_warmup_min_lr"] else 1.0
    return cfg["optimizer"]["lr"] * scale, sched["warmup_lr"] * bounds_scale, sched["min_lr"] * bounds_scale


class _MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended (a resumed run continues the same file)."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = path, enabled

    def write(self, **record: Any) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(cfg: Mapping[str, Any], work_dir: str | os.PathLike, resume: str | None = None,
          launcher: str = "none") -> dict[str, Any]:
    """Train ``cfg`` (a loaded classification config); returns the final evaluation.

    ``resume``: None (start fresh), ``"auto"`` (the work dir's ``last.pth`` if there is one) or a path.
    """
    env = init_distributed(launcher)
    work_dir = Path(work_dir)
    if env.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_initialized():
        dist.barrier()
    _setup_logging(work_dir, env)
    tcfg = cfg["train"]
    _check_amp(tcfg["amp"], env.device)
    _seed_everything(tcfg["seed"] + env.rank)

    data_cfg = resolve_data_dirs(cfg, env)
    # the model's head needs the class count; the eval transform needs the model's mean / std / crop
    num_classes = count_classes(data_cfg["train_dir"])
    model = build_classifier(cfg["model"], num_classes)
    train_set, val_set = build_datasets(data_cfg, model)
    token_label = TokenLabelConfig.from_config(cfg)  # RMT's token labelling: label maps go with each image
    if token_label is not None:
        train_set = TokenLabelDataset(train_set, token_label.label_dir, data_cfg, eval_data_config(model, data_cfg))
    accum = tcfg["grad_accum_steps"]
    if accum < 1:
        raise SystemExit("train.grad_accum_steps must be >= 1")
    batch_size = data_cfg["batch_size"]
    train_sampler = ResumableSampler(train_set, batch_size, env.world_size, env.rank, tcfg["seed"],
                                     repeated_aug=data_cfg["repeated_aug"])
    batches_per_epoch = len(train_sampler) // batch_size
    if batches_per_epoch < accum:
        raise SystemExit(
            f"the training set gives {batches_per_epoch} batches of {batch_size} per process and epoch, fewer than "
            f"train.grad_accum_steps={accum}: lower data.batch_size or add images"
        )
    updates_per_epoch = batches_per_epoch // accum
    val_loader = build_val_loader(val_set, data_cfg, env.world_size, env.rank)

    _apply_norm_schedule(model, cfg["model"].get("norm_schedule"), batches_per_epoch)
    if tcfg["grad_checkpointing"]:
        model.set_grad_checkpointing(True)
    model.to(env.device)
    if tcfg["channels_last"]:
        model.to(memory_format=torch.channels_last)

    total_batch = batch_size * env.world_size * accum
    lr, warmup_lr, min_lr = _scaled_lrs(cfg, total_batch)
    ocfg = cfg["optimizer"]
    opt_kwargs = {"eps": ocfg["opt_eps"], "momentum": ocfg["momentum"]}
    if ocfg["opt_betas"] is not None:
        opt_kwargs["betas"] = tuple(ocfg["opt_betas"])
    optimizer = create_optimizer_v2(model, opt=ocfg["opt"], lr=lr, weight_decay=ocfg["weight_decay"],
                                    layer_decay=ocfg["layer_decay"], **opt_kwargs)
    scfg = cfg["scheduler"]
    scheduler, num_epochs = create_scheduler_v2(
        optimizer, sched=scfg["sched"],
        # timm adds a prefixed warmup to num_epochs; scheduler.epochs is the whole run either way
        num_epochs=scfg["epochs"] - (scfg["warmup_epochs"] if scfg["warmup_prefix"] else 0), decay_epochs=scfg["decay_epochs"],
        decay_rate=scfg["decay_rate"], cooldown_epochs=scfg["cooldown_epochs"], warmup_epochs=scfg["warmup_epochs"],
        warmup_lr=warmup_lr, min_lr=min_lr, warmup_prefix=scfg["warmup_prefix"],
        step_on_epochs=scfg["step_on_epochs"], updates_per_epoch=updates_per_epoch,
    )
    scaler = torch.amp.GradScaler(env.device.type) if tcfg["amp"] == "float16" else None
    ema = None
    if cfg["ema"]["enabled"]:
        ema = ModelEmaV3(model, decay=cfg["ema"]["decay"], use_warmup=cfg["ema"]["warmup"],
                         device="cpu" if cfg["ema"]["on_cpu"] else None)

    mcfg = cfg["mixup"]
    mixup_active = mcfg["mixup_alpha"] > 0 or mcfg["cutmix_alpha"] > 0 or mcfg["cutmix_minmax"] is not None
    mixup = None
    if mixup_active:
        mixup = Mixup(mixup_alpha=mcfg["mixup_alpha"], cutmix_alpha=mcfg["cutmix_alpha"],
                      cutmix_minmax=mcfg["cutmix_minmax"], prob=mcfg["prob"], switch_prob=mcfg["switch_prob"],
                      mode=mcfg["mode"], label_smoothing=cfg["loss"]["label_smoothing"], num_classes=num_classes)
    criterion = _loss_fn(cfg, mixup_active).to(env.device)

    epoch, batch_in_epoch, num_updates = 0, 0, 0
    resume_path = _resume_path(resume, work_dir)
    if resume_path is not None:
        state = load_train_state(resume_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        epoch, batch_in_epoch, num_updates = state["epoch"], state["batch_in_epoch"], state["num_updates"]
        restore_rng(state["rng"])
        scheduler.step(epoch)  # the lr where the interrupted run was (the per-step one is set below)
        scheduler.step_update(num_updates=num_updates)
        _logger.info("resumed from %s: epoch %d, batch %d, step %d", resume_path, epoch, batch_in_epoch, num_updates)

    train_model: nn.Module = model
    if token_label is not None:  # its training forward (MixToken) as a module, for DistributedDataParallel
        train_model = MixTokenModel(model, token_label.mix_token, token_label.mix_token_beta)
    if dist.is_initialized():
        train_model = nn.parallel.DistributedDataParallel(
            train_model, device_ids=[env.device.index] if env.device.type == "cuda" else None
        )
    metrics_log = _MetricsLog(work_dir / "metrics.jsonl", env.is_main)
    classes = train_set.classes

    def save_state(path: Path) -> None:
        if env.is_main:
            save_atomic({
                TRAIN_STATE_KEY: 1,
                "model": model.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "num_updates": num_updates,
                "classes": classes,
                "model_name": cfg["model"]["name"],
                "rng": capture_rng(),
            }, path)

    _logger.info(
        "training %s on %d images, %d classes (%d processes x batch %d x %d accumulation = %d; lr %.3g), "
        "%d epochs of %d steps", cfg["model"]["name"], len(train_set), num_classes, env.world_size, batch_size,
        accum, total_batch, lr, num_epochs, updates_per_epoch,
    )
    max_iters = tcfg["max_iters"]
    final_metrics: dict[str, Any] = {}
    stop = max_iters is not None and num_updates >= max_iters
    while epoch < num_epochs and not stop:
        train_sampler.set_epoch(epoch, batch_in_epoch)
        train_loader = build_loader(train_set, train_sampler, batch_size, data_cfg["num_workers"],
                                    data_cfg["pin_memory"], drop_last=True)
        train_model.train()
        bar = tqdm(total=batches_per_epoch, initial=batch_in_epoch, desc=f"epoch {epoch + 1}/{num_epochs}",
                   disable=not env.is_main, mininterval=2, leave=False)
        window_loss, window_count, window_start = 0.0, 0, time.perf_counter()
        # an epoch ends after whole optimizer steps: trailing batches short of an accumulation are not used
        for images, targets in train_loader:
            if batch_in_epoch >= updates_per_epoch * accum:
                break
            images, targets = images.to(env.device, non_blocking=True), targets.to(env.device, non_blocking=True)
            if tcfg["channels_last"]:
                images = images.contiguous(memory_format=torch.channels_last)
            if mixup is not None:
                images, targets = mixup(images, targets)
            last_micro_step = (batch_in_epoch + 1) % accum == 0
            ddp = isinstance(train_model, nn.parallel.DistributedDataParallel)
            sync = train_model.no_sync() if ddp and not last_micro_step else contextlib.nullcontext()
            with sync:
                with _autocast(env.device, tcfg["amp"]):
                    loss = criterion(train_model(images), targets)
                if not math.isfinite(loss.item()):
                    raise SystemExit(f"loss is {loss.item()} at epoch {epoch}, step {num_updates}: lower the lr or "
                                     "enable train.clip_grad")
                scaled = loss / accum
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            batch_in_epoch += 1
            window_loss += loss.item()
            window_count += 1
            bar.update(1)
            if not last_micro_step:
                continue
            if scaler is not None:
                scaler.unscale_(optimizer)
            if tcfg["clip_grad"] is not None:
                dispatch_clip_grad(model.parameters(), tcfg["clip_grad"], mode=tcfg["clip_mode"])
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            num_updates += 1
            if ema is not None:
                ema.update(model, step=num_updates)
            scheduler.step_update(num_updates=num_updates)
            if num_updates % tcfg["log_interval"] == 0 or num_updates == max_iters:
                mean_loss = window_loss / window_count
                current_lr = optimizer.param_groups[0]["lr"]
                rate = window_count * batch_size * env.world_size / (time.perf_counter() - window_start)
                bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{current_lr:.3g}")
                _logger.info("epoch %d step %d: loss %.4f lr %.3g (%.1f images/s)", epoch + 1, num_updates,
                             mean_loss, current_lr, rate)
                metrics_log.write(kind="train", epoch=epoch + 1, step=num_updates, loss=mean_loss, lr=current_lr)
                window_loss, window_count, window_start = 0.0, 0, time.perf_counter()
            if tcfg["checkpoint_interval"] and num_updates % tcfg["checkpoint_interval"] == 0:
                save_state(work_dir / "last.pth")
            if max_iters is not None and num_updates >= max_iters:
                stop = True
                break
        bar.close()
        epoch_done = batch_in_epoch >= updates_per_epoch * accum
        if epoch_done:
            epoch, batch_in_epoch = epoch + 1, 0
            scheduler.step(epoch)
        if epoch_done or stop:
            if (epoch % tcfg["eval_interval"] == 0) or stop or epoch == num_epochs:
                final_metrics = _evaluate_all(train_model, ema, val_loader, env, tcfg["amp"])
                final_metrics.update(epoch=epoch, step=num_updates)
                _logger.info("evaluation after epoch %d (step %d): %s", epoch, num_updates, _format(final_metrics))
                metrics_log.write(kind="eval", **final_metrics)
            save_state(work_dir / "last.pth")
            if epoch_done:
                _keep_epoch_checkpoint(work_dir, epoch, tcfg["keep_checkpoints"], env)
    if not final_metrics:
        final_metrics = _evaluate_all(train_model, ema, val_loader, env, tcfg["amp"])
        final_metrics.update(epoch=epoch, step=num_updates)
    if env.is_main:
        with open(work_dir / "metrics.json", "w") as f:
            json.dump(final_metrics, f, indent=2)
        plot_training_curve(work_dir / "metrics.jsonl", work_dir / "training_curve.png")
        plot_predictions(model, val_set, val_set.classes, env.device, work_dir / "predictions.png")
    return final_metrics


def count_classes(train_dir: str) -> int:
    """The number of class folders of an ImageFolder root (at least 2)."""
    root = Path(train_dir)
    if not root.is_dir():
        raise SystemExit(f"data.train_dir {train_dir!r} does not exist (ImageFolder root: one sub-folder per class)")
    count = sum(1 for p in root.iterdir() if p.is_dir())
    if count < 2:
        raise SystemExit(f"data.train_dir {train_dir!r} has {count} class folders; a classifier needs at least 2")
    return count


def _resume_path(resume: str | None, work_dir: Path) -> Path | None:
    if resume is None:
        return None
    if resume == "auto":
        last = work_dir / "last.pth"
        if not last.is_file():
            _logger.info("--resume: no last.pth in %s, starting fresh", work_dir)
            return None
        return last
    return Path(resume)


def _evaluate_all(model, ema, loader, env: DistEnv, amp) -> dict[str, Any]:
    metrics = evaluate(model, loader, env, amp)
    if ema is not None:
        metrics.update({f"ema_{k}": v for k, v in evaluate(ema.module, loader, env, amp, desc="eval EMA").items()})
    return metrics


def _format(metrics: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def _keep_epoch_checkpoint(work_dir: Path, epoch: int, keep: int, env: DistEnv) -> None:
    """Copy ``last.pth`` to ``epoch_N.pth`` (by hard link where possible) and drop the oldest beyond ``keep``."""
    if not env.is_main or keep <= 0:
        return
    target = work_dir / f"epoch_{epoch}.pth"
    tmp = work_dir / f".epoch_{epoch}.pth.tmp"
    if tmp.exists():
        tmp.unlink()
    try:  # last.pth is later replaced by a new file, so a hard link keeps this epoch's content
        os.link(work_dir / "last.pth", tmp)
    except OSError:
        shutil.copyfile(work_dir / "last.pth", tmp)
    os.replace(tmp, target)
    epochs = sorted(int(p.stem.split("_")[1]) for p in work_dir.glob("epoch_*.pth"))
    for old in epochs[:-keep]:
        (work_dir / f"epoch_{old}.pth").unlink(missing_ok=True)
