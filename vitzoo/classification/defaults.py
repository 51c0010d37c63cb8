"""Every key a classification config can set, with its default.

Configs (configs/classification/) override these: a recipe per paper in configs/classification/_base_/, a model
config on top of it through ``_base_``, and ``--cfg-options`` on the command line. The keys mirror the
arguments of the timm functions they feed (timm.create_model, timm.data.create_transform, timm.data.Mixup, timm.optim.create_optimizer_v2,
timm.scheduler.create_scheduler_v2, timm.utils.ModelEmaV3), so timm's documentation describes them.
"""
# marks a config as a classification config: tools/train.py and tools/test.py run it without MMEngine
task = "classification"

model = dict(
    name=None,  # a registered timm / vitzoo model name (required)
    pretrained=False,  # start from the model's pretrained weights (fine-tuning)
    drop_rate=0.0,
    drop_path_rate=0.1,
    kwargs=dict(),  # further timm.create_model keyword arguments
    # SLAB's progressive LayerNorm -> BatchNorm: LayerNorm alone for `warmup_epochs`, then a linear move to
    # BatchNorm over `total_epochs` (None: the model's own counters are kept)
    norm_schedule=None,
)

data = dict(
    train_dir=None,  # ImageFolder roots: one sub-folder per class
    val_dir=None,
    synthetic=None,  # or dict(root=..., num_classes=..., train_per_class=..., val_per_class=..., img_size=...)
    img_size=224,
    batch_size=128,  # per process
    eval_batch_size=None,  # default: 2 x batch_size
    num_workers=8,
    pin_memory=True,
    # train augmentation (timm.data.create_transform)
    scale=(0.08, 1.0),
    ratio=(3.0 / 4.0, 4.0 / 3.0),
    hflip=0.5,
    color_jitter=0.4,
    auto_augment="rand-m9-mstd0.5-inc1",
    train_interpolation="bicubic",
    re_prob=0.25,
    re_mode="pixel",
    re_count=1,
    repeated_aug=0,  # >0: timm's RepeatAugSampler with this many repeats (DeiT uses 3)
    # evaluation
    interpolation=None,  # default: the model's pretrained cfg
    crop_pct=None,
    mean=None,
    std=None,
)

mixup = dict(
    mixup_alpha=0.8,  # mixup and cutmix both 0: no mixing
    cutmix_alpha=1.0,
    cutmix_minmax=None,
    prob=1.0,
    switch_prob=0.5,
    mode="batch",
)

loss = dict(
    label_smoothing=0.1,
    bce=False,  # binary cross-entropy instead of soft-target cross-entropy
    token_label=None,  # RMT's token labelling: dict(label_dir=..., dense_weight=0.5, ...)
)

optimizer = dict(
    opt="adamw",
    lr=1e-3,
    weight_decay=0.05,
    opt_eps=1e-8,
    opt_betas=None,
    momentum=0.9,
    layer_decay=None,
    # the lr above is for this total batch; the run scales it by total_batch / base_batch_size
    # (total_batch = batch_size x processes x grad_accum_steps); None: no scaling
    base_batch_size=512,
    scale_warmup_min_lr=True,  # scale warmup_lr and min_lr too (Swin's code); False: the peak lr only (DeiT's)
)

scheduler = dict(
    sched="cosine",
    epochs=300,
    warmup_epochs=20,
    warmup_lr=1e-6,
    min_lr=1e-5,
    cooldown_epochs=0,
    decay_epochs=30,
    decay_rate=0.1,
    step_on_epochs=False,  # False: the lr changes every optimizer step (Swin); True: once per epoch (DeiT, timm)
    # True: the decay runs over the epochs after the warmup (Swin's code); False: the warmup is part of it.
    # Either way the run lasts `epochs` (+ cooldown_epochs at min_lr).
    warmup_prefix=False,
)

ema = dict(
    enabled=False,
    decay=0.99996,
    warmup=False,
    on_cpu=False,
)

train = dict(
    seed=0,
    amp=None,  # None (float32), "bfloat16" or "float16" autocast
    grad_accum_steps=1,
    clip_grad=None,
    clip_mode="norm",
    channels_last=False,
    grad_checkpointing=False,
    max_iters=None,  # stop after this many optimizer steps in all (short runs, tests)
    log_interval=20,  # iterations
    checkpoint_interval=None,  # iterations between mid-epoch checkpoints (None: at each epoch end only)
    eval_interval=1,  # epochs
    keep_checkpoints=2,
)
