# Semantic FPN (Kirillov et al.) over any vitzoo backbone, ADE20K classes.
# A family config sets backbone.model_name, drop_path_rate and neck.in_channels.
_base_ = ["mmseg::_base_/models/fpn_r50.py"]
custom_imports = dict(imports=["vitzoo.mm"], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type="VitzooBackbone",
        model_name=None,
        pretrained=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
    ),
    decode_head=dict(num_classes=150),
)
