# SparseFormer v1's ImageNet-1k recipe (showlab/sparseformer imagenet/: config.py, main.py, data/build.py,
# configs/sparseformer_*.yaml, Makefile): the Swin code base with its defaults unchanged (config.py L113-174,
# main.py L412-418: AdamW 5e-4 per 512 images, 300 epochs with 20 warmup, clipping 5, 8 GPUs x 128) plus
# repeated augmentation and EMA.
_base_ = "swin.py"

data = dict(repeated_aug=3)  # config.py L45-46, data/build.py L46-49: RASampler with 3 repeats

ema = dict(enabled=True, decay=0.9999)  # configs/sparseformer_*.yaml EMA; main.py L107-113 (ModelEmaV2, every step)

# this code's older copy of Swin's lr_scheduler.py counts the warmup in the cosine
scheduler = dict(warmup_prefix=False)
