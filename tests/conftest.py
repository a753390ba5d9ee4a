"""Shared fixtures."""
from __future__ import annotations

import pytest

from glmprep.core.tokenizer import GLMTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> GLMTokenizer:
    return GLMTokenizer()
