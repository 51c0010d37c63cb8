"""Pictures of a run: the training curve (loss, top-1) and a grid of validation predictions."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from .data import ImageFolderDataset

__all__ = ["plot_training_curve", "plot_predictions"]


def _pyplot():
    try:
        import matplotlib
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("the run's plots need matplotlib: pip install -e '.[train]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curve(metrics_jsonl: str | Path, out: str | Path) -> Path:
    """Training loss per step and validation top-1 (and the EMA's) per evaluation, from ``metrics.jsonl``."""
    records = [json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines() if line.strip()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], marker=".")
    ax_loss.set(xlabel="optimizer step", ylabel="training loss", title="training loss")
    ax_acc.plot([r["step"] for r in evals], [r["top1"] for r in evals], marker="o", label="model")
    if evals and "ema_top1" in evals[0]:
        ax_acc.plot([r["step"] for r in evals], [r["ema_top1"] for r in evals], marker="s", label="EMA")
    ax_acc.set(xlabel="optimizer step", ylabel="top-1 (%)", title="validation top-1", ylim=(0, 100))
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


@torch.no_grad()
def plot_predictions(model: nn.Module, dataset: ImageFolderDataset, classes: Sequence[str], device: torch.device,
                     out: str | Path, count: int = 16) -> Path:
    """The first ``count`` validation images spread over the classes, titled prediction (green: right, red: wrong)."""
    model.eval()
    step = max(len(dataset) // count, 1)
    indices = list(range(0, len(dataset), step))[:count]
    images = torch.stack([dataset[i][0] for i in indices]).to(device)
    probabilities = model(images).float().softmax(-1).cpu()
    plt = _pyplot()
    columns = 4
    rows = (len(indices) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index, probs in zip(axes.flat, indices, probabilities):
        picture, target = dataset.load(index)
        predicted = int(probs.argmax())
        ax.imshow(picture)
        ax.set_title(f"{classes[predicted]} {100 * probs[predicted]:.0f}%\n(true: {classes[target]})", fontsize=8,
                     color="green" if predicted == target else "red")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)
