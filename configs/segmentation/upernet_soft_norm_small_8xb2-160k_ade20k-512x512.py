# SOFT-Norm-S UPerNet, ADE20K 160k (paper: 46.2 mIoU); the authors released no dense code, so vitzoo's default: Swin-T's recipe, drop path 0.1
# backbone weights: the authors' ImageNet file (Google Drive only, see model_cards/soft.md) at checkpoints/soft_norm_small.pth
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="soft_norm_small", pretrained='checkpoints/soft_norm_small.pth', drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    auxiliary_head=dict(in_channels=320),
)
