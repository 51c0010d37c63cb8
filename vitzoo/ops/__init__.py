"""Attention ops with interchangeable backends (torch reference, xformers, Triton); see ``_dispatch``."""
from ._dispatch import BACKENDS, attention_backend, available_backends, forced_backend
from .decay_attention import axial_decay_attention, decay_attention, decay_mask
from .rotary import rotary_embedding
from .window_attention import relative_position_bias, window_attention

__all__ = [
    "BACKENDS", "attention_backend", "available_backends", "forced_backend",
    "relative_position_bias", "window_attention",
    "axial_decay_attention", "decay_attention", "decay_mask", "rotary_embedding",
]
