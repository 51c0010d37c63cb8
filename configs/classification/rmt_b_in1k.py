# RMT-B, ImageNet-1k 224: top-1 85.0 (RMT README.md, results table)
_base_ = "_base_/rmt.py"
# classfication_release/RMT.py L632: RMT_M2 fixes drop_path_rate=0.4 (main.py's --drop-path does not reach it)
model = dict(name="rmt_b", drop_path_rate=0.4)
