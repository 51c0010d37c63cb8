"""DVT offline stage: the hash-grid encoding, the per-image noise model and tools/dvt_denoise.py."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vitzoo.denoise import DenoiseConfig, HashGridEncoding, NeuralFeatureField, extract_view_features, fit_noise_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import dvt_denoise  # noqa: E402

TINY_GRID = dict(n_levels=4, n_features_per_level=4, log2_hashmap_size=10, base_resolution=4, max_resolution=64)


@pytest.fixture
def one_thread():
    """The fits here are small: a second thread adds only hand-offs, which cost ~30x on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _reference_encoding(enc: HashGridEncoding, coords: torch.Tensor) -> torch.Tensor:
    """tiny-cuda-nn's HashGrid forward written point by point with Python integers."""
    out = []
    for x, y in coords.tolist():
        feats = []
        for level in range(enc.n_levels):
            scale = enc.scales[level].item()
            res, size = enc.resolutions[level], enc.level_sizes[level]
            offset = sum(enc.level_sizes[:level])
            px, py = scale * x + 0.5, scale * y + 0.5
            cx, cy = math.floor(px), math.floor(py)
            fx, fy = px - cx, py - cy
            acc = torch.zeros(enc.n_features_per_level, dtype=torch.float64)
            for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                vx, vy = cx + dx, cy + dy
                if res * res <= 1 << enc.log2_hashmap_size:
                    index = vx + vy * res
                else:
                    index = vx ^ ((vy * 2654435761) & 0xFFFFFFFF)
                weight = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
                acc += weight * enc.table[offset + index % size].double()
            feats.append(acc)
        out.append(torch.cat(feats))
    return torch.stack(out)


def test_hash_grid_shape_and_levels_match_tiny_cuda_nn():
    with torch.device("meta"):
        dvt = NeuralFeatureField(768).encoding  # the authors' config: 16 levels, 8 feats, 2**20, 16 -> 1024
    assert dvt.n_output_dims == 128
    assert dvt.resolutions[0] == 16 and dvt.resolutions[5] == 65 and dvt.resolutions[-1] == 1025
    # tiny-cuda-nn's float32 scales make the finest level 1025 vertices wide: hashed, the other 15 dense.
    assert dvt.hashed_levels == (False,) * 15 + (True,)
    assert dvt.level_sizes[1] == 488  # 22**2 = 484 padded to a multiple of 8
    assert dvt.table.shape == (2_467_720, 8)

    enc = HashGridEncoding(n_levels=4, n_features_per_level=4, log2_hashmap_size=10, base_resolution=4)
    assert enc(torch.rand(3, 5, 2)).shape == (3, 5, 16)
    with pytest.raises(ValueError, match="coordinates"):
        enc(torch.rand(4, 3))


def test_hash_grid_matches_pointwise_reference_on_dense_and_hashed_levels():
    enc = HashGridEncoding(n_levels=4, n_features_per_level=2, log2_hashmap_size=8, base_resolution=6)
    assert enc.hashed_levels == (False, False, True, True)
    with torch.no_grad():
        enc.table.normal_()
    coords = torch.cat([torch.rand(20, 2, dtype=torch.float64), torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.3]])])
    torch.testing.assert_close(enc.double()(coords), _reference_encoding(enc.double(), coords))


def test_hash_grid_coarse_level_is_bilinear_lookup_in_a_dense_grid():
    enc = HashGridEncoding(
        n_levels=2, n_features_per_level=4, log2_hashmap_size=12, base_resolution=9, per_level_scale=1.5
    )
    with torch.no_grad():
        enc.table.normal_()
    res, scale = enc.resolutions[0], enc.scales[0].item()
    # Points whose upper vertices stay inside the grid (tiny-cuda-nn wraps the ones beyond the last vertex).
    coords = torch.rand(64, 2) * (res - 1.5 - 0.5) / scale
    grid = enc.table[: res * res].reshape(res, res, -1).permute(2, 0, 1)[None]  # rows are y, columns x
    sample_at = (coords * scale + 0.5) / (res - 1) * 2 - 1
    expected = F.grid_sample(grid, sample_at[None, None], mode="bilinear", align_corners=True)[0, :, 0].T
    torch.testing.assert_close(enc(coords)[:, :4], expected, rtol=1e-5, atol=1e-6)


