# ViT-ResNAS-Medium at 280, fine-tuned from the 224 model: top-1 not stated in the authors' repository (see
# arXiv:2109.00642, not checked here)
_base_ = "_base_/vit_resnas_finetune.py"
# finetune/medium_img-size@280.sh: --input-size 280 (--mixup-patch-len 5 for the patch token mixup, not run here)
model = dict(name="vit_resnas_medium_280")
data = dict(img_size=280)
