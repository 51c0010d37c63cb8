"""Importing this package registers every vitzoo model with timm (one module per family)."""
from . import swin
from . import tnt
from . import hornet
from . import rmt
from . import slab_deit
from . import slab_pvt
from . import slab_swin
from . import slab_cswin
from . import soft
from . import sret
from . import vit_resnas
from . import sparseformer
from . import dvt
from ._builder import build_model

__all__ = ["build_model"]
