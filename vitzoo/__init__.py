"""vitzoo: vision backbones for timm, MMSegmentation and MMDetection, exact to the authors' code.

``import vitzoo`` registers every model with timm (``timm.create_model('vz_swin_tiny_patch4_window7_224')``).
"""
from . import models
from .checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict
from .version import __version__

__all__ = ["CheckpointError", "load_checkpoint_file", "unwrap_state_dict", "models", "__version__"]
