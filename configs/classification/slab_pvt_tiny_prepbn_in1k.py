# PVT-T-PRepBN, ImageNet-1k 224: top-1 76.0 (SLAB README.md, ImageNet table, pvt_t_prepbn.yaml)
_base_ = "_base_/slab_pvt.py"
# cfgs/pvt_t_prepbn.yaml: DROP_PATH_RATE 0.0 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=300000 (models/slab_pvt.py L14, LinearNorm's default), warm=0
model = dict(
    name="slab_pvt_tiny_prepbn",
    drop_path_rate=0.0,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 1024)),
)
