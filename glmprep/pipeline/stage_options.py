"""The options of the PII, language, decontamination and mixing stages, resolved.

Their flags are fields of each stage's options dataclass (``PiiOptions``,
``LanguageOptions``, ``DecontaminateOptions``, ``MixOptions``, listed in
``glmprep.pipeline.options.STAGES``); ``StageOptions.from_args`` builds them and does what
a dataclass cannot: reads ``--mixture``, and makes ``--input`` files a source of their own
when sources are named.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import List, Optional

from apache_beam.io.filesystems import FileSystems

from glmprep.core.decontaminate import DecontaminateOptions
from glmprep.core.langid import LanguageOptions
from glmprep.core.mixing import MixOptions, SourceSpec, read_mixture
from glmprep.core.options import build
from glmprep.core.pii import PiiOptions

INPUT_SOURCE = "input"  # the source of --input files when --source names others


@dataclass(frozen=True)
class StageOptions:
    """What the four stages are given; None (or no files) turns a stage off."""

    language: Optional[LanguageOptions] = field(default_factory=LanguageOptions)
    pii: Optional[PiiOptions] = field(default_factory=PiiOptions)
    decontaminate: DecontaminateOptions = field(default_factory=DecontaminateOptions)
    mixing: Optional[MixOptions] = None

    @classmethod
    def from_args(cls, opts, inputs: List[str], seed: int) -> "StageOptions":
        """From parsed options; ValueError naming the flag for a bad value."""
        language = build(LanguageOptions, opts)
        pii = build(PiiOptions, opts)
        decontaminate = build(DecontaminateOptions, opts)
        mixing = build(MixOptions, opts, seed=seed)
        sources: List[SourceSpec] = list(mixing.sources)
        total = mixing.total_tokens
        if mixing.mixture:
            try:
                with FileSystems.open(mixing.mixture) as fh:
                    from_file, file_total = read_mixture(fh.read().decode("utf-8"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"--mixture {mixing.mixture}: not a mixture file ({exc!r})") from None
            except Exception as exc:  # Beam raises filesystem-specific errors
                raise ValueError(f"--mixture {mixing.mixture}: cannot read it ({exc})") from None
            sources += from_file
            total = total if total is not None else file_total
        if not sources:
            return cls(language, pii, decontaminate, None)
        if inputs:
            sources.append(SourceSpec(INPUT_SOURCE, tuple(inputs)))
        return cls(language, pii, decontaminate,
                   dataclasses.replace(mixing, sources=tuple(sources), total_tokens=total, mixture=None))
