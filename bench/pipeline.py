"""End-to-end throughput of ``glmprep run`` with 1 and 2 workers, against raw tiktoken.

    python bench/pipeline.py [CORPUS.jsonl.gz ...] [--copies 16] [--workers 1,2]
                             [--rounds 4] [--near-dedup] [--in-memory] [--stages]

Without corpora the input is the bundled sample's JSONL records replicated ``--copies``
times (default 16) with fresh ids and a copy number at the end of each text (corpus.py);
with corpora (e.g. /work/shared/corpora/*.jsonl.gz) those files, as they are unless
``--copies`` is given. Every run is made in a fresh process, as a user's ``glmprep run``
is (nothing loaded or forked by an earlier run helps a later one): that process builds the
``GLMPrep`` transform (DirectRunner, ``--direct_running_mode=multi_processing
--direct_num_workers=N``, ``--no-near-dedup`` unless ``--near-dedup``) so Beam's metrics
can be read back, and the clock runs from pipeline construction to the end of the run.

Shared machines drift by tens of percent within a minute, so one run per configuration
says little: each of ``--rounds`` rounds times every configuration once, in alternating
order, after measuring that round's baselines, and the summary gives medians over rounds.
Configurations: each worker count with glmprep's defaults, and one worker with a single
tokenizer thread (``--tokenizer-threads=1``): by default a lone worker encodes on two
threads, so it already uses the second core for part of the run, and the 1 -> 2 worker
speedup of the defaults is not the speedup from adding a worker process.

Printed per run: wall seconds, MB/s (UTF-8 bytes of input text per wall second),
docs/s, and the same MB/s with the fixed start-up cost (a run over 20 documents, timed
just before) taken off; the time the ``tokenize`` and ``shards`` stages report in their ``msecs``
counters (summed over workers); the bytes entering all shuffles per input byte (see
``shuffle_bytes``), listed per grouping at the end. At the end: the wall time of the whole ``glmprep run``
command on the same input, Python start and imports included. Baselines measured every
round: single-thread ``tiktoken`` ``encode_ordinary`` over the same texts, and how much
faster two CPU-bound processes run than one on this machine (``machine_scaling``: the
2-worker ceiling; a VM's two cores are often less than two). Targets: 2 workers >= 1.6x
one worker; pipeline >= 0.5x raw tiktoken (``--tiktoken-target``: 0.8 on the long-document
corpora with near dedup on, which ``bench/neardedup_cost.py`` measures in paired rounds).

``--stages`` times, at the largest worker count, the language, PII, decontamination and
mixing stages each on alone against a run with all four off, and all four on, in the same
rounds; it prints each one's cost as a ratio of wall times. The decontamination runs check
(once with the exact index as a side input, once through a 1 MB Bloom filter and the keyed
join, as a benchmark too large for the index would) against 10,000 generated 30-word items (windows of every seventh document, their words
reversed, and one in a hundred as it is: a few documents do match); the mixing run splits the
input files into two sources weighted 2:1 (it needs two input files).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Sequence, Tuple

from apache_beam.metrics import monitoring_infos
from apache_beam.metrics.metric import MetricsFilter

import corpus
from glmprep.pipeline.manifest import read_manifest
from glmprep.pipeline.options import GLMPrepOptions
from glmprep.pipeline.api import GLMPrep
from glmprep.pipeline.checks import check_up_front, config_from
from glmprep.pipeline.local import build_pipeline_options, new_pipeline
from glmprep.core.tokenizer import GLMTokenizer

SCALING_TARGET = 1.6
TIKTOKEN_TARGET = 0.5
TIMED_NAMESPACES = ("tokenize", "shards")
SHUFFLE_TARGET = 2.5  # bytes entering shuffles per input text byte, near dedup on
GROUPING_URNS = ("beam:transform:group_by_key:v1", "beam:transform:combine_per_key:v1")


def run_argv(inputs: Sequence[str], output: str, beam_flags: Sequence[str], near_dedup: bool) -> List[str]:
    return [a for p in inputs for a in ("--input", p)] + [
        "--output", output, "--overwrite", "--seq-len", "512", "--num-shards", "4", "--quiet",
        *([] if near_dedup else ["--no-near-dedup"]), *beam_flags]


def shuffle_bytes(pipeline, result) -> Dict[str, Tuple[int, int]]:
    """Bytes entering every grouping, by its label, as (at least, at most): the element count
    of a PCollection times the mean encoded size Beam samples for it (``sampled_byte_size``:
    the packed elements as the runner moves them). A GroupByKey's input is what it moves
    (both figures); a CombinePerKey is lifted, so it moves at least one accumulator per key
    (its output) and at most its input. An estimate: Beam samples element sizes (every one
    at first, then ever fewer), so on a corpus mixing megabyte documents with one-line ones
    the mean, and with it the total, can be off by a factor of several; repeat runs to see."""
    # Summed over every report (one per worker and stage that touched the PCollection).
    counts, sampled_bytes, sampled = defaultdict(int), defaultdict(int), defaultdict(int)
    for info in result.monitoring_metrics().monitoring_infos():
        pcollection = info.labels.get("PCOLLECTION")
        if info.urn == monitoring_infos.ELEMENT_COUNT_URN:
            counts[pcollection] += monitoring_infos.extract_metric_result_map_value(info)
        elif info.urn == monitoring_infos.SAMPLED_BYTE_SIZE_URN:
            distribution = monitoring_infos.extract_metric_result_map_value(info)
            sampled_bytes[pcollection] += distribution.sum
            sampled[pcollection] += distribution.count

    def size(pcollections) -> int:
        return int(sum(counts[pc] * sampled_bytes[pc] / sampled[pc] for pc in pcollections if sampled[pc]))

    transforms = pipeline.to_runner_api().components.transforms
    inside_combine = {sub for t in transforms.values() if t.spec.urn == GROUPING_URNS[1] for sub in t.subtransforms}
    grouped = {}
    for transform_id, t in transforms.items():
        if t.spec.urn == GROUPING_URNS[0] and transform_id not in inside_combine:
            grouped[t.unique_name] = (size(t.inputs.values()),) * 2
        elif t.spec.urn == GROUPING_URNS[1]:
            grouped[t.unique_name] = (size(t.outputs.values()), size(t.inputs.values()))
    return grouped


def run_pipeline(argv: Sequence[str]) -> Dict[str, object]:
    """One run in this process; returns wall seconds, documents in and the msecs counters
    by namespace."""
    options = build_pipeline_options(argv)
    config = config_from(options.view_as(GLMPrepOptions))
    check_up_front(config, overwrite=True)
    start = time.perf_counter()
    pipeline = new_pipeline(options)
    _ = pipeline | "GLMPrep" >> GLMPrep(config)
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - start
    msecs = {ns: 0 for ns in TIMED_NAMESPACES}
    for counter in result.metrics().query(MetricsFilter().with_name("msecs"))["counters"]:
        if counter.key.metric.namespace in msecs:
            msecs[counter.key.metric.namespace] += counter.committed or counter.attempted or 0
    docs = read_manifest(config.output)["totals"]["documents_in"]
    spilled = sum(c.committed or c.attempted or 0 for c in result.metrics().query(
        MetricsFilter().with_namespace("text_runs").with_name("bytes_written"))["counters"])
    return {"seconds": seconds, "docs": docs, "msecs": msecs, "shuffle": shuffle_bytes(pipeline, result),
            "spilled": spilled}


def run_fresh(argv: Sequence[str]) -> Dict[str, object]:
    """``run_pipeline(argv)`` in a new Python process (imports are outside the clock)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_pipeline, list(argv)).result()


