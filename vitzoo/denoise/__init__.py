"""Denoising-ViT's offline stage: per-image noise models that separate clean ViT features from artifacts.

``tools/dvt_denoise.py IMAGE --model NAME`` runs it end to end on a timm ViT; the pieces are here.
"""
from .hash_grid import HashGridEncoding
from .neural_field import (
    DenoiseConfig,
    DenoiseResult,
    NeuralFeatureField,
    SingleImageNoiseModel,
    extract_view_features,
    fit_noise_model,
    patch_coordinates,
)

__all__ = [
    "DenoiseConfig",
    "DenoiseResult",
    "HashGridEncoding",
    "NeuralFeatureField",
    "SingleImageNoiseModel",
    "extract_view_features",
    "fit_noise_model",
    "patch_coordinates",
]
