# RMT-B* (token labelling), ImageNet-1k 224: top-1 85.6 (RMT README.md, results table)
_base_ = "_base_/rmt_token_label.py"
# classification_token_label_release/RMT.py L711: RMT_M2 fixes drop_path_rate=0.4 (configs/RMT/*.py's
# drop_path does not reach it)
model = dict(name="rmt_b_token_label", drop_path_rate=0.4)
