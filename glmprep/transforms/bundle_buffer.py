"""A DoFn that holds part of a bundle, bounded in bytes: what several steps do before a
shuffle, so that a shuffle gets a few large values rather than one element per record.

``BundleBufferDoFn`` keeps what its subclass adds (``held``, made by ``empty``) and the
bytes it says each addition costs; once they reach ``max_bytes``, and at the end of the
bundle, the subclass turns what is held into outputs (``drain``; tagged ones too). A bundle therefore
holds at most about ``max_bytes``, whatever the shape of its records.
"""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows


class BundleBufferDoFn(beam.DoFn):
    """Subclasses define ``empty()``, ``drain(held)`` and a ``process`` that adds to
    ``self.held`` and then does ``yield from self.added(nbytes)``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def empty(self) -> Any:
        raise NotImplementedError

    def drain(self, held) -> Iterable:
        raise NotImplementedError

    def start_bundle(self):
        self.held = self.empty()
        self.size = 0

    def added(self, nbytes: int) -> Iterable:
        """Count ``nbytes`` more held; everything held, drained, once that reaches ``max_bytes``."""
        self.size += nbytes
        return self.flush() if self.size >= self.max_bytes else ()

    def flush(self) -> Iterable:
        held, self.held, self.size = self.held, self.empty(), 0
        return self.drain(held)

    def finish_bundle(self):
        for output in self.flush():
            if isinstance(output, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(output.value))
            else:
                yield GlobalWindows.windowed_value(output)
