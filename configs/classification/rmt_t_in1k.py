# RMT-T, ImageNet-1k 224: top-1 82.4 (RMT README.md, results table)
_base_ = "_base_/rmt.py"
# classfication_release/RMT.py L598: RMT_T3 fixes drop_path_rate=0.1 (main.py's --drop-path does not reach it)
model = dict(name="rmt_t", drop_path_rate=0.1)
