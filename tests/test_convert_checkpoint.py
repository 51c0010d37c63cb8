"""tools/convert_checkpoint.py on the authors' Swin-T file built from the parity fixture."""
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from parity_utils import PARITY_DIR, assert_fixture_close, parity_module
from vitzoo.hub import file_sha256

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import convert_checkpoint  # noqa: E402

SWIN = "vz_swin_tiny_patch4_window7_224"
FIXTURE = "swin_tiny_patch4_window7_224"


@pytest.fixture(scope="module")
def authors_swin(tmp_path_factory):
    """The authors' training checkpoint: the fixture's weights as ``model_ema``, other final-norm weights in ``model``."""
    state_dict, fx = parity_module().original_state_dict(PARITY_DIR / f"{FIXTURE}.safetensors")
    raw = dict(state_dict, **{"norm.weight": state_dict["norm.weight"] + 1})
    path = tmp_path_factory.mktemp("authors") / f"{FIXTURE}.pth"
    torch.save({"model": raw, "model_ema": state_dict, "epoch": 299}, path)
    return path, fx, raw


def _error(capsys, argv) -> str:
    """What the tool says when it refuses ``argv`` (argparse errors go to stderr, others to the exit code)."""
    with pytest.raises(SystemExit) as excinfo:
        convert_checkpoint.main([str(a) for a in argv])
    assert excinfo.value.code not in (0, None)
    return f"{excinfo.value.code} {capsys.readouterr().err}"


def test_converted_file_loads_without_conversion_and_matches_the_fixture(authors_swin, tmp_path, capsys):
    path, fx, raw = authors_swin
    out = tmp_path / "swin_t.safetensors"
    convert_checkpoint.main([str(path), str(out), "--model", SWIN])
    printed = capsys.readouterr().out
    assert f"SHA-256 {file_sha256(out)}" in printed
    assert f"pretrained_cfg_overlay=dict(file={str(out)!r})" in printed
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left

    model = timm.create_model(SWIN, pretrained=True, pretrained_cfg_overlay=dict(file=str(out))).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
    plain = timm.create_model(SWIN)
    plain.load_state_dict(load_file(out), strict=True)  # vitzoo's own layout: no checkpoint filter needed
    with safe_open(str(out), framework="pt") as f:
        assert f.metadata() == {"format": "pt", "model": SWIN, "converted_from": path.name}

    assert "--force" in _error(capsys, [path, out, "--model", SWIN])
    convert_checkpoint.main([str(path), str(out), "--model", SWIN, "--no-ema", "--force"])
    torch.testing.assert_close(load_file(out)["norm.weight"], raw["norm.weight"], rtol=0, atol=0)


def test_bad_inputs_fail_with_what_to_do(authors_swin, tmp_path, capsys):
    path, _, raw = authors_swin
    out = tmp_path / "out.safetensors"
    assert "does not exist" in _error(capsys, [tmp_path / "missing.pth", out, "--model", SWIN])
    page = tmp_path / "page.pth"
    page.write_text("<html>Please log in to download</html>")
    assert "is not a checkpoint" in _error(capsys, [page, out, "--model", SWIN])
    assert "did you mean vz_swin_tiny_patch4_window7_224" in _error(capsys, [path, out, "--model", "vz_swin_tiny_patch4"])
    assert "name it *.safetensors" in _error(capsys, [path, tmp_path / "out.pth", "--model", SWIN])

    resnet = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), resnet)
    message = _error(capsys, [resnet, out, "--model", SWIN])
    assert "does not belong to vz_swin_tiny_patch4_window7_224" in message and "keys such as ['bn1." in message

    ten_classes = tmp_path / "ten_classes.pth"
    torch.save(dict(raw, **{"head.weight": torch.zeros(10, 768), "head.bias": torch.zeros(10)}), ten_classes)
    message = _error(capsys, [ten_classes, out, "--model", SWIN])
    assert "does not load strictly" in message and "head.fc.weight" in message
    assert not out.exists()
