# SLAB-Swin-B, ImageNet-1k 224: top-1 not published (SLAB README.md's table has no row for slab_swin_b.yaml)
_base_ = "_base_/slab.py"
# cfgs/slab_swin_b.yaml: DROP_PATH_RATE 0.5, BATCH_SIZE 64 (x 8 GPUs = 512 images, 2502 steps per epoch);
# LinearNorm step=60000 (models/slab_swin.py L21), warm=0
model = dict(
    name="slab_swin_base",
    drop_path_rate=0.5,
    norm_schedule=dict(warmup_epochs=0, total_epochs=60000 / (1281167 // 512)),
)
data = dict(batch_size=64)
