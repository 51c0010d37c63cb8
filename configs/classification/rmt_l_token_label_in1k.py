# RMT-L* (token labelling), ImageNet-1k 224: top-1 86.1 (RMT README.md, results table)
_base_ = "_base_/rmt_token_label.py"
# classification_token_label_release/RMT.py L728: RMT_L6 fixes drop_path_rate=0.5 (configs/RMT/*.py's
# drop_path does not reach it)
model = dict(name="rmt_l_token_label", drop_path_rate=0.5)
