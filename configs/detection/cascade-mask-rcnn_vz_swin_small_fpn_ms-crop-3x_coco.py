# Swin-S Cascade Mask R-CNN 3x (the authors' recipe): box/mask AP 51.9 / 45.0
# Swin-T's config with the Swin-S backbone (same channels and drop path).
_base_ = "./cascade-mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(backbone=dict(model_name="vz_swin_small_patch4_window7_224"))
