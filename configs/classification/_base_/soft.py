# SOFT's ImageNet-1k recipe (fudan-zvg/SOFT: main.py, a timm 0.3.2 train.py, with config/SOFT_*.yaml):
# AdamW, lr per 1024 images, 300 epochs with 10 warmup, EMA, gradient clipping 1.0. README.md L97-99 trains
# SOFT-Tiny on 8 GPUs (dist_train.sh 8): 8 x 128 = 1024 images per step.
task = "classification"

data = dict(
    img_size=224,
    batch_size=128,  # per GPU, config/SOFT_{Tiny,Small}*.yaml (Medium/Large/Huge: 32)
    color_jitter=0.4,  # main.py L133
    auto_augment="rand-m9-mstd0.5-inc1",  # main.py L135
    re_prob=0.25,  # main.py L141-146
    re_mode="pixel",
    re_count=1,
    train_interpolation="random",  # main.py L165
    repeated_aug=0,
    # evaluation from the model's default cfg (models/softmax_free_vision_transformer.py L12: timm 0.3.2's
    # ViT _cfg, main.py L326/L515): bicubic, crop 0.9, ImageNet mean/std
    interpolation="bicubic",
    crop_pct=0.9,
)

mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0)  # main.py L149-160 (prob 1, switch 0.5, per batch)

loss = dict(label_smoothing=0.1)  # main.py L163

optimizer = dict(
    scale_warmup_min_lr=False,  # the code scales the peak lr only
    opt="adamw",
    lr=1e-3,  # config/SOFT_Tiny.yaml
    weight_decay=0.05,  # main.py L81
    opt_eps=1e-8,  # main.py L75
    opt_betas=None,
    # main.py L318 scales only the lr, by total batch / 1024: min_lr and warmup_lr are absolute, so they are
    # the authors' exactly at a total batch of 1024
    base_batch_size=1024,
)

scheduler = dict(
    step_on_epochs=True,  # timm's train loop: lr_scheduler.step(epoch) only
    sched="cosine",
    epochs=300,
    warmup_epochs=10,  # config/SOFT_*.yaml
    warmup_lr=1e-6,  # main.py L102
    min_lr=5e-5,  # config/SOFT_*.yaml
    cooldown_epochs=0,  # main.py L572 loops over --epochs only, so the 10 cooldown epochs never run
)

ema = dict(enabled=True, decay=0.99996)  # main.py L197-201: on by default, updated every step

train = dict(clip_grad=1.0, clip_mode="norm")  # config/SOFT_*.yaml clip_grad: 1.0
