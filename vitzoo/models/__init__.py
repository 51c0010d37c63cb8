"""Importing this package registers every vitzoo model with timm (one module per family)."""
from . import swin, tnt
from ._builder import build_model

__all__ = ["build_model"]
