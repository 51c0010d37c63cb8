# DeiT-T-PRepBN, ImageNet-1k 224: top-1 73.6 (SLAB README.md, ImageNet table, deit_t_prepbn.yaml)
_base_ = "_base_/slab.py"
# cfgs/deit_t_prepbn.yaml: DROP_PATH_RATE 0.0; every norm is a plain RepBN (models/deit.py L335-338),
# so there is no LayerNorm -> BatchNorm schedule
model = dict(name="slab_deit_tiny_prepbn", drop_path_rate=0.0)
