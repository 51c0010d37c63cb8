"""The package registers its models with timm cheaply and never takes a timm name."""
import json
import subprocess
import sys

import timm

import vitzoo


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_builds_nothing_and_overrides_no_timm_model():
    out = _run(
        "import json, torch, timm\n"
        "timm_models = set(timm.list_models())\n"
        "built = []\n"
        "init = torch.nn.Module.__init__\n"
        "def counting_init(self, *a, **k):\n"
        "    built.append(type(self).__name__); init(self, *a, **k)\n"
        "torch.nn.Module.__init__ = counting_init\n"
        "import vitzoo\n"
        "torch.nn.Module.__init__ = init\n"
        "from timm.models._registry import _model_entrypoints\n"
        "ours = {n for n, fn in _model_entrypoints.items() if fn.__module__.startswith('vitzoo.')}\n"
        "print(json.dumps(dict(built=built, taken=sorted(ours & timm_models), ours=sorted(ours))))\n"
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["built"] == [], "import vitzoo must not construct modules"
    assert result["taken"] == [], f"vitzoo re-registered timm models: {result['taken']}"
    assert "vz_swin_tiny_patch4_window7_224" in result["ours"]


def test_every_model_has_a_documented_pretrained_source():
    from timm.models._registry import _model_entrypoints, get_arch_pretrained_cfgs

    ours = sorted(n for n, fn in _model_entrypoints.items() if fn.__module__.startswith("vitzoo."))
    assert ours
    for name in ours:
        cfgs = get_arch_pretrained_cfgs(name)
        assert cfgs, f"{name} has no pretrained cfg"
        for tag, pretrained_cfg in cfgs.items():
            cfg = pretrained_cfg.to_dict()
            assert cfg.get("origin_url"), (name, tag)
            assert cfg.get("url") or cfg.get("hf_hub_id") or cfg.get("notes"), (name, tag, "no source and no notes")
            assert "license" in cfg, (name, tag)


def test_version():
    assert vitzoo.__version__.count(".") == 2
