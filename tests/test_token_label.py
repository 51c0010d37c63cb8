"""RMT's token-labelling training (vitzoo.classification.token_label): TLT's label maps, their crop and flip
with the image, the dense targets, MixToken, the loss, and a short training run through the trainer."""
from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision.transforms import functional as TF

from vitzoo.classification.config import load_config
from vitzoo.classification.data import ImageFolderDataset
from vitzoo.classification.engine import train
from vitzoo.classification.token_label import (
    MixTokenModel,
    TokenLabelConfig,
    TokenLabelCrossEntropy,
    TokenLabelDataset,
    TokenLabelOutput,
    TokenLabelTarget,
    label_map_path,
    mix_token_box,
    read_label_map,
    token_label_targets,
)
from vitzoo.synthetic import make_imagefolder_like

REPO = Path(__file__).resolve().parents[1]
SMOOTHING = 0.1


def _save_label_map(path: Path, scores: torch.Tensor, indices: torch.Tensor) -> None:
    """A label map as TLT's generate_label.py writes it: float16 (2, k, H, W)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.stack([scores, indices.float()]).half(), path)


def _write_label_maps(image_root: Path, label_dir: Path, k: int, size: int, seed: int = 0) -> None:
    """Random top-k maps for every image under ``image_root``, in TLT's file layout."""
    generator = torch.Generator().manual_seed(seed)
    for image in sorted(image_root.glob("*/*")):
        scores = torch.rand(k, size, size, generator=generator) * 10
        indices = torch.stack([torch.randperm(k, generator=generator) for _ in range(size * size)], 1)
        _save_label_map(label_map_path(label_dir, image), scores, indices.view(k, size, size))


# --- label maps ------------------------------------------------------------------------------------------------

def test_label_map_files_are_read_as_tlt_writes_them(tmp_path):
    path = label_map_path(tmp_path, "/data/train/n01440764/n01440764_10026.JPEG")
    assert path == tmp_path / "n01440764" / "n01440764_10026.pt"
    scores, indices = torch.rand(5, 3, 3) * 20, torch.randint(0, 10, (5, 3, 3))
    _save_label_map(path, scores, indices)
    label_map = read_label_map(path, num_classes=10)
    assert label_map.dtype == torch.float32 and label_map.shape == (2, 5, 3, 3)
    assert torch.equal(label_map[0], scores.half().float()) and torch.equal(label_map[1], indices.float())

    with pytest.raises(ValueError, match=r"integers in \[0, 8\)"):
        read_label_map(path, num_classes=8)
    with pytest.raises(FileNotFoundError, match="label_dir must hold"):
        read_label_map(tmp_path / "missing.pt", num_classes=10)
    torch.save(torch.zeros(5, 3, 3), tmp_path / "flat.pt")
    with pytest.raises(ValueError, match=r"shape \(2, k, H, W\).*got \(5, 3, 3\)"):
        read_label_map(tmp_path / "flat.pt", num_classes=10)
    with open(tmp_path / "code.pt", "wb") as f:  # a pickle that would run code is refused, not executed
        pickle.dump(Path("x"), f, protocol=2)
    with pytest.raises(ValueError, match="not a token-label map"):
        read_label_map(tmp_path / "code.pt", num_classes=10)


# --- targets: the label map is cut where the crop is --------------------------------------------------------

GRID = 8  # label cells per side; cell (r, c) is class r * GRID + c
SCORE = 10.0


def _position_map() -> torch.Tensor:
    cells = torch.arange(GRID * GRID, dtype=torch.float32).view(1, GRID, GRID)
    return torch.stack([torch.full_like(cells, SCORE), cells])[None]  # (1, 2, 1, GRID, GRID)


def _expected_target(rows: range, cols: range) -> torch.Tensor:
    """TLT's target over the cells under a region: mean score per cell, softmax, label smoothing."""
    logits = torch.zeros(GRID * GRID)
    cells = [r * GRID + c for r in rows for c in cols]
    logits[cells] = SCORE / len(cells)
    off = SMOOTHING / logits.numel()
    return logits.softmax(0) * (1 - SMOOTHING + off) + off


def _expected_targets(row0: int, col0: int, rows: int, cols: int, label_size: int):
    """The class and token targets of a crop covering cells [row0, row0 + rows) x [col0, col0 + cols)."""
    whole = _expected_target(range(row0, row0 + rows), range(col0, col0 + cols))
    bin_h, bin_w = rows // label_size, cols // label_size
    tokens = [
        _expected_target(range(row0 + a * bin_h, row0 + (a + 1) * bin_h),
                         range(col0 + b * bin_w, col0 + (b + 1) * bin_w))
        for a in range(label_size) for b in range(label_size)
    ]
    return whole[None], torch.stack(tokens)[None]


