# Swin-S UPerNet, ADE20K 160k: the authors' recipe (Swin-Transformer-Semantic-Segmentation), mIoU 47.6 / 49.5 (single / multi-scale)
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="vz_swin_small_patch4_window7_224", pretrained=True, drop_path_rate=0.3),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
