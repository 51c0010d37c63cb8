# RMT-S, ImageNet-1k 224: top-1 84.1 (RMT README.md, results table)
_base_ = "_base_/rmt.py"
# classfication_release/RMT.py L614: RMT_S fixes drop_path_rate=0.15 (main.py's --drop-path does not reach it)
model = dict(name="rmt_s", drop_path_rate=0.15)
