#!/usr/bin/env bash
# pytorch/examples word_language_model against rnnlab, back to back on one machine, on
# Penn Treebank with main.py's defaults (2 x 200 LSTM, emsize 200, dropout 0.2, SGD lr 20,
# clip 0.25, 35 x 20, eval batch 10) for EPOCHS epochs each:
#   1. main.py itself, run from PEER (a copy of pytorch/examples' word_language_model
#      outside this repository; its --data folder holds PTB's train.txt/valid.txt/test.txt),
#   2. rnnlab, configs/lstm_ptb_wlm.yaml, the same full-softmax model in float32,
#   3. the same with train.precision=bf16 (autocast; fast where the CPU has avx512_bf16/AMX;
#      left out on a CPU without native bfloat16, where oneDNN has no bf16 LSTM),
#   4. the same with an adaptive softmax (nn.AdaptiveLogSoftmaxWithLoss, cutoffs 2000, 6000).
# Every command is timed whole (scripts/experiments/side_by_side/timed.sh) and its log kept in OUT.
# Usage: scripts/experiments/side_by_side/wlm_side_by_side.sh PEER PTB_DIR [OUT=runs/wlm_side] [EPOCHS=1]
# docs/language_models.md reports its output.
set -euo pipefail
PEER=$(realpath "$1")
PTB=$(realpath "$2")
OUT=$(realpath -m "${3:-runs/wlm_side}")
EPOCHS=${4:-1}
CONFIG=$(realpath configs/lstm_ptb_wlm.yaml)
ADAPTIVE=(model.softmax=adaptive "model.adaptive_cutoffs=[2000,6000]")
mkdir -p "$OUT"
source "$(dirname "$0")/timed.sh"
(cd "$PEER" && timed main_py python main.py --data "$PTB" --epochs "$EPOCHS" \
  --save "$OUT/main_py_model.pt")
RNN=(python -m rnnlab train "$CONFIG" train.epochs="$EPOCHS" train.sample_every=1000 --out "$OUT")
timed rnnlab_32 "${RNN[@]}" name=rnnlab_32
if python -c "from rnnlab.training.precision import cpu_has_bf16 as f; exit(not f())"; then
  timed rnnlab_bf16 "${RNN[@]}" name=rnnlab_bf16 train.precision=bf16
fi
timed rnnlab_adaptive "${RNN[@]}" name=rnnlab_adaptive "${ADAPTIVE[@]}"
python - "$OUT" "$EPOCHS" <<'PY'
import csv, json, pathlib, re, sys
out, epochs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def wall(name):
    return float(re.findall(r"wall_s ([\d.]+)", (out / f"{name}.log").read_text())[-1])
log = (out / "main_py.log").read_text()
ms = [float(m) for m in re.findall(r"ms/batch\s+([\d.]+)", log)]
val = re.findall(r"valid ppl\s+([\d.]+)", log)
test = re.findall(r"test ppl\s+([\d.]+)", log)
base = 35 * 20 * 1000 / (sum(ms) / len(ms))
print(f"| command | training tokens/s | ratio | val ppl after {epochs} | test ppl | wall s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
print(f"| main.py | {base:,.0f} | 1.00 | {val[-1]} | {test[-1]} | {wall('main_py'):.0f} |")
for name in ("rnnlab_32", "rnnlab_bf16", "rnnlab_adaptive"):
    run = next(out.glob(f"{name}-*"), None)
    if run is None:  # bf16 on a CPU without native bfloat16
        continue
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    tps = [float(r["tokens_per_s"]) for r in rows if r.get("tokens_per_s")]
    speed = sum(tps) / len(tps)
    s = json.loads((run / "summary.json").read_text())
    v = [float(r["val_ppl"]) for r in rows if r.get("val_ppl")][-1]
    print(f"| {name} | {speed:,.0f} | {speed / base:.2f} | {v:.2f} | "
          f"{s['test']['ppl']:.2f} | {wall(name):.0f} |")
PY
