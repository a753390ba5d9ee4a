#!/usr/bin/env bash
# Soak (not in CI): one glmprep run over every shared corpus plus every bad input file
# (tests/bad_inputs.py, with its 50 MB document), then glmprep validate on the output.
# Fails unless the run finishes, validate accepts the output, and the manifest's
# documents_in equals the records counted here (corpus lines + bad-input records).
#
#   bench/soak.sh [CORPORA_DIR] [extra glmprep run options, e.g. --direct_num_workers=2]
#
# Environment: PYTHON (default /work/venv/bin/python or python3), KEEP=1 keeps the
# temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA=${1:-/work/shared/corpora}
shift || true
PYTHON=${PYTHON:-$( [ -x /work/venv/bin/python ] && echo /work/venv/bin/python || echo python3 )}
WORK=$(mktemp -d -t glmprep-soak-XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

"$PYTHON" tests/bad_inputs.py "$WORK/bad" > "$WORK/bad_cases.txt"
bad_records=$(sed -n 's/^total input records: //p' "$WORK/bad_cases.txt")
corpus_records=0
for f in "$CORPORA"/*.jsonl.gz; do
  corpus_records=$((corpus_records + $(zcat "$f" | grep -c '[^[:space:]]')))
done
echo "inputs: $(ls "$CORPORA"/*.jsonl.gz | wc -l) corpora ($corpus_records records), $(ls "$WORK/bad" | wc -l) bad-input entries ($bad_records records)"

start=$(date +%s.%N)
"$PYTHON" -m glmprep run --input "$CORPORA/*.jsonl.gz" --input "$WORK/bad/*" --output "$WORK/out" \
  --direct_running_mode=multi_processing --direct_num_workers=2 "$@"
end=$(date +%s.%N)
"$PYTHON" -m glmprep validate "$WORK/out"

"$PYTHON" - "$WORK/out" "$((corpus_records + bad_records))" "$start" "$end" <<'EOF'
import json, sys
out, expected, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
totals = json.load(open(f"{out}/manifest.json"))["totals"]
print(f"soak: {end - start:.0f} s; documents in {totals['documents_in']:,} (counted here {expected:,}), "
      f"kept {totals['documents_kept']:,}, rejected {totals['documents_rejected']:,}, "
      f"balanced {totals['accounting_balanced']}; {totals['shards']} shards, {totals['rows']:,} rows, "
      f"{totals['tokens']:,} tokens")
if totals["documents_in"] != expected or not totals["accounting_balanced"]:
    sys.exit("soak: the accounting does not hold")
EOF
