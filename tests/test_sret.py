import pytest
import timm
import torch

import contract
from parity_utils import PARITY_DIR, assert_fixture_close, fixture_names, load_via_user_path, parity_module
from parity_utils import create_from_file, training_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.models.sret import fixed_token_permutation, sliced_attention

# fixture -> vitzoo model; a SReT fixture missing here fails instead of passing silently.
FIXTURE_MODELS = {
    "sret_t": "sret_t",
    "sret_lt": "sret_lt",
    "sret_lt_16_14_1": "sret_lt_16_14_1",
    "sret_t_wo_slice": "sret_t_wo_slice",
}
TINY = "sret_t"


def _authors_state_dict(fixture="sret_t"):
    return parity_module().original_state_dict(PARITY_DIR / f"{fixture}.safetensors")


def _save(state_dict, tmp_path, name="ckpt.pth"):
    path = tmp_path / name
    torch.save({"model": state_dict}, path)
    return path


@pytest.mark.parametrize("fixture", fixture_names("sret"))
def test_parity_user_path(fixture, tmp_path, monkeypatch):
    model, fx = load_via_user_path(fixture, FIXTURE_MODELS[fixture], tmp_path)
    draws = []
    randperm = torch.randperm

    def recording_randperm(*args, **kwargs):
        draws.append(randperm(*args, **kwargs))
        return draws[-1]

    monkeypatch.setattr(torch, "randperm", recording_randperm)
    with torch.no_grad():
        torch.manual_seed(0)  # as the fixture was recorded: the authors' eval forward shuffles with the global RNG
        out = model(fx.input)
        rng_after = torch.get_rng_state()
    assert_fixture_close(out, fx.output, fx)
    # features.randperm_i: the i-th permutation drawn (the same calls, order and sizes as the authors')
    expected = [fx.features[f"randperm_{i}"] for i in range(len(fx.features))]
    assert [d.shape for d in draws] == [e.shape for e in expected]
    for i, (drawn, recorded) in enumerate(zip(draws, expected)):
        assert torch.equal(drawn.float(), recorded), f"randperm_{i}"
    # ...and nothing else consumed the global RNG
    torch.manual_seed(0)
    for d in draws:
        randperm(len(d))
    assert torch.equal(rng_after, torch.get_rng_state())


@pytest.mark.parametrize("container", [None, "model", "model_ema", "state_dict", "ddp"])
def test_checkpoint_layouts(container, tmp_path):
    sd, fx = _authors_state_dict("sret_t_wo_slice")
    model = create_from_file(training_checkpoint(sd, container), "sret_t_wo_slice", tmp_path).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)


def test_shared_weights_stored_once_and_own_layout_round_trip(tmp_path):
    sd, fx = _authors_state_dict("sret_t_wo_slice")
    model = timm.create_model(
        "sret_t_wo_slice", pretrained=True, pretrained_cfg_overlay=dict(file=str(_save(sd, tmp_path)))
    ).eval()
    own = model.state_dict()
    tensors = [v for v in own.values() if v.numel() > 1]
    assert len({v.data_ptr() for v in tensors}) == len(tensors), "a tensor appears twice in the state dict"
    # the authors' file holds each shared block twice (entries 4k and 4k+2); vitzoo keeps one copy
    authors_block_keys = [k for k in sd if k.startswith("transformers.0.blocks.") and ".attn.qkv.weight" in k]
    assert len(authors_block_keys) == 4
    assert len([k for k in own if k.startswith("stages.0.blocks.") and k.endswith("attn.qkv.weight")]) == 2
    torch.testing.assert_close(own["stages.0.blocks.1.attn.qkv.weight"], sd["transformers.0.blocks.6.attn.qkv.weight"])

    path = tmp_path / "vitzoo_layout.pth"
    torch.save(own, path)
    reloaded = timm.create_model("sret_t_wo_slice", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    with torch.no_grad():
        assert_fixture_close(reloaded.eval()(fx.input), fx.output, fx)


def test_unequal_shared_copies_rejected(tmp_path):
    sd, _ = _authors_state_dict("sret_t")
    sd = dict(sd)
    sd["transformers.1.blocks.6.attn.qkv.weight"] = sd["transformers.1.blocks.6.attn.qkv.weight"] + 1e-3
    with pytest.raises(CheckpointError, match=r"stages\.1\.blocks\.1\.attn\.qkv\.weight differs between its copies"):
        timm.create_model("sret_t", pretrained=True, pretrained_cfg_overlay=dict(file=str(_save(sd, tmp_path))))


def test_other_architecture_rejected(tmp_path):
    sd, _ = _authors_state_dict("sret_t")
    with pytest.raises(CheckpointError, match="does not fit sret_s"):
        timm.create_model("sret_s", pretrained=True, pretrained_cfg_overlay=dict(file=str(_save(sd, tmp_path))))


def test_pos_embed_resampled_on_load(tmp_path):
    """224 weights load into the 384 model: the 28x28 position embedding becomes 48x48."""
    sd, _ = _authors_state_dict("sret_t_wo_slice")
    model = timm.create_model(
        "sret_t_wo_slice_384", pretrained=True, pretrained_cfg_overlay=dict(file=str(_save(sd, tmp_path)))
    ).eval()
    assert model.pos_embed.shape == (1, 64, 48, 48)
    assert model.pretrained_cfg["input_size"] == (3, 384, 384)
    # bicubic with antialiasing (timm's resample_abs_pos_embed_nhwc)
    expected = torch.nn.functional.interpolate(sd["pos_embed"], size=(48, 48), mode="bicubic", antialias=True)
    torch.testing.assert_close(model.pos_embed.detach(), expected)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 384, 384)).isfinite().all()


