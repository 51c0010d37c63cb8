# SReT-LT [8-4-1,2-1-1], ImageNet-1k 224: top-1 76.7 (SReT README.md L90, last-epoch checkpoint)
_base_ = "_base_/sret.py"
# SReT_LT keeps SReT.__init__'s drop_path_rate=.1 (SReT.py L236), DeiT's --drop-path 0.1 too
model = dict(name="sret_lt", drop_path_rate=0.1)
