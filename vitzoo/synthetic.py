"""Small synthetic datasets in the real ImageFolder, ADE20K and COCO on-disk formats, for runs without downloads.

Every object class has its own shape and colour, so a model learns the task in a few hundred
iterations and the metrics move; the files are exactly what timm's ImageFolder reader, ``ADE20KDataset``
and ``CocoDataset`` read from the real datasets, so the same pipelines, metrics and launchers run on them.

``python tools/make_synthetic_data.py {imagefolder,ade20k,coco} ROOT`` writes a dataset; configs that name a
synthetic dataset get theirs written by ``tools/train.py`` / ``tools/test.py`` on first use.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "ADE20K_SPLITS",
    "COCO_SPLITS",
    "COCO_CLASSES",
    "SEGMENTATION_CLASSES",
    "IMAGEFOLDER_SPLITS",
    "make_imagefolder_like",
    "make_ade20k_like",
    "make_coco_like",
    "ensure_synthetic_data",
]

ADE20K_SPLITS = ("training", "validation")
COCO_SPLITS = ("train2017", "val2017")
IMAGEFOLDER_SPLITS = ("train", "val")

# ADE20K labels (1-based in the PNGs; 0 is "other", ignored with reduce_zero_label=True): the stuff
# class fills the background, the thing classes are drawn on top
SEGMENTATION_CLASSES = {1: "wall", 3: "floor", 13: "person", 15: "door", 20: "car", 24: "painting"}
_SEG_BACKGROUND = (1, 3)
_SEG_THINGS = (13, 15, 20, 24)

# COCO category ids and names as in instances_*2017.json, so CocoDataset(metainfo=classes) finds them
COCO_CLASSES = {1: "person", 3: "car", 18: "dog"}

_SHAPES = ("ellipse", "rectangle", "triangle", "diamond")
_COLOUR_NAMES = ("red", "green", "blue", "yellow", "purple", "cyan")
_COLOURS = ((220, 60, 50), (50, 170, 70), (40, 90, 210), (230, 200, 40), (150, 60, 190), (40, 190, 200))


@dataclass(frozen=True)
class _Object:
    shape: str
    colour: tuple[int, int, int]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def _polygon(obj: _Object, points: int = 24) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = obj.box
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if obj.shape == "rectangle":
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if obj.shape == "triangle":
        return [(cx, y0), (x1, y1), (x0, y1)]
    if obj.shape == "diamond":
        return [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
    return [(cx + rx * math.cos(2 * math.pi * i / points), cy + ry * math.sin(2 * math.pi * i / points))
            for i in range(points)]


def _random_box(rng: np.random.Generator, width: int, height: int) -> tuple[float, float, float, float]:
    w = rng.uniform(0.2, 0.5) * width
    h = rng.uniform(0.2, 0.5) * height
    x0 = rng.uniform(0, width - w)
    y0 = rng.uniform(0, height - h)
    return (float(x0), float(y0), float(x0 + w), float(y0 + h))


def _textured_background(rng: np.random.Generator, width: int, height: int, colour) -> np.ndarray:
    noise = rng.normal(0, 12, size=(height, width, 3))
    return np.clip(np.asarray(colour, dtype=np.float64) + noise, 0, 255)


def _save_jpeg(pixels: np.ndarray, path: Path) -> None:
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=95)


def make_ade20k_like(root, num_train: int = 40, num_val: int = 8, size: tuple[int, int] = (160, 160),
                     seed: int = 0) -> Path:
    """ADE20K layout: ``images/{training,validation}/*.jpg`` and ``annotations/.../*.png`` (uint8 labels).

    Each image has a stuff background (wall or floor) and 1-3 things (person, door, car, painting),
    each class with a fixed shape and colour plus pixel noise.
    """
    root = Path(root)
    width, height = size
    rng = np.random.default_rng(seed)
    for split, count in zip(ADE20K_SPLITS, (num_train, num_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            stem = f"ADE_{'train' if split == 'training' else 'val'}_{index:08d}"
            background = _SEG_BACKGROUND[index % len(_SEG_BACKGROUND)]
            canvas = Image.fromarray(
                _textured_background(rng, width, height, _COLOURS[_SEG_BACKGROUND.index(background) + 4]).astype(np.uint8)
            )
            labels = Image.new("L", (width, height), background)
            draw_image, draw_labels = ImageDraw.Draw(canvas), ImageDraw.Draw(labels)
            for _ in range(int(rng.integers(1, 4))):
                thing = int(rng.choice(_SEG_THINGS))
                kind = _SEG_THINGS.index(thing)
                obj = _Object(_SHAPES[kind], _COLOURS[kind], _random_box(rng, width, height))
                polygon = _polygon(obj)
                draw_image.polygon(polygon, fill=obj.colour)
                draw_labels.polygon(polygon, fill=thing)
            pixels = np.asarray(canvas, dtype=np.float64) + rng.normal(0, 6, size=(height, width, 3))
            _save_jpeg(np.clip(pixels, 0, 255), root / "images" / split / f"{stem}.jpg")
            labels.save(root / "annotations" / split / f"{stem}.png")
    return root


def make_imagefolder_like(root, num_classes: int = 6, num_train: int = 40, num_val: int = 10,
                          size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """ImageFolder layout: ``{train,val}/<class>/*.jpg``, ``num_train`` / ``num_val`` images per class.

    Class ``k`` is one object of shape ``k mod 4`` and colour ``k mod 6`` (named e.g. ``red_ellipse``) at a
    random place and size on a grey, noisy background.
    """
    if not 2 <= num_classes <= len(_COLOURS):
        raise ValueError(f"num_classes must be 2..{len(_COLOURS)} (one colour per class), got {num_classes}")
    root = Path(root)
    width, height = size
    rng = np.random.default_rng(seed)
    for split, count in zip(IMAGEFOLDER_SPLITS, (num_train, num_val)):
        for kind in range(num_classes):
            shape, colour = _SHAPES[kind % len(_SHAPES)], _COLOURS[kind]
            folder = root / split / f"{_COLOUR_NAMES[kind]}_{shape}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                canvas = Image.fromarray(_textured_background(rng, width, height, (120, 120, 120)).astype(np.uint8))
                ImageDraw.Draw(canvas).polygon(_polygon(_Object(shape, colour, _random_box(rng, width, height))),
                                               fill=colour)
                _save_jpeg(np.asarray(canvas), folder / f"{index:05d}.jpg")
    return root


def _polygon_area(points: list[tuple[float, float]]) -> float:
    xs, ys = np.array(points).T
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def make_coco_like(root, num_train: int = 40, num_val: int = 8, size: tuple[int, int] = (192, 160),
                   seed: int = 0) -> Path:
    """COCO layout: ``{train2017,val2017}/*.jpg`` and ``annotations/instances_{split}.json``.

    Each image holds 1-4 non-overlapping objects of the classes in :data:`COCO_CLASSES` (person: red
    ellipse, car: green rectangle, dog: blue triangle), annotated with boxes and polygons.
    """
    root = Path(root)
    width, height = size
    rng = np.random.default_rng(seed)
    categories = [{"id": i, "name": name, "supercategory": name} for i, name in COCO_CLASSES.items()]
    category_ids = list(COCO_CLASSES)
    annotation_id = 1
    for split, count in zip(COCO_SPLITS, (num_train, num_val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for index in range(count):
            image_id = index + 1
            file_name = f"{image_id:012d}.jpg"
            canvas = Image.fromarray(_textured_background(rng, width, height, (120, 120, 120)).astype(np.uint8))
            draw = ImageDraw.Draw(canvas)
            placed: list[tuple[float, float, float, float]] = []
            for _ in range(int(rng.integers(1, 5))):
                box = _random_box(rng, width, height)
                if any(box[0] < p[2] and p[0] < box[2] and box[1] < p[3] and p[1] < box[3] for p in placed):
                    continue
                placed.append(box)
                kind = int(rng.integers(len(category_ids)))
                obj = _Object(_SHAPES[kind], _COLOURS[kind], box)
                polygon = _polygon(obj)
                draw.polygon(polygon, fill=obj.colour)
                xs, ys = np.array(polygon).T
                annotations.append({
                    "id": annotation_id,
                    "image_id": image_id,
                    "category_id": category_ids[kind],
                    "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())],
                    "area": _polygon_area(polygon),
                    "segmentation": [[round(float(v), 2) for point in polygon for v in point]],
                    "iscrowd": 0,
                })
                annotation_id += 1
            _save_jpeg(np.asarray(canvas), root / split / file_name)
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        with open(root / "annotations" / f"instances_{split}.json", "w") as f:
            json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return root


_MAKERS = {
    "imagefolder": (make_imagefolder_like, IMAGEFOLDER_SPLITS[-1]),
    "ade20k": (make_ade20k_like, "images/validation"),
    "coco": (make_coco_like, "annotations/instances_val2017.json"),
}


def ensure_synthetic_data(spec: dict) -> Path | None:
    """Write the dataset a config's ``synthetic_data`` dict describes, unless it is already there.

    ``spec``: ``kind`` ('imagefolder', 'ade20k' or 'coco'), ``root``, and optional ``num_train``, ``num_val``,
    ``size`` (width, height), ``seed``; for 'imagefolder' also ``num_classes``.
    """
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in _MAKERS:
        raise ValueError(f"synthetic_data.kind must be one of {sorted(_MAKERS)}, got {kind!r}")
    if "root" not in spec:
        raise ValueError("synthetic_data needs a root directory")
    maker, marker = _MAKERS[kind]
    root = Path(spec.pop("root"))
    if (root / marker).exists():
        return root
    if "size" in spec:
        spec["size"] = tuple(spec["size"])
    return maker(root, **spec)
