# SLAB-Swin-S, ImageNet-1k 224: top-1 83.6 (SLAB README.md, ImageNet table, slab_swin_s.yaml)
_base_ = "_base_/slab.py"
# cfgs/slab_swin_s.yaml: DROP_PATH_RATE 0.3 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=60000 (models/slab_swin.py L21), warm=0
model = dict(
    name="slab_swin_small",
    drop_path_rate=0.3,
    norm_schedule=dict(warmup_epochs=0, total_epochs=60000 / (1281167 // 1024)),
)
