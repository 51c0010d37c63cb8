# SReT's ImageNet-1k recipe. szq0214/SReT publishes models and a KD loss but no training script: its README
# (L62-79) trains with the DeiT code base's loop, and its checkpoints are DeiT main.py's (`model`, `model_ema`).
# So this is DeiT's recipe unchanged. SReT's README (L83) adds that lr 1e-3 per 512 with 30 warmup epochs trains
# SReT better; its published numbers are not from that run.
#
# Not here: the distilled models (`.in1k_dist` weights, `SReT_*_Distill` and their 384/512 fine-tunes) train
# with soft labels from a teacher (kd_loss.py, "as MEAL V2"), which vitzoo's trainer has no option for.
_base_ = "deit.py"
