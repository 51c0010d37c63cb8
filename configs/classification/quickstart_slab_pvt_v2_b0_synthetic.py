# The README's main command: SLAB's PVT-v2-b0 (3.3M parameters, progressive LayerNorm -> BatchNorm) trained from
# scratch for a few minutes on a CPU, on a synthetic 6-class ImageFolder (one shape and colour per class) that
# tools/train.py writes to data/synthetic_shapes on first use. Leaves metrics.json, training_curve.png and
# predictions.png in work_dirs/quickstart_slab_pvt_v2_b0_synthetic.
model = dict(
    name="slab_pvt_v2_b0",
    drop_path_rate=0.0,
    # LayerNorm alone for the first epoch, then a linear move to BatchNorm by epoch 6 (BatchNorm alone after),
    # as SLAB trains: the evaluated model is the BatchNorm one
    norm_schedule=dict(warmup_epochs=1, total_epochs=5),
)

data = dict(
    synthetic=dict(root="data/synthetic_shapes", num_classes=6, num_train=64, num_val=16, size=(72, 72)),
    img_size=64,
    batch_size=32,
    num_workers=2,
    scale=(0.5, 1.0),
    color_jitter=0.2,
    auto_augment=None,
    re_prob=0.0,
)

mixup = dict(mixup_alpha=0.0, cutmix_alpha=0.0)

optimizer = dict(opt="adamw", lr=1e-3, weight_decay=0.05, base_batch_size=None)

scheduler = dict(sched="cosine", epochs=8, warmup_epochs=1, warmup_lr=1e-5, min_lr=1e-5)

ema = dict(enabled=True, decay=0.98)

train = dict(log_interval=4, checkpoint_interval=12)
