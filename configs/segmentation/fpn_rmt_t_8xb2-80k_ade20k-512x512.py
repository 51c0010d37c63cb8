# RMT-T Semantic FPN, ADE20K 80k: the authors' recipe (AdamW 1e-4, wd 1e-4, poly 0.9); mIoU 46.4
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_t.pth
_base_ = [
    "../_base_/models/fpn_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_80k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="rmt_t", pretrained="checkpoints/rmt_t.pth", drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
