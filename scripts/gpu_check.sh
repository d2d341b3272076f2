#!/usr/bin/env bash
# Every GPU measurement of docs/performance.md in one call, for the device machine (its
# python3 holds a CUDA PyTorch; rnnlab's other needs are there too, see the device notes):
#
#   bash scripts/gpu_check.sh OUT_DIR        (~8 min on one H200)
#
# 1. the CUDA tests: the whole suite but the slow/Ray ones, with the device forced to
#    CUDA (every test config says `device: auto`, which picks CUDA where it exists);
# 2. scripts/bench_train.py on CUDA at 32, bf16 and 16-mixed (builtin, scratch, compiled);
# 3. scripts/bench_cells.py --device cuda at hidden 256 and 1024 (scratch vs cuDNN);
# 4. determinism: two runs of tiny.yaml with train.deterministic=true, weights compared;
# 5. dynamic evaluation on CUDA (cuDNN off inside it) against the same on the CPU.
# Writes logs and JSON rows into OUT_DIR; nothing else leaves the machine.
set -uo pipefail
OUT="${1:?give an output folder}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export RNNLAB_DATA_DIR="${RNNLAB_DATA_DIR:-$PWD/shared/data}"
python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.get_device_name(0))" | tee "$OUT/versions.txt"
timeout 180 python3 -m pytest -q -x -p no:cacheprovider -m "not ray" tests 2>&1 | tail -30 | tee "$OUT/pytest_cuda.log"
for p in 32 bf16 16-mixed; do
  timeout 120 python3 scripts/bench_train.py --device cuda --precision "$p" --steps 100 --warmup 20 \
    --configs gru_timemachine,lstm_timemachine,rnn_timemachine,digitsum_lstm,imdb_bilstm \
    --write "$OUT/performance_cuda.md" > "$OUT/bench_train_$p.jsonl" 2>&1
done
timeout 120 python3 scripts/bench_cells.py --device cuda --shapes 256x32,1024x64 > "$OUT/bench_cells_cuda.txt" 2>&1
for i in 1 2; do
  timeout 60 python3 -m rnnlab train configs/tiny.yaml device=cuda train.deterministic=true --quiet --run-dir "/tmp/det$i" > /dev/null 2>&1
done
python3 - <<'PY' | tee "$OUT/determinism.txt"
import torch
a = torch.load("/tmp/det1/checkpoints/last.pt", weights_only=True)["model"]
b = torch.load("/tmp/det2/checkpoints/last.pt", weights_only=True)["model"]
print("deterministic CUDA runs bit-identical:", all(torch.equal(a[k], b[k]) for k in a))
PY
for d in cuda cpu; do
  timeout 60 python3 -m rnnlab evaluate /tmp/det1 --dynamic --device "$d" 2>&1 | tee -a "$OUT/dynamic_eval.txt"
done
