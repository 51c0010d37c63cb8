"""Multi-resolution hash-grid encoding (Instant-NGP) for 2-D coordinates, in plain PyTorch.

The math follows tiny-cuda-nn's ``HashGrid`` encoding with ``"interpolation": "linear"`` (the encoding
Denoising-ViT builds its neural field on), so that a field fitted here is the field the authors fit:

* level ``l`` has ``scale_l = base_resolution * per_level_scale**l - 1`` and ``ceil(scale_l) + 1`` vertices
  per side, computed in float32 as tiny-cuda-nn does (this decides whether the finest level of the default
  DVT grid is dense or hashed);
* a coordinate ``x`` in [0, 1] lands at ``scale_l * x + 0.5`` (the half-cell offset staggers the levels);
* a level whose vertices fit its table is a dense grid (index ``x + y * resolution``), a finer one uses the
  spatial hash ``(x * 1) xor (y * 2654435761)`` in uint32 arithmetic; both wrap modulo the table size;
* a level's table holds ``min(next_multiple(resolution**2, 8), 2**log2_hashmap_size)`` entries and all
  entries start uniform in [-1e-4, 1e-4];
* the output concatenates the bilinear interpolation of each level, level-major (``[level0 feats, level1 ...]``);
* ``table`` holds the entries of all levels in tiny-cuda-nn's parameter order, one row per entry, so a
  tiny-cuda-nn encoding's ``params.reshape(-1, n_features_per_level)`` is this table.

Everything is one vectorised gather over (points, levels, 4 corners): no loop over points or levels, runs on
CPU and CUDA, any floating dtype (float64 for gradcheck), and autograd gives the gradients of the table
(dense, as tiny-cuda-nn's PyTorch binding returns them) and of the coordinates.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["HashGridEncoding"]

# Instant-NGP's "coherent prime" factors for the first two dimensions: x keeps neighbouring cells in
# neighbouring table rows, y is scrambled by a large prime.
_HASH_PRIMES = (1, 2654435761)
_UINT32_MASK = 0xFFFFFFFF
# tiny-cuda-nn pads every level to a multiple of 8 entries so that memory accesses stay aligned.
_LEVEL_ALIGNMENT = 8
# Corner offsets in tiny-cuda-nn's order: bit 0 steps x, bit 1 steps y.
_CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))


def _level_scales(n_levels: int, per_level_scale: float, base_resolution: int) -> torch.Tensor:
    """Per-level grid scales in float32, operation by operation as tiny-cuda-nn computes them (on the CPU
    even when the module is built on another device: the grid layout is read from them)."""
    log2_per_level_scale = torch.tensor(per_level_scale, dtype=torch.float32, device="cpu").log2()
    levels = torch.arange(n_levels, dtype=torch.float32, device="cpu")
    return torch.exp2(levels * log2_per_level_scale) * float(base_resolution) - 1.0


class HashGridEncoding(nn.Module):
    """Encode (..., 2) coordinates in [0, 1] as (..., n_levels * n_features_per_level) features."""

    def __init__(
        self,
        n_levels: int = 16,
        n_features_per_level: int = 2,
        log2_hashmap_size: int = 19,
        base_resolution: int = 16,
        per_level_scale: float = 2.0,
        init_range: float = 1e-4,
    ):
        super().__init__()
        if n_levels < 1 or n_features_per_level < 1 or base_resolution < 1:
            raise ValueError("n_levels, n_features_per_level and base_resolution must be positive")
        if not 1 <= log2_hashmap_size <= 30:
            raise ValueError(f"log2_hashmap_size must be in [1, 30], got {log2_hashmap_size}")
        self.n_levels = n_levels
        self.n_features_per_level = n_features_per_level
        self.log2_hashmap_size = log2_hashmap_size
        self.base_resolution = base_resolution
        self.per_level_scale = per_level_scale

        scales = _level_scales(n_levels, per_level_scale, base_resolution)
        resolutions = [math.ceil(s) + 1 for s in scales.tolist()]
        table_size = 1 << log2_hashmap_size
        sizes, hashed = [], []
        for res in resolutions:
            dense_size = -(-res * res // _LEVEL_ALIGNMENT) * _LEVEL_ALIGNMENT
            sizes.append(min(dense_size, table_size))
            hashed.append(res * res > table_size)
        offsets = [0]
        for size in sizes[:-1]:
            offsets.append(offsets[-1] + size)
        self.resolutions = tuple(resolutions)
        self.level_sizes = tuple(sizes)
        self.hashed_levels = tuple(hashed)

        # Derived from the config, so not part of the state dict.
        self.register_buffer("scales", scales, persistent=False)
        self.register_buffer("_resolutions", torch.tensor(resolutions, dtype=torch.long), persistent=False)
        self.register_buffer("_sizes", torch.tensor(sizes, dtype=torch.long), persistent=False)
        self.register_buffer("_offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("_hashed", torch.tensor(hashed, dtype=torch.bool), persistent=False)
        self.register_buffer("_corners", torch.tensor(_CORNERS, dtype=torch.long), persistent=False)

        self.table = nn.Parameter(torch.empty(sum(sizes), n_features_per_level))
        nn.init.uniform_(self.table, -init_range, init_range)

    @property
    def n_output_dims(self) -> int:
        return self.n_levels * self.n_features_per_level

    def extra_repr(self) -> str:
        return (
            f"n_levels={self.n_levels}, n_features_per_level={self.n_features_per_level}, "
            f"log2_hashmap_size={self.log2_hashmap_size}, base_resolution={self.base_resolution}, "
            f"per_level_scale={self.per_level_scale:.6g}, resolutions={self.resolutions[0]}..{self.resolutions[-1]}, "
            f"hashed_levels={sum(self.hashed_levels)}"
        )

    def table_indices(self, cells: torch.Tensor) -> torch.Tensor:
        """Rows of ``table`` for integer vertices ``cells`` of shape (..., n_levels, 2) (x, y per level)."""
        x, y = cells.unbind(-1)
        dense_index = x + y * self._resolutions
        hashed_index = (x * _HASH_PRIMES[0]) ^ ((y * _HASH_PRIMES[1]) & _UINT32_MASK)
        index = torch.where(self._hashed, hashed_index, dense_index)
        return index % self._sizes + self._offsets

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if coords.shape[-1] != 2:
            raise ValueError(f"HashGridEncoding takes (..., 2) coordinates, got shape {tuple(coords.shape)}")
        lead_shape = coords.shape[:-1]
        coords = coords.reshape(-1, 1, 2)
        pos = coords * self.scales.to(coords.dtype)[:, None] + 0.5  # (P, L, 2)
        cell = pos.floor()
        frac = pos - cell
        corner_cells = cell.long().unsqueeze(1) + self._corners[:, None]  # (P, 4, L, 2)
        corner_feats = self.table[self.table_indices(corner_cells)]  # (P, 4, L, F)
        # Bilinear weights: (1 - f) for the lower vertex along an axis, f for the upper one.
        upper = self._corners[:, None].to(frac.dtype)
        weights = (upper * frac.unsqueeze(1) + (1 - upper) * (1 - frac.unsqueeze(1))).prod(-1)  # (P, 4, L)
        encoded = (weights.unsqueeze(-1).to(corner_feats.dtype) * corner_feats).sum(1)  # (P, L, F)
        return encoded.reshape(*lead_shape, self.n_output_dims)
