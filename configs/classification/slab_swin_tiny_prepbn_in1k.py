# Swin-T-PRepBN, ImageNet-1k 224: top-1 81.4 (SLAB README.md, ImageNet table, swin_t_prepbn.yaml)
_base_ = "_base_/slab.py"
# cfgs/swin_t_prepbn.yaml: DROP_PATH_RATE 0.1; every norm is a plain RepBN (models/swin_transformer.py L549),
# so there is no LayerNorm -> BatchNorm schedule
model = dict(name="slab_swin_tiny_prepbn", drop_path_rate=0.1)
