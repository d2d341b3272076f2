#!/usr/bin/env bash
# Tiny Shakespeare, equal wall time: nanoGPT's CPU recipe (its README, "I only have a
# macbook") against configs/lstm_shakespeare.yaml, back to back on one machine.
#   1. nanoGPT, run from PEER (a copy of karpathy/nanoGPT outside this repository; its
#      data/shakespeare_char/input.txt is copied from rnnlab's data directory, then its own
#      prepare.py and train.py run), timed whole;
#   2. rnnlab with train.time_limit = nanoGPT's wall time (whole command, rounded up) and
#      nothing else changed: the config's cosine (optim.decay_steps: budget) fits itself to
#      the steps that budget holds on this machine;
#   3. rnnlab with the config's own 15-minute budget.
# EXTRA overrides go to both rnnlab legs. (The script's earlier form, used for the older
# rows of docs/language_models.md, took a third argument DECAY and gave the equal-time leg
# optim.decay_steps=DECAY model.weight_drop=0 model.embed_dropout=0 model.output_dropout=0.1.)
# A finished nanoGPT log in OUT is kept (delete OUT/nanogpt.log to time nanoGPT again).
# Both report the validation loss in nats per character on nanoGPT's split (the last 10 %);
# nanoGPT's is its estimate over eval_iters=20 random batches, rnnlab's is over every
# character of the split.
# Usage: scripts/experiments/side_by_side/shakespeare_race.sh PEER [OUT=runs/shakespeare_race] [EXTRA rnnlab overrides...]
# docs/language_models.md reports its output.
set -euo pipefail
PEER=$(realpath "$1")
OUT=$(realpath -m "${2:-runs/shakespeare_race}")
shift $(($# < 2 ? $# : 2))
EXTRA=("$@")
DATA=${RNNLAB_DATA_DIR:-$HOME/.cache/rnnlab}
CONFIG=$(realpath configs/lstm_shakespeare.yaml)
mkdir -p "$OUT"
source "$(dirname "$0")/timed.sh"
[ -s "$OUT/nanogpt.log" ] && grep -q wall_s "$OUT/nanogpt.log" || (  # kept from an earlier call
  cd "$PEER"
  cp "$DATA/tinyshakespeare.txt" data/shakespeare_char/input.txt
  python data/shakespeare_char/prepare.py >/dev/null
  timed nanogpt python train.py config/train_shakespeare_char.py --device=cpu --compile=False \
    --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 \
    --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0 --out_dir="$OUT/nanogpt"
)
BUDGET=$(python -c "import math,re,sys; print(math.ceil(float(re.findall(r'wall_s ([\d.]+)', open(sys.argv[1]).read())[-1])))" "$OUT/nanogpt.log")
RNN=(python -m rnnlab train "$CONFIG" --out "$OUT")
timed rnnlab_equal "${RNN[@]}" name=rnnlab_equal train.time_limit="${BUDGET}s" "${EXTRA[@]}"
timed rnnlab_15m "${RNN[@]}" name=rnnlab_15m "${EXTRA[@]}"
python - "$OUT" <<'PY'
import json, math, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
def wall(name):
    return float(re.findall(r"wall_s ([\d.]+)", (out / f"{name}.log").read_text())[-1])
val = re.findall(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", (out / "nanogpt.log").read_text())
print("| command | steps | val loss (nats/char) | wall s |")
print("| --- | ---: | ---: | ---: |")
print(f"| nanoGPT train.py (CPU recipe) | {val[-1][0]} | {val[-1][2]} | {wall('nanogpt'):.0f} |")
for name in ("rnnlab_equal", "rnnlab_15m"):
    s = json.loads((next(out.glob(f"{name}-*")) / "summary.json").read_text())
    print(f"| {name} | {s['steps']} | {math.log(s['best']['val_ppl']):.4f} | {wall(name):.0f} |")
PY
