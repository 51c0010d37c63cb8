# RMT's ImageNet-1k recipe (qhfan/RMT classfication_release: main.py, DeiT's main.py with its defaults unchanged
# (L44-139), and run.sh): DeiT's recipe at 2048 images per step. The total batch comes from the training logs:
# RMT_log/rmt_t.txt reaches lr 2e-3 after warmup (main.py L289: 5e-4 x 2048 / 512), i.e. run.sh's 128 per GPU
# on 16 GPUs.
_base_ = "deit.py"

data = dict(batch_size=128)  # run.sh --batch-size 128, per GPU

optimizer = dict(lr=5e-4 * 2048 / 512, base_batch_size=2048)

# main.py L57-60, L275: EMA on by default, decay 0.99996 per 512 images -> 0.99996 ** (2048 / 512) per step
ema = dict(decay=0.99996 ** (2048 / 512))