def command_seconds(argv: Sequence[str]) -> float:
    """Wall seconds of the whole ``glmprep run`` command (Python start and imports included)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "glmprep.pipeline.cli", "run", *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"glmprep run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def tiktoken_seconds(tokenizer: GLMTokenizer, texts: List[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        tokenizer.encode(text)
    return time.perf_counter() - start


def _spin(n: int, barrier, results) -> None:
    barrier.wait()  # every process starts spinning at the same moment
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    results.put(time.perf_counter() - start)


def run_together(target, args: tuple, processes: int) -> float:
    """The largest figure ``processes`` fresh processes running ``target(*args, barrier,
    results)`` put on ``results``; each waits at ``barrier`` so they start at one moment."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    seconds = max(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return seconds


def _spin_together(processes: int, n: int) -> float:
    """Seconds until the slowest of ``processes`` spin loops of ``n`` steps finishes."""
    return run_together(_spin, (n,), processes)


def machine_scaling(n: int = 5_000_000, repeats: int = 3) -> float:
    """What this machine gives two processes of pure CPU work: twice the time of one spin
    loop over the time of two run at once, best of ``repeats`` each (2.0 on two idle,
    independent cores; shared or hyper-threaded cores give less). The ceiling of any
    2-worker speedup measured here."""
    one = min(_spin_together(1, n) for _ in range(repeats))
    two = min(_spin_together(2, n) for _ in range(repeats))
    return 2 * one / two


