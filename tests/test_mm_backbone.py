"""VitzooBackbone: any vitzoo model as an MMSegmentation / MMDetection backbone (needs tools/install_mm.py)."""
import pytest
import timm
import torch
import torch.nn.functional as F

pytest.importorskip("mmseg", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")
pytest.importorskip("mmdet", reason="the OpenMMLab stack is not installed: run python tools/install_mm.py")

import vitzoo.mm  # noqa: E402  (registers VitzooBackbone)
from mmdet.registry import MODELS as DET_MODELS  # noqa: E402
from mmseg.registry import MODELS as SEG_MODELS  # noqa: E402
from vitzoo.layers.prepbn import ProgressiveRepBN  # noqa: E402

SMALL = "slab_pvt_v2_b0"  # 3.6M parameters, progressive norms: the hardest case for freezing


def _build(registry=SEG_MODELS, **cfg):
    return registry.build(dict(type="VitzooBackbone", **cfg))


def test_registered_in_mmseg_and_mmdet():
    assert set(vitzoo.mm.registered_in) == {"mmseg", "mmdet"}
    backbone = _build(DET_MODELS, model_name=SMALL, out_indices=(1, 2, 3))
    with torch.no_grad():
        outs = backbone.eval()(torch.randn(1, 3, 61, 83))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 11), (1, 160, 4, 6), (1, 256, 2, 3)]
    assert backbone.channels == (64, 160, 256) and backbone.reductions == (8, 16, 32)


@pytest.mark.parametrize("model_name, eps", [("hornet_tiny_7x7", 1e-6), ("vz_swin_tiny_patch4_window7_224", 1e-5)])
def test_outputs_are_intermediates_with_the_papers_output_norms(model_name, eps):
    backbone = _build(model_name=model_name).eval()
    x = torch.randn(1, 3, 72, 104)
    with torch.no_grad():
        outs = backbone(x)
        reference = backbone.model.forward_intermediates(x, intermediates_only=True)
    assert len(outs) == 4
    for out, ref, norm in zip(outs, reference, backbone.out_norms):
        assert norm.eps == eps
        expected = F.layer_norm(ref.permute(0, 2, 3, 1), ref.shape[1:2], norm.weight, norm.bias, eps).permute(0, 3, 1, 2)
        torch.testing.assert_close(out, expected)


def test_out_norms_follow_the_family_and_can_be_forced():
    assert all(isinstance(n, torch.nn.Identity) for n in _build(model_name=SMALL).out_norms)
    assert all(n.eps == 1e-6 for n in _build(model_name=SMALL, out_norms=True).out_norms)


def test_frozen_stages_get_no_gradient_and_stay_in_eval():
    backbone = _build(model_name=SMALL, frozen_stages=1, drop_path_rate=0.0).train()
    frozen_norms = [m for m in backbone.model.stages[:2].modules() if isinstance(m, ProgressiveRepBN)]
    later_norms = [m for m in backbone.model.stages[2:].modules() if isinstance(m, ProgressiveRepBN)]
    assert all(not m.training for m in frozen_norms) and all(m.training for m in later_norms)
    counters = [int(m.iter) for m in frozen_norms + later_norms]
    sum(o.pow(2).mean() for o in backbone(torch.randn(2, 3, 64, 64))).backward()
    params = dict(backbone.model.named_parameters())
    assert all(not p.requires_grad for n, p in params.items() if n.startswith(("stages.0.", "stages.1.")))
    trainable = {n: p for n, p in params.items() if p.requires_grad}
    assert trainable and all(n.startswith(("stages.2.", "stages.3.")) for n in trainable)
    assert [n for n, p in trainable.items() if p.grad is None] == []  # nothing unused: DDP needs no find_unused
    after = [int(m.iter) for m in frozen_norms + later_norms]
    assert after[: len(frozen_norms)] == counters[: len(frozen_norms)]  # frozen norms do not step their schedule
    assert all(a == c - 1 for a, c in zip(after[len(frozen_norms):], counters[len(frozen_norms):]))


def test_unused_head_is_excluded_from_training():
    backbone = _build(model_name="rmt_t", out_indices=(0, 1))
    assert not any(p.requires_grad for n, p in backbone.model.named_parameters() if n.startswith(("head.", "layers.3.")))
    assert all(p.requires_grad for n, p in backbone.model.named_parameters() if n.startswith("layers.1."))


def test_norm_eval_keeps_batchnorm_statistics_frozen():
    backbone = _build(model_name="rmt_t", norm_eval=True).train()
    batchnorms = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert batchnorms and not any(m.training for m in batchnorms)


def test_with_cp_gives_the_same_output():
    torch.manual_seed(0)
    plain = _build(model_name=SMALL, drop_path_rate=0.0, out_norms=True).train()
    checkpointed = _build(model_name=SMALL, drop_path_rate=0.0, out_norms=True, with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for a, b in zip(plain(x), checkpointed(x)):
        torch.testing.assert_close(a, b)


def test_pretrained_file_loads_through_the_checkpoint_filter(tmp_path):
    source = timm.create_model(SMALL)
    path = tmp_path / "weights.pth"
    torch.save({"model": source.state_dict()}, path)
    backbone = _build(model_name=SMALL, pretrained=str(path))
    loaded = backbone.model.state_dict()
    expected = source.state_dict()
    assert {k for k in expected if k not in loaded} == {"head.weight", "head.bias"}  # a backbone has no classifier
    for key, value in loaded.items():
        torch.testing.assert_close(value, expected[key], msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize(
    "cfg, error, match",
    [
        (dict(model_name="slab_pvt_v2_b9"), ValueError, "unknown model_name 'slab_pvt_v2_b9'; did you mean"),
        (dict(model_name=None), ValueError, "set model.backbone.model_name in the config"),
        (dict(model_name=SMALL, out_indices=(1, 4)), ValueError, r"stage numbers in 0\.\.3"),
        (dict(model_name=SMALL, out_indices=(2, 1)), ValueError, "increasing"),
        (dict(model_name=SMALL, frozen_stages=4), ValueError, r"frozen_stages=4 must be in -1\.\.3"),
        (dict(model_name=SMALL, pretrained="/no/such/file.pth"), FileNotFoundError, "is not a file"),
        (dict(model_name=SMALL, out_norms="yes"), ValueError, "out_norms must be"),
    ],
)
def test_bad_config_fails_with_a_clear_message(cfg, error, match):
    with pytest.raises(error, match=match):
        _build(**cfg)


def test_backbone_trains_inside_an_mmseg_segmentor():
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData

    segmentor = SEG_MODELS.build(
        dict(
            type="EncoderDecoder",
            backbone=dict(type="VitzooBackbone", model_name=SMALL, drop_path_rate=0.0),
            decode_head=dict(
                type="FPNHead", in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],
                channels=32, num_classes=3, dropout_ratio=0.0, norm_cfg=dict(type="BN", requires_grad=True),
                loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
            ),
        )
    ).train()
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 64)))
        samples.append(sample)
    losses = segmentor.loss(torch.randn(2, 3, 64, 64), samples)
    loss = sum(v for k, v in losses.items() if "loss" in k)
    assert torch.isfinite(loss)
    loss.backward()
    assert segmentor.backbone.model.stages[0].patch_embed.proj.weight.grad is not None
