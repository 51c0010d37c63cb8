# SLAB-PVT-T, ImageNet-1k 224: top-1 76.5 (SLAB README.md, ImageNet table, slab_pvt_t.yaml)
_base_ = "_base_/slab_pvt.py"
# cfgs/slab_pvt_t.yaml: DROP_PATH_RATE 0.0 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=300000 (models/slab_pvt.py L14, LinearNorm's default), warm=0
model = dict(
    name="slab_pvt_tiny",
    drop_path_rate=0.0,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 1024)),
)
