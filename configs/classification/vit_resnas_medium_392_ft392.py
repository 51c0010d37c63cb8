# ViT-ResNAS-Medium at 392, fine-tuned from the 224 model: top-1 not stated in the authors' repository (see
# arXiv:2109.00642, not checked here)
_base_ = "_base_/vit_resnas_finetune.py"
# finetune/medium_img-size@392.sh: --input-size 392 (--mixup-patch-len 7 for the patch token mixup, not run here)
model = dict(name="vit_resnas_medium_392")
data = dict(img_size=392)