def test_hash_grid_gradients_reach_the_table_and_pass_gradcheck():
    enc = HashGridEncoding(n_levels=3, n_features_per_level=2, log2_hashmap_size=6, base_resolution=4)
    coords = torch.rand(16, 2)
    enc(coords).square().sum().backward()
    touched = enc.table.grad.abs().sum(-1) > 0
    assert 0 < touched.sum() <= 16 * 4 * 3

    enc = enc.double()
    table = torch.randn_like(enc.table, requires_grad=True)
    coords = (torch.rand(6, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    encode = lambda c, t: torch.func.functional_call(enc, {"table": t}, (c,))  # noqa: E731
    assert torch.autograd.gradcheck(encode, (coords, table))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_hash_grid_cuda_matches_cpu():
    enc = HashGridEncoding(n_levels=6, n_features_per_level=4, log2_hashmap_size=10, base_resolution=8)
    coords = torch.rand(500, 2)
    torch.testing.assert_close(enc.cuda()(coords.cuda()).cpu(), enc.cpu()(coords))


def _ramp_image(size: int = 112) -> torch.Tensor:
    """(3, size, size) image whose first two channels are the normalised x and y of each pixel."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return torch.stack([xs, ys, torch.zeros_like(xs)])


def _sample_patch_grid(views: torch.Tensor, grid: int) -> torch.Tensor:
    """A stand-in 'ViT': the views sampled at the authors' patch coordinates (edge to edge), NCHW."""
    return F.interpolate(views, size=(grid, grid), mode="bilinear", align_corners=True)


def test_extract_view_features_places_patches_where_they_are_in_the_image():
    cfg = DenoiseConfig(num_views=12)
    read_positions = lambda views: _sample_patch_grid(views, 8)[:, :2]  # noqa: E731
    features, coords = extract_view_features(read_positions, _ramp_image(), cfg, batch_size=5)
    assert features.shape == (13, 8, 8, 2) and coords.shape == (13, 8, 8, 2)
    # Each patch of each (flipped or not) crop reads back its own position in the full image.
    torch.testing.assert_close(features, coords, rtol=0, atol=0.01)
    flipped = coords[:-1, 0, 0, 0] > coords[:-1, 0, -1, 0]
    assert 0 < flipped.sum() < 12  # both flipped and unflipped views occur (seeded)


def test_noise_model_separates_position_artifacts_from_clean_features(one_thread):
    grid, dim = 8, 32
    cfg = DenoiseConfig(num_views=24, iters=400, points_per_step=512, field=dict(TINY_GRID))
    # Clean features vary smoothly over the image; three crop positions carry fixed artifacts.
    projection = torch.randn(4, dim) * 0.25
    artifact_positions = torch.tensor([10, 27, 45])
    artifacts = torch.zeros(grid * grid, dim)
    artifacts[artifact_positions] = torch.randn(3, dim) * 0.5

    def clean_features(views):
        xy = _sample_patch_grid(views, grid)[:, :2].permute(0, 2, 3, 1)
        return torch.cat([torch.sin(3 * xy), torch.cos(2 * xy)], -1) @ projection

    def noisy_vit(views):
        return (clean_features(views) + artifacts.reshape(grid, grid, dim)).permute(0, 3, 1, 2)

    image = _ramp_image()
    features, coords = extract_view_features(noisy_vit, image, cfg)
    result = fit_noise_model(features, coords, cfg)

    loss = result.history["loss"]
    assert loss.shape == (400,) and loss[-20:].mean() < 0.05 * loss[:20].mean()
    assert (result.history["residual_loss"][:200] == 0).all() and result.history["residual_loss"][-1] > 0
    assert not result.model.shared_artifacts.requires_grad  # frozen for the residual stage
    clean = clean_features(image[None])[0].reshape(grid * grid, dim)
    raw_error = result.raw.reshape(grid * grid, dim) - clean
    denoised_error = result.denoised.reshape(grid * grid, dim) - clean
    # g and G may trade a constant vector; measure g's error up to it.
    is_artifact = torch.zeros(grid * grid, dtype=torch.bool)
    is_artifact[artifact_positions] = True
    denoised_error = denoised_error - denoised_error[~is_artifact].mean(0)
    assert (denoised_error[is_artifact].norm(dim=-1) < 0.3 * raw_error[is_artifact].norm(dim=-1)).all()
    assert denoised_error[~is_artifact].norm(dim=-1).mean() < 0.2 * clean.norm(dim=-1).mean()


@pytest.fixture
def gradient_image(tmp_path):
    y, x = np.mgrid[0:100, 0:130]
    pixels = np.stack([x * 255 // 130, y * 255 // 100, (x + y) % 256], -1).astype(np.uint8)
    path = tmp_path / "gradient.png"
    Image.fromarray(pixels).save(path)
    return path


def test_cli_denoises_an_image_with_a_small_random_vit(gradient_image, tmp_path, one_thread):
    out = tmp_path / "out"
    result = dvt_denoise.main(
        [str(gradient_image), "--model", "vit_small_patch14_dinov2", "--no-pretrained", "--input-size", "112",
         "--iters", "30", "--num-views", "6", "--batch-size", "4", "--log-every", "0", "--out", str(out)]
    )
    loss = result.history["patch_l2_loss"]
    assert loss.shape == (30,) and loss[-5:].mean() < 0.5 * loss[:5].mean()
    denoised, raw = np.load(result.denoised_path), np.load(result.raw_path)
    assert denoised.shape == raw.shape == (8, 8, 384) and denoised.dtype == np.float32
    assert np.isfinite(denoised).all() and not np.allclose(denoised, raw)
    with Image.open(result.picture_path) as picture:
        assert picture.mode == "RGB" and picture.size == (3 * 130 + 2 * dvt_denoise.PANEL_GAP, 100)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet18"], "not a plain ViT"),
        (["--model", "no_such_vit"], "unknown timm model"),
        (["--model", "vit_small_patch14_dinov2", "--checkpoint", "missing.pth"], "checkpoint file not found"),
        (["--model", "vit_small_patch14_dinov2", "--no-pretrained", "--input-size", "100"], "multiples of the patch"),
    ],
)
def test_cli_refuses_bad_models_and_sizes(gradient_image, args, message):
    with pytest.raises(SystemExit, match=message):
        dvt_denoise.main([str(gradient_image), "--iters", "1", "--num-views", "1", *args])


def test_cli_explains_weights_that_do_not_load(gradient_image, tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"truncated download")
    with pytest.raises(SystemExit, match="(?s)could not load weights.*--no-pretrained"):
        dvt_denoise.main([str(gradient_image), "--model", "vit_tiny_patch16_224", "--checkpoint", str(broken)])


def test_cli_refuses_unreadable_images(tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not pixels")
    with pytest.raises(SystemExit, match="cannot read"):
        dvt_denoise.main([str(not_an_image), "--no-pretrained"])
    with pytest.raises(SystemExit, match="not found"):
        dvt_denoise.main([str(tmp_path / "missing.jpg"), "--no-pretrained"])
