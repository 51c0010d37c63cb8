from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
exec((here / "vitzoo" / "version.py").read_text(), version)

setup(
    name="vitzoo",
    version=version["__version__"],
    description="Vision backbones (Swin, TNT, HorNet, RMT, SLAB, SOFT, SReT, ViT-ResNAS, SparseFormer, DVT) "
    "for timm, MMSegmentation and MMDetection, exact to the authors' code",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vitzoo", "vitzoo.*"]),
    install_requires=[
        "torch>=2.1",
        "torchvision",
        "timm>=1.0",
        "safetensors",
        "huggingface_hub",
    ],
    extras_require={
        # tools/train.py's classification runs: progress bars and the training-curve / predictions plots
        "train": ["matplotlib", "tqdm"],
        "dev": ["pytest>=7", "matplotlib", "tqdm"],
    },
    license="Apache-2.0",
)