def _workers_label(n: int) -> str:
    return f"{n} worker{'s' if n != 1 else ''}"


def _settings(workers: Sequence[int], in_memory: bool) -> List[Tuple[str, List[str]]]:
    """(label, Beam and glmprep flags) of every configuration timed in a round."""
    settings = [("in_memory", ["--direct_running_mode=in_memory"])] if in_memory else []
    for n in workers:
        flags = ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]
        settings.append((_workers_label(n), flags))
        if n == 1:  # glmprep gives a lone worker two tokenizer threads: time one too
            settings.append(("1 worker, 1 thread", flags + ["--tokenizer-threads=1"]))
    return settings


STAGES_OFF = ["--no-pii", "--no-language-id"]


def benchmark_items(texts: List[str], path: str, n_items: int = 10_000, words: int = 30) -> str:
    """``n_items`` JSON Lines items of ``words`` words (as decontamination counts them: a
    CJK character is a word) from ``texts``, reversed but for one in a hundred (see the
    module docstring); the same every run."""
    import random
    from glmprep.core.decontaminate import normalised_words
    rng = random.Random(0)
    long_texts = [w for w in (normalised_words(t) for t in texts[::7]) if len(w) > words]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_items):
            split = rng.choice(long_texts)
            start = rng.randrange(len(split) - words)
            window = split[start:start + words]
            item = window if i % 100 == 0 else window[::-1]
            fh.write(json.dumps({"id": f"item-{i}", "question": " ".join(item)}, ensure_ascii=False) + "\n")
    return path


def _stage_settings(workers: int, inputs: Sequence[str], items: str,
                    mixture: str) -> List[Tuple[str, List[str]]]:
    """(label, flags) of the ``--stages`` configurations. ``--mixture`` in the flags names
    the inputs itself (no ``--input`` then)."""
    flags = ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    sources = []
    if len(inputs) >= 2:
        half = len(inputs) // 2
        with open(mixture, "w", encoding="utf-8") as fh:
            json.dump({"sources": [{"name": "a", "inputs": list(inputs[:half]), "weight": 2},
                                   {"name": "b", "inputs": list(inputs[half:]), "weight": 1}]}, fh)
        sources = ["--mixture", mixture]
    settings = [("stages off", flags + STAGES_OFF),
                ("+ language", flags + ["--no-pii"]),
                ("+ pii", flags + ["--no-language-id"]),
                ("+ decontaminate", flags + STAGES_OFF + ["--decontaminate", items]),
                # the way taken for benchmarks too large for the exact index: a 1 MB Bloom filter
                # (44 bits per n-gram here) and the keyed join of the n-grams it flags
                ("+ decontam. join", flags + STAGES_OFF + ["--decontaminate", items, "--decontaminate-memory-mb", "1"])]
    if sources:
        settings.append(("+ mixing", flags + STAGES_OFF + sources))
    settings.append(("all four", flags + ["--decontaminate", items] + sources))
    return settings


