"""Sparse read-out of a feature map by latent tokens: RoI point sampling, then adaptive mixing.

SparseFormer (and the AdaMixer detector it grew from) gives every latent token a region of interest
(RoI, normalised ``x1, y1, x2, y2`` in [0, 1] image coordinates).  A token reads the image in two steps:

* :class:`RoIPointSampling` places ``P`` points inside the token's RoI (learned base offsets plus
  offsets predicted from the token, standardised per token so that they spread over the box) and
  reads the feature map there bilinearly.  The RoIs are resolution-free, so this works for any
  feature-map size.
* :class:`AdaptiveMixing` turns the ``P x C`` samples into a token update with weights generated from
  the token itself: a dynamic ``C x C`` channel mixing, then a dynamic ``P -> P'`` spatial mixing, then
  a linear projection to the token width.
"""
from __future__ import annotations

import math
from typing import Type

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["RoIPointSampling", "AdaptiveMixing", "init_unit_norm_layer_norm"]


@torch.no_grad()
def init_unit_norm_layer_norm(norm: nn.LayerNorm) -> None:
    """The authors' init for LayerNorms that feed generated weights/offsets: scale width**-0.5, so the
    normalised vector has unit L2 norm."""
    nn.init.constant_(norm.weight, norm.normalized_shape[0] ** -0.5)
    nn.init.zeros_(norm.bias)


