"""Importing this package registers every vitzoo model with timm (one module per family)."""
from . import swin
from . import tnt
from . import hornet
from . import rmt
from ._builder import build_model

__all__ = ["build_model"]
