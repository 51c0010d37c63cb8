# DeiT-S-PRepBN, ImageNet-1k 224: top-1 80.2 (SLAB README.md, ImageNet table, deit_s_prepbn.yaml)
_base_ = "_base_/slab.py"
# cfgs/deit_s_prepbn.yaml: DROP_PATH_RATE 0.0 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=300000 (models/deit.py L15/L350-353, LinearNorm's default), warm=0
model = dict(
    name="slab_deit_small_prepbn",
    drop_path_rate=0.0,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 1024)),
)
