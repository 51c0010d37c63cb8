# RMT-L, ImageNet-1k 224: top-1 85.5 (RMT README.md, results table)
_base_ = "_base_/rmt.py"
# classfication_release/RMT.py L651: RMT_L6 fixes drop_path_rate=0.5 (main.py's --drop-path does not reach it)
model = dict(name="rmt_l", drop_path_rate=0.5)
