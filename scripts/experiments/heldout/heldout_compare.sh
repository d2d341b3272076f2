#!/usr/bin/env bash
# Equal-time comparison on The Time Machine: a plain LSTM against the regularised and
# scheduled one of configs/lstm_timemachine_heldout.yaml, each with the same wall-clock
# budget (train.time_limit), on a variant small enough to overfit within it: SIZE hidden
# units, the first TOKENS characters for training and the next 10 % held out (TOKENS 0: the
# whole book, its last 10 % held out, as the config itself).
# Usage: scripts/experiments/heldout/heldout_compare.sh [BUDGET=140s] [SIZE=256] [TOKENS=30000] [OUT=runs/heldout]
# docs/training_techniques.md reports its output.
set -euo pipefail
BUDGET=${1:-140s}
SIZE=${2:-256}
TOKENS=${3:-30000}
OUT=${4:-runs/heldout}
CONFIG=configs/lstm_timemachine_heldout.yaml
[ "$TOKENS" = 0 ] && TOKENS=null
VARIANT=(model.hidden_size="$SIZE" data.max_tokens="$TOKENS" train.time_limit="$BUDGET"
  train.epochs=1000 train.sample_every=1000)
PLAIN=(model.dropout=0 model.embed_dropout=0 model.output_dropout=0 model.locked_dropout=false
  model.weight_drop=0 model.token_dropout=0 model.ar=0 model.tar=0 optim.schedule=none
  optim.factor=null optim.patience=null optim.average=none optim.average_decay=null
  train.early_stop=null)
nice -n 10 python -m rnnlab train "$CONFIG" "${VARIANT[@]}" "${PLAIN[@]}" name=plain --out "$OUT"
nice -n 10 python -m rnnlab train "$CONFIG" "${VARIANT[@]}" name=regularised --out "$OUT"
python - "$OUT" <<'PY'
import json, sys, pathlib
for run in sorted(pathlib.Path(sys.argv[1]).glob("*/summary.json")):
    s = json.loads(run.read_text())
    f, b = s["final"], s["best"]
    print(f"{s['name']:12s} epochs {s['epochs']:3d}  best val_ppl {b['val_ppl']:.3f} (epoch "
          f"{b['epoch']})  final train_ppl {f['train_ppl']:.3f} val_ppl {f['val_ppl']:.3f}  "
          f"{s['tokens_per_s']:.0f} tok/s  {s.get('stop_reason', '')}")
PY