def stage_argv(inputs: Sequence[str], output: str, flags: Sequence[str], near_dedup: bool,
               tiny: bool) -> List[str]:
    """``run_argv`` for a ``--stages`` configuration; a start-up run (``tiny``) reads the
    tiny input instead of the mixture's sources."""
    if "--mixture" in flags:
        at = list(flags).index("--mixture")
        if tiny:
            flags = list(flags[:at]) + list(flags[at + 2:])
        else:
            inputs = []
    return run_argv(inputs, output, flags, near_dedup)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="*", help="gzip'd JSONL corpora (default: the bundled sample, replicated)")
    parser.add_argument("--copies", type=int, default=None,
                        help="copies of every record, each a distinct document (default: 16 of the "
                             "bundled sample; the corpora as they are)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default: 1,2)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds; each times every configuration once, in alternating order, so an "
                             "even number puts each first and last equally often (default: 4)")
    parser.add_argument("--near-dedup", action="store_true", help="keep near dedup on")
    parser.add_argument("--tiktoken-target", type=float, default=TIKTOKEN_TARGET,
                        help=f"the MB/s target as a fraction of raw tiktoken (default {TIKTOKEN_TARGET}, the target "
                             "on short documents; 0.8 on the long-document corpora with near dedup on)")
    parser.add_argument("--in-memory", action="store_true", help="also time the in_memory mode")
    parser.add_argument("--stages", action="store_true",
                        help="time the language, PII, decontamination and mixing stages on and off "
                             "(at the largest worker count) instead of the worker counts")
    args = parser.parse_args(argv)
    workers = [int(n) for n in args.workers.split(",")]
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    work = tempfile.mkdtemp(prefix="glmprep-bench-")
    try:
        if args.corpora and args.copies is None:
            inputs = list(args.corpora)
        else:
            copies = 16 if args.copies is None else args.copies
            inputs, _, _ = corpus.replicate(args.corpora or corpus.SAMPLE, copies, os.path.join(work, "in"))
        texts = corpus.texts(inputs)
        text_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        tiny = os.path.join(work, "tiny.jsonl")
        with open(tiny, "w", encoding="utf-8") as fh:
            for r in list(corpus.records(inputs[0]))[:20]:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"corpus: {len(inputs)} file(s), {len(texts):,} documents, {text_mb:.1f} MB of text; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews the timings)",
              flush=True)

        out = os.path.join(work, "out")
        if args.stages:
            items = benchmark_items(texts, os.path.join(work, "items.jsonl"))
            settings = _stage_settings(max(workers), inputs, items, os.path.join(work, "mixture.json"))
        else:
            settings = _settings(workers, args.in_memory)

        def argv_of(run_inputs, flags, tiny=False):
            if args.stages:
                return stage_argv(run_inputs, out, flags, args.near_dedup, tiny)
            return run_argv(run_inputs, out, flags, args.near_dedup)
        runs: Dict[str, List[Dict[str, object]]] = {label: [] for label, _ in settings}
        raw_mbps, ceilings = [], []
        tokenizer = GLMTokenizer()  # cl100k_base, the pipeline's default, loaded outside the timer
        for round_ in range(args.rounds):
            ceilings.append(machine_scaling())
            raw_mbps.append(text_mb / tiktoken_seconds(tokenizer, texts))
            print(f"round {round_ + 1}: two CPU-bound processes run {ceilings[-1]:.2f}x as fast as one "
                  f"(the ceiling of a 2-worker speedup); tiktoken, one thread: {raw_mbps[-1]:.2f} MB/s", flush=True)
            order = settings if round_ % 2 == 0 else settings[::-1]  # drift hits every setting alike
            for label, flags in order:
                fixed = run_fresh(argv_of([tiny], flags, tiny=True))["seconds"]
                r = dict(run_fresh(argv_of(inputs, flags)), fixed=fixed)
                runs[label].append(r)
                net = max(1e-9, r["seconds"] - fixed)
                stages = "  ".join(f"{ns} {r['msecs'][ns] / 1000:.1f} s" for ns in TIMED_NAMESPACES)
                print(f"  {label:>18}: {r['seconds']:6.1f} s  {text_mb / r['seconds']:6.2f} MB/s  "
                      f"{r['docs'] / r['seconds']:8.0f} docs/s  | without the {fixed:.1f} s start-up "
                      f"{text_mb / net:6.2f} MB/s  | {stages}  | shuffles "
                      f"{sum(low for low, _ in r['shuffle'].values()) / 1e6 / text_mb:.2f}-"
                      f"{sum(high for _, high in r['shuffle'].values()) / 1e6 / text_mb:.2f}x the input bytes",
                      flush=True)
        commands = {label: command_seconds(argv_of(inputs, flags)) for label, flags in settings}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    shuffled = next(iter(runs.values()))[-1]["shuffle"]  # the same for every setting but the runner's bundling
    low, high = (sum(bounds[i] for bounds in shuffled.values()) for i in (0, 1))
    verdict = "meets" if high / 1e6 / text_mb <= SHUFFLE_TARGET else (
        "may meet" if low / 1e6 / text_mb <= SHUFFLE_TARGET else "MISSES")
    print(f"\nMB entering each shuffle (one run of {next(iter(runs))}; a lifted combine: at least-at most), "
          f"largest first; input text {text_mb:.1f} MB:")
    for label, (at_least, at_most) in sorted(shuffled.items(), key=lambda e: -e[1][1])[:15]:
        bounds = f"{at_most / 1e6:9.2f}" if at_least == at_most else f"{at_least / 1e6:.2f}-{at_most / 1e6:.2f}"
        print(f"  {bounds:>15}  {at_most / 1e6 / text_mb:5.2f}x  {label}")
    print(f"  all {len(shuffled)} groupings: {low / 1e6:.2f}-{high / 1e6:.2f} MB = {low / 1e6 / text_mb:.2f}-"
          f"{high / 1e6 / text_mb:.2f}x the input (near dedup {'on' if args.near_dedup else 'off'}): {verdict} "
          f"the target (<= {SHUFFLE_TARGET}x with near dedup on)")
    spilled = next(iter(runs.values()))[-1]["spilled"]
    print(f"  besides: {spilled / 1e6:.2f} MB = {spilled / 1e6 / text_mb:.2f}x the input of packed texts written to "
          f"run files (text_runs.py) while their references crossed the groupings; shuffles and runs together "
          f"{(low + spilled) / 1e6 / text_mb:.2f}-{(high + spilled) / 1e6 / text_mb:.2f}x")

    seconds = {label: [r["seconds"] for r in rs] for label, rs in runs.items()}
    raw = statistics.median(raw_mbps)
    print(f"\nmedians of {args.rounds} round(s): tiktoken {raw:.2f} MB/s; the machine's 2-process ceiling "
          f"{statistics.median(ceilings):.2f}x (rounds: {', '.join(f'{c:.2f}' for c in ceilings)})")
    for label, values in seconds.items():
        wall = statistics.median(values)
        vs_raw = (text_mb / wall) / raw
        verdict = "meets" if vs_raw >= args.tiktoken_target else "MISSES"
        print(f"  {label:>18}: {wall:5.1f} s ({', '.join(f'{v:.1f}' for v in values)}), "
              f"{text_mb / wall:5.2f} MB/s = {vs_raw:.2f}x raw tiktoken: {verdict} the target "
              f"(>= {args.tiktoken_target}x); whole command {commands[label]:.1f} s, "
              f"{(text_mb / commands[label]) / raw:.2f}x")
    if args.stages:
        base = statistics.median(seconds["stages off"])
        for label, values in seconds.items():
            if label != "stages off":
                ratios = [v / b for v, b in zip(values, seconds["stages off"])]
                print(f"cost of {label[2:] if label.startswith('+ ') else label}: "
                      f"{statistics.median(values) / base:.2f}x the wall time with the stages off "
                      f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    elif len(workers) >= 2:
        many = _workers_label(workers[1])
        pairs = [(_workers_label(workers[0]), "the default settings")]
        if workers[0] == 1:
            pairs.append(("1 worker, 1 thread", "one tokenizer thread per worker"))
        for few, what in pairs:
            ratios = [a / b for a, b in zip(seconds[few], seconds[many])]
            nets = [(a["seconds"] - a["fixed"], b["seconds"] - b["fixed"]) for a, b in zip(runs[few], runs[many])]
            long_enough = all(r["seconds"] >= 2 * r["fixed"] for r in runs[few] + runs[many])
            net = (f"{statistics.median([a / b for a, b in nets]):.2f}x" if long_enough
                   else "n/a (a run shorter than twice its start-up)")
            ratio = statistics.median(ratios)
            verdict = "meets" if ratio >= SCALING_TARGET else "MISSES"
            print(f"scaling {few} -> {many}, {what}: {ratio:.2f}x wall, median of rounds "
                  f"({', '.join(f'{x:.2f}' for x in ratios)}); without start-up {net}: "
                  f"{verdict} the target (>= {SCALING_TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
