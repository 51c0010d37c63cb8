"""Bad images fail before the first layer, with a message that says what to do."""
import pytest
import timm
import torch

import vitzoo  # noqa: F401


@pytest.fixture(scope="module")
def model():
    return timm.create_model("vz_swin_tiny_patch4_window7_224").eval()


@pytest.mark.parametrize(
    "x, error, match",
    [
        (torch.randn(1, 4, 64, 64), ValueError, "expects 3 input channels, got 4.*in_chans=4"),
        (torch.randn(1, 64, 64, 3), ValueError, "channels-last input"),
        (torch.randn(3, 64, 64), ValueError, "4-D image batch.*unsqueeze"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), TypeError, "floating-point.*mean/std"),
        (torch.randn(1, 3, 2, 64), ValueError, "at least 4x4"),
    ],
)
def test_bad_images(model, x, error, match):
    with torch.no_grad():
        for fn in (model, model.forward_features, lambda t: model.forward_intermediates(t)):
            with pytest.raises(error, match=match):
                fn(x)


def test_features_only_checks_input():
    feats = timm.create_model("vz_swin_tiny_patch4_window7_224", features_only=True)
    with pytest.raises(ValueError, match="input channels"):
        feats(torch.randn(1, 1, 64, 64))


def test_in_chans_option():
    model = timm.create_model("vz_swin_tiny_patch4_window7_224", in_chans=1, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 64, 64)).shape == (1, 3)
