#!/usr/bin/env bash
# Train configs/imdb_bilstm.yaml on the full IMDB reviews (25,000 training reviews, 10% of
# them held out as dev to pick the best epoch) and report the best checkpoint's accuracy
# on the 25,000 test reviews, with the epochs and the time per epoch.
#
#   scripts/experiments/imdb_full/imdb_full.sh [IMDB] [KEY=VALUE ...]
#
# IMDB: an aclImdb/ folder or the aclImdb_v1.tar.gz archive; without it, the data
# directory's aclImdb/ (or the official archive, downloaded and checked). The run folder
# goes under runs/imdb_full/. The first run tokenises (about 20 s) and caches the result.
# Results of this command on 2 CPU cores are in docs/classification.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
args=()
if [[ $# -gt 0 && "$1" != *=* ]]; then
    args+=("data.path=$1")
    shift
fi
run=$(python -m rnnlab train configs/imdb_bilstm.yaml "${args[@]}" "$@" --out runs/imdb_full --quiet)
python - "$run" <<'PY'
import statistics, sys

from rnnlab.runs import Run

run = Run(sys.argv[1])
summary, rows = run.read_summary(), run.read_metrics()
key = summary["key_metric"]  # dev_acc: the metric that picked best.pt
print(f"run: {run.dir}")
print(f"examples: {summary['examples']}")
for r in rows:
    print(
        f"epoch {r['epoch']}: train_acc {r['train_acc']:.4f}  {key} {r[key]:.4f}"
        f"  {r['train_s']:.0f} s  {r['tokens_per_s'] / 1000:.1f}k tokens/s"
    )
best = summary["best"]
print(f"best epoch {best['epoch']} of {summary['epochs']} ({key} {best[key]:.4f})")
print(f"test accuracy {summary['test']['test_acc']:.4f} on {summary['examples']['test']} reviews")
epoch_s = statistics.median(r["train_s"] for r in rows)
print(f"time per epoch (training only, median): {epoch_s:.0f} s; wall {summary['wall_s'] / 60:.1f} min; {summary['device']}")
PY