class _LocalGradient(torch.autograd.Function):
    """Identity forward; clamps the gradient of sampling coordinates to +-``bound`` (one feature-map
    pixel), since bilinear interpolation gives only a local, unreliable gradient beyond that."""

    @staticmethod
    def forward(ctx, points: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.bound = bound
        return points.view_as(points)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad.clamp(-ctx.bound, ctx.bound), None


class RoIPointSampling(nn.Module):
    """``P`` sampling points per token inside its RoI, read bilinearly from an NCHW feature map.

    Point offsets = learned ``base_offsets`` + ``offset_generator(token)``; per token and axis they are
    standardised to mean 0 and std 1/3 (so ~99% fall inside the box), scaled by the RoI size and added
    to the RoI centre.  Sampling is ``grid_sample(align_corners=False)``, so coordinate 0 / 1 is the outer
    edge of the first / last pixel; ``padding_mode`` says what points outside the image read ('zeros' in
    SparseFormer v1, 'border' in the bootstrapped models).

    Args:
        dim: token width.
        num_points: sampling points per token.
        norm_layer: norm in front of the offset generator.
        padding_mode: ``grid_sample`` padding for points outside the map.
        std_eps: added to the per-token offset std (the authors use 1e-7 in the ImageNet code, 1e-5 in
            their library).
        local_gradient: clamp the gradient of the sampling coordinates to one feature-map pixel (training
            only; the authors' ImageNet code does, their library does not).
    """

    def __init__(
        self,
        dim: int,
        num_points: int,
        norm_layer: Type[nn.Module] = nn.LayerNorm,
        padding_mode: str = "zeros",
        std_eps: float = 1e-5,
        local_gradient: bool = False,
    ):
        super().__init__()
        if padding_mode not in ("zeros", "border", "reflection"):
            raise ValueError(f"padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
        self.num_points = num_points
        self.padding_mode = padding_mode
        self.std_eps = std_eps
        self.local_gradient = local_gradient
        self.offset_generator = nn.Sequential(norm_layer(dim), nn.Linear(dim, num_points * 2, bias=False))
        self.base_offsets = nn.Parameter(torch.zeros(num_points * 2))

    @torch.no_grad()
    def init_weights(self) -> None:
        """Offsets start as the base grid (a ``sqrt(P) x sqrt(P)`` lattice over the box when P is square)."""
        init_unit_norm_layer_norm(self.offset_generator[0])
        nn.init.zeros_(self.offset_generator[1].weight)
        root = math.isqrt(self.num_points)
        if root * root == self.num_points:
            centres = torch.linspace(0.5 / root, 1 - 0.5 / root, root)
            grid = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1).reshape(-1)
            self.base_offsets.copy_(grid - 0.5)
        else:
            nn.init.uniform_(self.base_offsets, -0.5, 0.5)

    def sampling_points(self, tokens: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """(B, N, P, 2) point coordinates (x, y) in normalised image units for tokens (B, N, C), RoIs (B, N, 4)."""
        B, N, _ = tokens.shape
        offsets = (self.offset_generator(tokens) + self.base_offsets).float().view(B, N, self.num_points, 2)
        offsets = (offsets - offsets.mean(2, keepdim=True)) / (3 * (offsets.std(2, keepdim=True) + self.std_eps))
        rois = rois.float()
        centre = (rois[..., 2:] + rois[..., :2]) / 2.0
        size = rois[..., 2:] - rois[..., :2]
        return centre.unsqueeze(2) + offsets * size.unsqueeze(2)

    def forward(self, feat: torch.Tensor, tokens: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Samples (B, N, P, C) of ``feat`` (B, C, H, W) at each token's points."""
        # Geometry and sampling run in float32 under autocast, as in the authors' code.
        with torch.autocast(device_type=feat.device.type, enabled=False):
            points = self.sampling_points(tokens, rois)
            if self.local_gradient and points.requires_grad:
                points = _LocalGradient.apply(points, 1.0 / feat.shape[-2])
            sampled = F.grid_sample(
                feat.float(), points * 2.0 - 1.0, mode="bilinear", padding_mode=self.padding_mode, align_corners=False
            )
        return sampled.permute(0, 2, 3, 1)


class AdaptiveMixing(nn.Module):
    """Token-conditioned mixing of sampled points: channels (C -> C), then points (P -> P'), then project.

    ``parameter_generator`` (norm, bottleneck linear, linear) produces from each token its own
    ``C x C`` channel matrix and ``P' x P`` spatial matrix.

    Args:
        in_dim: channels of the sampled feature map (C).
        in_points: sampling points per token (P).
        query_dim: token width (input of the generator and output of ``out_proj``).
        out_points: points after spatial mixing (P').
        inner_dim: bottleneck width of the generator.
        bias: learned biases ``m_beta`` / ``s_beta`` after the channel / spatial mixing.
        act_between: activation between channel and spatial mixing as well as after it (SparseFormer v1
            has both; the bootstrapped models, without biases, only the last one).
        norm_layer: norm in front of the generator.
    """

    def __init__(
        self,
        in_dim: int,
        in_points: int,
        query_dim: int,
        out_points: int,
        inner_dim: int,
        bias: bool = True,
        act_between: bool = True,
        norm_layer: Type[nn.Module] = nn.LayerNorm,
        act_layer: Type[nn.Module] = nn.GELU,
    ):
        super().__init__()
        self.in_dim = in_dim
        self.in_points = in_points
        self.out_points = out_points
        self.act_between = act_between
        self.parameter_generator = nn.Sequential(
            norm_layer(query_dim),
            nn.Linear(query_dim, inner_dim),
            nn.Linear(inner_dim, in_dim * in_dim + in_points * out_points),
        )
        if bias:
            self.m_beta = nn.Parameter(torch.zeros(in_dim))
            self.s_beta = nn.Parameter(torch.zeros(out_points))
        else:
            self.register_parameter("m_beta", None)
            self.register_parameter("s_beta", None)
        self.out_proj = nn.Linear(in_dim * out_points, query_dim)
        self.act = act_layer()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Generated weights start as fixed Xavier-uniform matrices held in the generator's bias."""
        init_unit_norm_layer_norm(self.parameter_generator[0])
        generator = self.parameter_generator[2]
        nn.init.zeros_(generator.weight)
        num_channel = self.in_dim * self.in_dim
        nn.init.xavier_uniform_(generator.bias[:num_channel].view(self.in_dim, self.in_dim))
        nn.init.xavier_uniform_(generator.bias[num_channel:].view(self.in_points, self.out_points))

    def forward(self, sampled: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Token updates (B, N, query_dim) from samples (B, N, P, C) and tokens (B, N, query_dim)."""
        B, N, P, C = sampled.shape
        params = self.parameter_generator(query).reshape(B * N, -1)
        channel_mixing, spatial_mixing = params.split([C * C, self.out_points * P], dim=-1)
        channel_mixing = channel_mixing.reshape(B * N, C, C)
        spatial_mixing = spatial_mixing.reshape(B * N, self.out_points, P)
        x = sampled.reshape(B * N, P, C)
        if self.m_beta is not None:
            x = torch.baddbmm(self.m_beta.view(1, 1, C), x, channel_mixing)
        else:
            x = torch.bmm(x, channel_mixing)
        if self.act_between:
            x = self.act(x)
        if self.s_beta is not None:
            x = torch.baddbmm(self.s_beta.view(1, -1, 1), spatial_mixing, x)
        else:
            x = torch.bmm(spatial_mixing, x)
        return self.out_proj(self.act(x).reshape(B, N, -1))
