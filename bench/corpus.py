"""Benchmark corpora for the pipeline benchmarks (``memory.py``, ``pipeline.py``).

The default corpus is the bundled sample's JSONL records (data/sample/*.jsonl.gz),
replicated with fresh ids: copy ``k`` of record ``en-0001`` is ``en-0001~k`` and its text
ends in `` (k)``, so exact dedup keeps every copy. (Near dedup would drop the copies:
benchmarks that replicate run with ``--no-near-dedup``.) Other corpora, such as
``/work/shared/corpora/*.jsonl.gz``, are gzip'd JSON Lines with ``id`` and ``text``.
"""
from __future__ import annotations

import gzip
import json
import os
import pathlib
from typing import Iterator, List, Sequence, Tuple

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = sorted(str(p) for p in (REPO / "data" / "sample").glob("*.jsonl.gz"))


def records(path: str) -> Iterator[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def replicate(sources: Sequence[str], copies: int, directory: str) -> Tuple[List[str], int, int]:
    """Write ``copies`` copies of every record of ``sources`` (fresh ids) into ``directory``,
    one gzip'd JSONL file per source; returns (paths, documents, UTF-8 bytes of text)."""
    os.makedirs(directory, exist_ok=True)
    paths, docs, text_bytes = [], 0, 0
    for source in sources:
        originals = list(records(source))
        path = os.path.join(directory, os.path.basename(source).replace(".jsonl.gz", f"-x{copies}.jsonl.gz"))
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
            for copy in range(copies):
                for r in originals:
                    text = f"{r['text']} ({copy})" if copies > 1 else r["text"]
                    out.write(json.dumps({"id": f"{r['id']}~{copy}", "text": text}, ensure_ascii=False) + "\n")
                    docs += 1
                    text_bytes += len(text.encode("utf-8"))
        paths.append(path)
    return paths, docs, text_bytes


def texts(paths: Sequence[str]) -> List[str]:
    """Every text of ``paths`` (string texts only), in file order."""
    return [r["text"] for p in paths for r in records(p) if isinstance(r.get("text"), str)]
