# SLAB-PVT-M, ImageNet-1k 224: top-1 not published (SLAB README.md's table has no row for slab_pvt_m.yaml)
_base_ = "_base_/slab_pvt.py"
# cfgs/slab_pvt_m.yaml: DROP_PATH_RATE 0.3, BATCH_SIZE 64 (x 8 GPUs = 512 images, 2502 steps per epoch);
# LinearNorm step=300000 (models/slab_pvt.py L14, LinearNorm's default), warm=0
model = dict(
    name="slab_pvt_medium",
    drop_path_rate=0.3,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 512)),
)
data = dict(batch_size=64)
train = dict(clip_grad=1.0)  # cfgs/slab_pvt_m.yaml CLIP_GRAD 1.0