def test_fixed_token_shuffle_is_deterministic_and_leaves_global_rng(tmp_path):
    model, fx = load_via_user_path("sret_t", "sret_t", tmp_path, token_shuffle="fixed")
    x = fx.input[:1]
    with torch.no_grad():
        torch.manual_seed(3)
        state = torch.get_rng_state()
        first = model(x)
        assert torch.equal(state, torch.get_rng_state())
        torch.manual_seed(4)
        torch.testing.assert_close(model(x), first, rtol=0, atol=0)
    # the fixed permutation (private generator, seed 0) is the authors' first draw after manual_seed(0)
    assert torch.equal(fixed_token_permutation(784).float(), fx.features["randperm_0"])
    with pytest.raises(ValueError, match="token_shuffle"):
        timm.create_model(TINY, token_shuffle="sorted")


def test_random_token_shuffle_draws_in_eval():
    model = timm.create_model(TINY).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x)), "the authors' eval forward is stochastic"


@pytest.mark.parametrize("num_tokens,num_groups", [(784, 8), (221, 8), (30, 4), (3, 8)])
def test_sliced_attention_contiguous_groups(num_tokens, num_groups):
    """Groups are contiguous raster-order chunks whose sizes differ by at most one token."""
    qkv = torch.randn(2, num_tokens, 3 * 16)  # 2 heads of 8 channels
    q, k, v = qkv.reshape(2, num_tokens, 3, 2, 8).permute(2, 0, 3, 1, 4)
    chunks = torch.tensor_split(torch.arange(num_tokens), min(num_groups, num_tokens))
    expected = torch.cat(
        [(q[:, :, c] @ k[:, :, c].transpose(-2, -1) / 8**0.5).softmax(-1) @ v[:, :, c] for c in chunks], dim=2
    )
    out = sliced_attention(qkv, num_heads=2, num_groups=num_groups)
    torch.testing.assert_close(out, expected.transpose(1, 2).reshape(2, num_tokens, 16), rtol=1e-5, atol=1e-5)


def test_forward_api():
    contract.check_forward_api(TINY, size=(64, 64), token_shuffle="fixed")


def test_grad_checkpointing_and_backward():
    # random shuffling on: checkpointing must recompute with the same permutations
    contract.check_grad_checkpointing_and_backward(TINY, size=(64, 64))


def test_intermediates_match_features_only():
    contract.check_intermediates_match_features_only(TINY, size=(96, 96), token_shuffle="fixed")


@pytest.mark.parametrize("size", [(512, 512), (600, 800), (97, 131)])
def test_features_only_any_size(size):
    contract.check_features(TINY, size, reductions=(8, 16, 32))


def test_bad_inputs():
    contract.check_bad_inputs(TINY, min_size=8)


def test_no_direct_download_says_where():
    with pytest.raises(RuntimeError, match="Google Drive"):
        timm.create_model("sret_s_wo_slice_512.in1k_dist", pretrained=True)


def test_variant_settings_can_be_overridden():
    with torch.device("meta"):
        model = timm.create_model("sret_t_wo_slice_384", img_size=448)
    assert model.img_size == (448, 448)


def test_all_variants_build():
    # parameter counts of the authors' models (SReT.py / SReT_wo_slice.py, counted once per shared tensor)
    authors = {
        "sret_t": 4755979,
        "sret_lt": 4988024,
        "sret_lt_16_14_1": 4988024,
        "sret_s": 20899692,
        "sret_t_wo_slice": 4755979,
        "sret_lt_wo_slice": 4988024,
        "sret_s_wo_slice": 20899692,
        "sret_t_wo_slice_384": 4853259,
        "sret_s_wo_slice_384": 21091212,
        "sret_s_wo_slice_512": 21317004,
    }
    contract.check_param_counts(authors, "sret_*")
