"""ImageNet-style classification training and evaluation for every vitzoo / timm model (``tools/train.py``)."""
from .config import ConfigError, is_classification_config, load_config

__all__ = ["ConfigError", "is_classification_config", "load_config"]
