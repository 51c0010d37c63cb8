"""tools/install_mm.py: the mmcv setup.py patch and the wheel cache key (the build itself runs in CI's install)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import install_mm  # noqa: E402

# the shapes the pins take in mmcv 2.1.0's setup.py
MMCV_SETUP_SNIPPETS = """
extra_compile_args = {
    'nvcc': [cuda_args, '-std=c++14'] if cuda_args else ['-std=c++14'],
    'cxx': ['-std=c++14'],
}
extra_compile_args['cxx'] = ['-std=c++17']
extra_compile_args['cxx'] = ['/std:c++17']
extra_compile_args['cxx'] = ['-Wall', '-std=c++17']
extra_compile_args['nvcc'] += ['-std=c++14']
"""


def test_patch_removes_every_pinned_standard_and_stays_python(tmp_path):
    setup_py = tmp_path / "setup.py"
    setup_py.write_text(MMCV_SETUP_SNIPPETS)
    assert install_mm.patch_setup_py(setup_py) == 7
    patched = setup_py.read_text()
    assert "std" not in patched
    compile(patched, "setup.py", "exec")
    assert "extra_compile_args['cxx'] = ['-Wall', ]" in patched


def test_patch_refuses_a_file_without_pins(tmp_path):
    setup_py = tmp_path / "setup.py"
    setup_py.write_text("from setuptools import setup\nsetup()\n")
    with pytest.raises(install_mm.StepFailed, match="no pinned -std flags"):
        install_mm.patch_setup_py(setup_py)


def test_cache_key_names_every_version_that_changes_the_binary():
    import torch

    key, with_cuda = install_mm.build_key(cuda=False)
    assert not with_cuda
    assert key == f"mmcv-{install_mm.MMCV_VERSION}_torch-{torch.__version__.split('+')[0]}_cp{sys.version_info.major}{sys.version_info.minor}_cpu"
