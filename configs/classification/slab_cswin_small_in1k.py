# SLAB-CSWin-S, ImageNet-1k 224: top-1 not published (SLAB README.md's table has no row for slab_cswin_s.yaml)
_base_ = "_base_/slab_cswin.py"
# cfgs/slab_cswin_s.yaml: DROP_PATH_RATE 0.3 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=120000 (models/slab_cswin.py L26), warm=0
model = dict(
    name="slab_cswin_small",
    drop_path_rate=0.3,
    norm_schedule=dict(warmup_epochs=0, total_epochs=120000 / (1281167 // 1024)),
)
