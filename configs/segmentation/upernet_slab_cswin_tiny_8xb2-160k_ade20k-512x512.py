# SLAB-CSWin-T UPerNet, ADE20K 160k; SLAB reports no segmentation, so vitzoo's default: Swin-T's recipe, drop path 0.3
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="slab_cswin_tiny", pretrained=True, drop_path_rate=0.3),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)
