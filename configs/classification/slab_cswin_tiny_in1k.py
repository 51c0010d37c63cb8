# SLAB-CSWin-T, ImageNet-1k 224: top-1 82.8 (SLAB README.md, ImageNet table, slab_cswin_t.yaml)
_base_ = "_base_/slab_cswin.py"
# cfgs/slab_cswin_t.yaml: DROP_PATH_RATE 0.1, BATCH_SIZE 256 (x 8 GPUs = 2048 images, 625 steps per epoch);
# LinearNorm step=120000 (models/slab_cswin.py L26), warm=0
model = dict(
    name="slab_cswin_tiny",
    drop_path_rate=0.1,
    norm_schedule=dict(warmup_epochs=0, total_epochs=120000 / (1281167 // 2048)),
)
data = dict(batch_size=256)
