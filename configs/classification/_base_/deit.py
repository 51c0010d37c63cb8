# DeiT's ImageNet-1k recipe (facebookresearch/deit main.py at f512394, Nov 2021, the version the RMT, SReT and
# ViT-ResNAS code bases copy): AdamW 5e-4 per 512 images at 1024 images per step (README.md L212: 4 GPUs x 256),
# 300 epochs with 5 warmup, repeated augmentation, EMA.
task = "classification"

data = dict(
    img_size=224,
    batch_size=256,  # per GPU, 4 GPUs (README.md L212)
    color_jitter=0.4,  # main.py L90
    auto_augment="rand-m9-mstd0.5-inc1",  # main.py L92
    re_prob=0.25,  # main.py L104-109
    re_mode="pixel",
    re_count=1,
    train_interpolation="bicubic",  # main.py L96
    repeated_aug=3,  # main.py L101 (on by default), samplers.py's RASampler: 3 repeats
    interpolation="bicubic",
    crop_pct=224 / 256,  # datasets.py L101
)

mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0)  # main.py L114-125 (prob 1, switch 0.5, per batch)

loss = dict(label_smoothing=0.1)  # main.py L95

optimizer = dict(
    scale_warmup_min_lr=False,  # the code scales the peak lr only
    opt="adamw",
    # main.py L65 + L304: 5e-4 per 512 images. Only the peak lr is batch-scaled there (warmup_lr and min_lr
    # are absolute), so the recipe is written at its total batch, where every value is the authors'.
    lr=5e-4 * 1024 / 512,
    weight_decay=0.05,  # main.py L60
    opt_eps=1e-8,
    opt_betas=None,
    base_batch_size=1024,
)

scheduler = dict(  # timm's create_scheduler, stepped per epoch
    step_on_epochs=True,  # timm's train loop: lr_scheduler.step(epoch) only
    sched="cosine",
    epochs=300,
    warmup_epochs=5,  # main.py L80
    warmup_lr=1e-6,  # main.py L73
    min_lr=1e-5,  # main.py L75
    cooldown_epochs=0,  # main.py L371 loops over --epochs only, so the 10 cooldown epochs never run
)

ema = dict(enabled=True, decay=0.99996)  # main.py L45-46, updated every step

train = dict(clip_grad=None)  # main.py L56
