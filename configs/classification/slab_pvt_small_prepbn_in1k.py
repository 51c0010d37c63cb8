# PVT-S-PRepBN, ImageNet-1k 224: top-1 80.1 (SLAB README.md, ImageNet table, pvt_s_prepbn.yaml)
_base_ = "_base_/slab_pvt.py"
# cfgs/pvt_s_prepbn.yaml: DROP_PATH_RATE 0.1, BATCH_SIZE 64 (x 8 GPUs = 512 images, 2502 steps per epoch);
# LinearNorm step=300000 (models/slab_pvt.py L14, LinearNorm's default), warm=0
model = dict(
    name="slab_pvt_small_prepbn",
    drop_path_rate=0.1,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 512)),
)
data = dict(batch_size=64)
