# PVT-M-PRepBN, ImageNet-1k 224: top-1 81.7 (SLAB README.md, ImageNet table, pvt_m_prepbn.yaml)
_base_ = "_base_/slab_pvt.py"
# cfgs/pvt_m_prepbn.yaml: DROP_PATH_RATE 0.3 (x 8 GPUs = 1024 images, 1251 steps per epoch);
# LinearNorm step=300000 (models/slab_pvt.py L14, LinearNorm's default), warm=0
model = dict(
    name="slab_pvt_medium_prepbn",
    drop_path_rate=0.3,
    norm_schedule=dict(warmup_epochs=0, total_epochs=300000 / (1281167 // 1024)),
)
train = dict(clip_grad=1.0)  # cfgs/pvt_m_prepbn.yaml CLIP_GRAD 1.0
