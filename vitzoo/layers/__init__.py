"""Building blocks shared by several vitzoo families (use timm.layers for everything timm has)."""
from .checks import check_image_input

__all__ = ["check_image_input"]
