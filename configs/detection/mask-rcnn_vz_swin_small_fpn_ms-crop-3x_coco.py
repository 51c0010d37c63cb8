# Swin-S Mask R-CNN 3x (the authors' recipe): box/mask AP 48.5 / 43.3
# Swin-T's config with the Swin-S backbone (same channels and drop path).
_base_ = "./mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(backbone=dict(model_name="vz_swin_small_patch4_window7_224"))