@pytest.mark.parametrize("tlt_box_order", [False, True])
def test_targets_are_the_label_cells_under_the_crop(tlt_box_order):
    # crop: rows 1..4, cols 2..7 of the 8x8 grid (as fractions); cell-aligned, so RoIAlign samples cell centres
    crop = torch.tensor([[1 / GRID, 2 / GRID, 4 / GRID, 6 / GRID]])
    cls_target, token_target = token_label_targets(_position_map(), crop, GRID * GRID, 2, SMOOTHING, tlt_box_order)
    if tlt_box_order:  # TLT reads (top, left, bottom, right) as (x1, y1, x2, y2): rows 2..7, cols 1..4
        expected = _expected_targets(2, 1, 6, 4, label_size=2)
    else:
        expected = _expected_targets(1, 2, 4, 6, label_size=2)
    assert token_target.shape == (1, 4, GRID * GRID)
    torch.testing.assert_close(cls_target, expected[0])
    torch.testing.assert_close(token_target, expected[1])
    # TLT smooths after the softmax: on * p + off, so a target sums to 1 + smoothing / classes
    torch.testing.assert_close(token_target.sum(-1), torch.full((1, 4), 1 + SMOOTHING / GRID**2))


# --- the dataset: the label map is flipped and cropped with the image -----------------------------------------

def _position_image(width: int, height: int) -> Image.Image:
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    return Image.fromarray(np.stack([x * 5, y * 5, (x * y) % 256], -1).astype(np.uint8))


def test_dataset_flips_and_crops_image_and_label_map_together(tmp_path):
    root, label_dir = tmp_path / "train", tmp_path / "labels"
    for index, folder in enumerate(["a", "a", "b", "b"]):
        (root / folder).mkdir(parents=True, exist_ok=True)
        _position_image(48, 40).save(root / folder / f"img{index}.png")
        # top-1 class 0 in the left column, 1 in the right: a flip swaps them
        _save_label_map(label_dir / folder / f"img{index}.pt", torch.full((1, 2, 2), 9.0),
                        torch.tensor([[[0, 1], [0, 1]]]))
    data_cfg = dict(scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), hflip=0.5, color_jitter=None, auto_augment=None,
                    train_interpolation="bilinear", re_prob=0.0, re_mode="pixel", re_count=1)
    eval_cfg = dict(input_size=(3, 16, 16), mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
    images = ImageFolderDataset(root)
    dataset = TokenLabelDataset(images, label_dir, data_cfg, eval_cfg)
    assert dataset.classes == ["a", "b"] and len(dataset) == 4

    torch.manual_seed(0)
    flips = []
    for index in [0, 1, 2, 3] * 3:
        image, target = dataset[index]
        original = read_label_map(dataset.label_path(index), 2)
        flipped = torch.equal(target.label_map, original.flip(3))
        assert flipped or torch.equal(target.label_map, original)
        flips.append(flipped)
        # the crop box, in the flipped image when the label map was flipped, reproduces the image exactly
        source = _position_image(48, 40)
        source = TF.hflip(source) if flipped else source
        top, left, height, width = (round(v) for v in (target.crop * torch.tensor([40, 48, 40, 48])).tolist())
        expected = TF.normalize(TF.to_tensor(TF.resized_crop(source, top, left, height, width, [16, 16],
                                                             TF.InterpolationMode.BILINEAR)),
                                IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)
        torch.testing.assert_close(image, expected, rtol=0, atol=0)
    assert any(flips) and not all(flips)

    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])[1]
    assert isinstance(batch, TokenLabelTarget)
    assert batch.label_map.shape == (2, 2, 1, 2, 2) and batch.crop.shape == (2, 4)

    _save_label_map(label_dir / "b" / "img3.pt", torch.ones(1, 3, 3), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="every map needs the same top-k and grid"):
        dataset[3]
    with pytest.raises(FileNotFoundError, match="label_dir"):
        TokenLabelDataset(images, tmp_path / "nowhere", data_cfg, eval_cfg)


# --- MixToken -------------------------------------------------------------------------------------------------

