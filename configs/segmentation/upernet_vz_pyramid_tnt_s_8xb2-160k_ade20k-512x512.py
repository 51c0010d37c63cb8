# PyramidTNT-S UPerNet, ADE20K 160k; no dense recipe in the authors' code, so vitzoo's default: Swin-T's recipe, drop path 0.1
# backbone weights: the authors' ImageNet file (BaiduDisk only, see model_cards/tnt.md) at checkpoints/pyramid_tnt_s.pth
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="vz_pyramid_tnt_s", pretrained='checkpoints/pyramid_tnt_s.pth', drop_path_rate=0.1),
    decode_head=dict(in_channels=[128, 256, 512, 512]),
    auxiliary_head=dict(in_channels=512),
)
