# Swin-T with PRepBN Mask R-CNN 3x: the authors' recipe (SLAB detection/configs/swin: multi-scale + crop, AdamW 1e-4)
# Swin-T's Mask R-CNN 3x config with the PRepBN Swin-T backbone.
_base_ = "./mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(backbone=dict(model_name="slab_swin_tiny_prepbn"))
