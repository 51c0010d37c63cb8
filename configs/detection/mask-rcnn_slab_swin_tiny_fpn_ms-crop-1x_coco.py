# SLAB-Swin-T Mask R-CNN 1x: the authors' recipe (SLAB detection/configs/swin: multi-scale + crop, AdamW 1e-4)
# Swin-T's Mask R-CNN 1x config with the SLAB-Swin-T backbone.
_base_ = "./mask-rcnn_vz_swin_tiny_fpn_ms-crop-1x_coco.py"
model = dict(backbone=dict(model_name="slab_swin_tiny"))
