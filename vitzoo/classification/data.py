"""ImageFolder datasets, timm's transforms, and samplers that can resume in the middle of an epoch."""
from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config
from timm.data.distributed_sampler import RepeatAugSampler
from timm.data.readers import create_reader
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

__all__ = [
    "ImageFolderDataset", "build_datasets", "build_train_transform", "build_loader", "build_val_loader",
    "ResumableSampler",
    "eval_data_config",
]

_logger = logging.getLogger(__name__)

# consecutive unreadable images after which loading gives up: the folder is likely not an image dataset
MAX_CONSECUTIVE_BROKEN = 10


class ImageFolderDataset(Dataset):
    """An ImageFolder (one sub-folder per class) read with timm's reader; unreadable images are skipped.

    A file that does not decode is reported once, with its path, and the next image takes its place, so one
    broken file does not stop a long run; ``MAX_CONSECUTIVE_BROKEN`` broken files in a row do.
    """

    def __init__(self, root: str | os.PathLike, transform=None, class_to_idx: Mapping[str, int] | None = None):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"dataset folder {str(root)!r} does not exist; set data.train_dir / data.val_dir to ImageFolder "
                "roots (one sub-folder of images per class), or data.synthetic to generate a dataset"
            )
        self.reader = create_reader("", root=str(root), class_map=dict(class_to_idx) if class_to_idx else None)
        if len(self.reader) == 0:
            raise ValueError(f"{root} holds no images in class sub-folders (ImageFolder layout: ROOT/CLASS/IMAGE)")
        self.root = root
        self.transform = transform
        self.reported: set[str] = set()

    @property
    def class_to_idx(self) -> dict[str, int]:
        return dict(self.reader.class_to_idx)

    @property
    def classes(self) -> list[str]:
        return [name for name, _ in sorted(self.class_to_idx.items(), key=lambda item: item[1])]

    def __len__(self) -> int:
        return len(self.reader)

    def load(self, index: int) -> tuple[Image.Image, int]:
        """The RGB image and class index of sample ``index`` (raises on an unreadable file)."""
        file, target = self.reader[index]
        with Image.open(file) as image:
            return image.convert("RGB"), target

    def load_readable(self, index: int) -> tuple[Image.Image, int, int]:
        """The first readable sample from ``index`` on: its RGB image, class index, and index."""
        for attempt in range(MAX_CONSECUTIVE_BROKEN):
            try:
                image, target = self.load(index)
                return image, target, index
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                path = self.reader.filename(index, absolute=True)
                if path not in self.reported:
                    self.reported.add(path)
                    _logger.warning("skipping unreadable image %s (%s)", path, e)
                index = (index + 1) % len(self)
        raise RuntimeError(
            f"{MAX_CONSECUTIVE_BROKEN} images in a row under {self.root} could not be read (last: {path}); "
            "check that the folder holds images"
        )

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, target, _ = self.load_readable(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, target


def eval_data_config(model: torch.nn.Module, data_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Mean, std, interpolation and crop for evaluation: the config's values, else the model's pretrained cfg."""
    overrides = {k: data_cfg[k] for k in ("interpolation", "crop_pct", "mean", "std") if data_cfg.get(k) is not None}
    resolved = resolve_data_config(overrides, model=model)
    size = data_cfg["img_size"]
    resolved["input_size"] = (3, *((size, size) if isinstance(size, int) else size))
    return resolved


def build_datasets(data_cfg: Mapping[str, Any], model: torch.nn.Module) -> tuple[ImageFolderDataset, ImageFolderDataset]:
    """The train and val datasets with timm's train / eval transforms."""
    if not data_cfg.get("train_dir") or not data_cfg.get("val_dir"):
        raise ValueError("set data.train_dir and data.val_dir (ImageFolder roots), or data.synthetic")
    eval_cfg = eval_data_config(model, data_cfg)
    train_transform = build_train_transform(data_cfg, eval_cfg)
    eval_transform = create_transform(
        eval_cfg["input_size"],
        is_training=False,
        interpolation=eval_cfg["interpolation"],
        mean=eval_cfg["mean"],
        std=eval_cfg["std"],
        crop_pct=eval_cfg["crop_pct"],
    )
    train_set = ImageFolderDataset(data_cfg["train_dir"], train_transform)
    val_set = ImageFolderDataset(data_cfg["val_dir"], eval_transform, class_to_idx=train_set.class_to_idx)
    if set(val_set.class_to_idx) - set(train_set.class_to_idx):
        raise ValueError(f"{data_cfg['val_dir']} has classes that {data_cfg['train_dir']} does not")
    return train_set, val_set


def build_train_transform(data_cfg: Mapping[str, Any], eval_cfg: Mapping[str, Any], separate: bool = False):
    """timm's train transform for the config; ``separate``: as timm's three stages (geometry, appearance, to tensor)."""
    return create_transform(
        eval_cfg["input_size"],
        is_training=True,
        scale=tuple(data_cfg["scale"]),
        ratio=tuple(data_cfg["ratio"]),
        hflip=data_cfg["hflip"],
        color_jitter=data_cfg["color_jitter"],
        auto_augment=data_cfg["auto_augment"],
        interpolation=data_cfg["train_interpolation"],
        mean=eval_cfg["mean"],
        std=eval_cfg["std"],
        re_prob=data_cfg["re_prob"],
        re_mode=data_cfg["re_mode"],
        re_count=data_cfg["re_count"],
        separate=separate,
    )


class ResumableSampler(Sampler):
    """A per-epoch deterministic sampler (shuffled by seed + epoch, sharded over processes) that can start late.

    ``set_epoch(epoch, start_batch)`` skips the batches an interrupted run already trained on, so a resumed
    run sees exactly the samples the interrupted one had left.
    """

    def __init__(self, dataset: Dataset, batch_size: int, num_replicas: int, rank: int, seed: int,
                 shuffle: bool = True, repeated_aug: int = 0):
        if repeated_aug > 0:
            self.base: Sampler = RepeatAugSampler(
                dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, num_repeats=repeated_aug
            )
        else:
            self.base = DistributedSampler(
                dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False
            )
        self.batch_size = batch_size
        self.start = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.base.set_epoch(epoch)
        self.start = start_batch * self.batch_size

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.base), self.start, None)

    def __len__(self) -> int:
        return max(len(self.base) - self.start, 0)


def build_loader(dataset: Dataset, sampler: Sampler, batch_size: int, num_workers: int, pin_memory: bool,
                 drop_last: bool) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory and torch.cuda.is_available(),
        drop_last=drop_last,
        persistent_workers=False,
    )


def build_val_loader(val_set: Dataset, data_cfg: Mapping[str, Any], num_replicas: int, rank: int) -> DataLoader:
    """The evaluation loader: every process takes its share in order (``data.eval_batch_size``, default 2x)."""
    return build_loader(
        val_set,
        ResumableSampler(val_set, 1, num_replicas, rank, 0, shuffle=False),
        data_cfg["eval_batch_size"] or 2 * data_cfg["batch_size"],
        data_cfg["num_workers"],
        data_cfg["pin_memory"],
        drop_last=False,
    )
