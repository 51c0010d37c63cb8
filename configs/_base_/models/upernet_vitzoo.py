# UPerNet (+ FCN auxiliary head on stage 3) over any vitzoo backbone, ADE20K classes.
# A family config sets backbone.model_name, drop_path_rate and the heads' in_channels.
_base_ = ["mmseg::_base_/models/upernet_swin.py"]
custom_imports = dict(imports=["vitzoo.mm"], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type="VitzooBackbone",
        model_name=None,
        pretrained=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
    ),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