def _authors_rand_bbox(size, lam, scale=1):
    """RMT.py's rand_bbox (classification_token_label_release), verbatim in behaviour."""
    W = size[1] // scale
    H = size[2] // scale
    cut_rat = np.sqrt(1.0 - lam)
    cut_w = int(W * cut_rat)
    cut_h = int(H * cut_rat)
    cx = np.random.randint(W)
    cy = np.random.randint(H)
    bbx1 = np.clip(cx - cut_w // 2, 0, W)
    bby1 = np.clip(cy - cut_h // 2, 0, H)
    bbx2 = np.clip(cx + cut_w // 2, 0, W)
    bby2 = np.clip(cy + cut_h // 2, 0, H)
    return bbx1, bby1, bbx2, bby2


def test_mix_token_box_is_the_authors():
    for seed in range(20):
        np.random.seed(seed)
        lam = np.random.beta(1.0, 1.0)
        box = mix_token_box(7, 6, lam)
        np.random.seed(seed)
        lam_authors = np.random.beta(1.0, 1.0)
        bbx1, bby1, bbx2, bby2 = _authors_rand_bbox((2, 56, 48, 64), lam_authors, scale=8)  # (B, H, W, C) stem map
        assert box == (bbx1, bby1, bbx2, bby2)  # rows from the first draw, columns from the second


@pytest.fixture(scope="module")
def rmt_s():
    torch.manual_seed(0)
    return timm.create_model("rmt_s_token_label", num_classes=5).eval()


@torch.no_grad()
def test_forward_token_label_swaps_the_box_and_unswaps_the_tokens(rmt_s):
    x = torch.randn(3, 3, 64, 96)  # 2x3 last-stage tokens, a 16x24 stem map
    logits, token_logits = rmt_s.forward_token_label(x)
    torch.testing.assert_close(rmt_s(x), logits + 0.5 * token_logits.amax(1))  # the eval output, unchanged

    stage_inputs, aux_outputs = [], []
    hooks = [rmt_s.layers.register_forward_pre_hook(lambda m, args: stage_inputs.append(args[0])),
             rmt_s.head.aux_fc.register_forward_hook(lambda m, args, out: aux_outputs.append(out))]
    try:
        box = (0, 1, 1, 3)  # top row, columns 1-2
        mixed_logits, mixed_tokens = rmt_s.forward_token_label(x, box)
    finally:
        for hook in hooks:
            hook.remove()
    stem = rmt_s._stem(x)
    expected_stem = stem.clone()
    expected_stem[:, 0:8, 8:24] = stem.flip(0)[:, 0:8, 8:24]
    torch.testing.assert_close(stage_inputs[0], expected_stem, rtol=0, atol=0)
    raw = aux_outputs[0].unflatten(1, (2, 3))
    expected_tokens = raw.clone()
    expected_tokens[:, 0:1, 1:3] = raw.flip(0)[:, 0:1, 1:3]
    torch.testing.assert_close(mixed_tokens, expected_tokens.flatten(1, 2), rtol=0, atol=0)

    # the whole grid: the model sees the reversed batch; the token logits come back in order, the class logits do not
    whole_logits, whole_tokens = rmt_s.forward_token_label(x, (0, 0, 2, 3))
    torch.testing.assert_close(whole_tokens, token_logits)
    torch.testing.assert_close(whole_logits, logits.flip(0))
    with pytest.raises(ValueError, match="multiple of 32"):
        rmt_s.forward_token_label(torch.randn(2, 3, 80, 64), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="not inside"):
        rmt_s.forward_token_label(x, (0, 0, 3, 1))


# --- the loss -------------------------------------------------------------------------------------------------

def _targets(batch: int, num_classes: int, grid: int, seed: int = 0) -> TokenLabelTarget:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(batch, 3, grid, grid, generator=generator) * 10
    indices = torch.stack([torch.randperm(num_classes, generator=generator)[:3] for _ in range(batch * grid * grid)])
    indices = indices.view(batch, grid, grid, 3).permute(0, 3, 1, 2).float()
    crops = torch.tensor([[0.1, 0.2, 0.5, 0.7], [0.0, 0.3, 1.0, 0.6]])[:batch]
    return TokenLabelTarget(torch.stack([scores, indices], 1), crops)


def _soft_ce(logits: torch.Tensor, target: torch.Tensor) -> float:
    """-sum(target * log softmax(logits)) for one row, by hand."""
    log_norm = math.log(sum(math.exp(v) for v in logits.tolist()))
    return -sum(t * (v - log_norm) for t, v in zip(target.tolist(), logits.tolist()))


def test_loss_is_tlt_token_label_cross_entropy():
    torch.manual_seed(0)
    num_classes, label_size = 6, 2
    target = _targets(2, num_classes, grid=5)
    logits, token_logits = torch.randn(2, num_classes), torch.randn(2, 4, num_classes)
    config = TokenLabelConfig(label_dir="unused", label_size=label_size, dense_weight=0.5, cls_weight=1.0)
    criterion = TokenLabelCrossEntropy(config, smoothing=SMOOTHING)
    cls_target, token_target = token_label_targets(target.label_map, target.crop, num_classes, label_size, SMOOTHING)

    box = (0, 0, 1, 1)  # one token of four: lam = 3/4
    loss = criterion(TokenLabelOutput(logits, token_logits, box), target)
    mixed = 0.75 * cls_target + 0.25 * cls_target.flip(0)
    cls_loss = sum(_soft_ce(logits[b], mixed[b]) for b in range(2)) / 2
    token_loss = sum(_soft_ce(token_logits[b, n], token_target[b, n]) for b in range(2) for n in range(4)) / 8
    assert loss.item() == pytest.approx(cls_loss + 0.5 * token_loss, rel=1e-5)

    unmixed = criterion(TokenLabelOutput(logits, token_logits, None), target)
    cls_loss = sum(_soft_ce(logits[b], cls_target[b]) for b in range(2)) / 2
    assert unmixed.item() == pytest.approx(cls_loss + 0.5 * token_loss, rel=1e-5)

    with pytest.raises(ValueError, match="label_size=2 makes 4 token targets"):
        criterion(TokenLabelOutput(logits, torch.randn(2, 9, num_classes), None), target)


def test_dense_branch_gets_gradients(rmt_s):
    model = MixTokenModel(rmt_s, beta=1.0).train()
    target = _targets(2, 5, grid=4)
    np.random.seed(3)  # a box that mixes: lam < 1
    for dense_weight in (0.5, 0.0):
        rmt_s.zero_grad(set_to_none=True)
        config = TokenLabelConfig(label_dir="unused", label_size=2, dense_weight=dense_weight)
        output = model(torch.randn(2, 3, 64, 64))
        assert isinstance(output, TokenLabelOutput) and output.token_logits.shape == (2, 4, 5)
        TokenLabelCrossEntropy(config, SMOOTHING)(output, target).backward()
        aux_grad = rmt_s.head.aux_fc.weight.grad
        assert rmt_s.stem[0].weight.grad.abs().sum() > 0
        if dense_weight:
            assert aux_grad.abs().sum() > 0
        else:  # the auxiliary head feeds the token loss only
            assert aux_grad is None or not aux_grad.any()
    rmt_s.eval()


def test_config_errors():
    cfg = load_config(REPO / "configs/classification/rmt_s_token_label_in1k.py")
    with pytest.raises(SystemExit, match="label_dir is not set"):
        TokenLabelConfig.from_config(cfg)
    cfg["loss"]["token_label"]["label_dir"] = "labels"
    assert TokenLabelConfig.from_config(cfg) == TokenLabelConfig(label_dir="labels", label_size=7)
    cfg["mixup"]["cutmix_alpha"] = 1.0
    with pytest.raises(SystemExit, match="cutmix_alpha=0"):
        TokenLabelConfig.from_config(cfg)
    cfg["loss"]["token_label"]["pool_scale"] = 8
    with pytest.raises(SystemExit, match="unknown keys"):
        TokenLabelConfig.from_config(cfg)
    with pytest.raises(SystemExit, match="rmt_s_token_label"):
        MixTokenModel(timm.create_model("rmt_t", num_classes=2))


# --- training through the trainer -----------------------------------------------------------------------------

def test_rmt_s_token_label_trains_three_steps(tmp_path):
    data = make_imagefolder_like(tmp_path / "data", num_classes=2, num_train=4, num_val=1, size=(72, 72))
    _write_label_maps(data / "train", tmp_path / "labels", k=2, size=6)
    cfg = load_config(REPO / "configs/classification/rmt_s_token_label_in1k.py", {
        "data": dict(train_dir=str(data / "train"), val_dir=str(data / "val"), img_size=64, batch_size=2,
                     num_workers=0),
        "loss": dict(token_label=dict(label_dir=str(tmp_path / "labels"), label_size=2)),
        "train": dict(max_iters=3, log_interval=1),
    })
    metrics = train(cfg, tmp_path / "work")
    steps = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in steps if r["kind"] == "train"]
    assert len(losses) == 3 and all(math.isfinite(v) and v > 0 for v in losses)
    assert metrics["step"] == 3 and 0 <= metrics["top1"] <= 100 and "ema_top1" in metrics
