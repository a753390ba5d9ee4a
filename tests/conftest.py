"""Shared fixtures."""
from __future__ import annotations

import pytest
from apache_beam.testing.test_pipeline import TestPipeline

# Beam's TestPipeline is a pipeline, not a test class: tests import it by name, and pytest
# would try to collect it (a collection warning per module) unless told it is no test.
TestPipeline.__test__ = False

from glmprep.core.tokenizer import GLMTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> GLMTokenizer:
    return GLMTokenizer()
