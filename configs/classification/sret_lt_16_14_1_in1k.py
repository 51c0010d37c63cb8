# SReT-LT [16-14-1,1-1-1], ImageNet-1k 224: top-1 76.6 (SReT README.md L91, last-epoch checkpoint)
_base_ = "_base_/sret.py"
# SReT_LT with groups1=[16, 14, 1], groups2=[1, 1, 1] (SReT.py L385-386) keeps SReT.__init__'s
# drop_path_rate=.1 (SReT.py L236), DeiT's --drop-path 0.1 too
model = dict(name="sret_lt_16_14_1", drop_path_rate=0.1)
