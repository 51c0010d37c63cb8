# Swin-B Cascade Mask R-CNN 3x (the authors' recipe): box/mask AP 51.9 / 45.0
# Swin-T's config with the Swin-B backbone and drop path 0.3.
_base_ = "./cascade-mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="vz_swin_base_patch4_window7_224", drop_path_rate=0.3),
    neck=dict(in_channels=[128, 256, 512, 1024]),
)
