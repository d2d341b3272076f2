#!/usr/bin/env bash
# The pictures of docs/inspect.md: short trainings of shipped configs, then `rnnlab inspect`.
#
#   scripts/inspect_demo.sh [--quick] [--dry-run] [--out DIR] [--img DIR]
#
# Trains (fewer epochs than shipped, said so on the page): the DigitSum SRN, residual SRN
# and LSTM at length 35 (200 epochs), srn_explosion and srn_clip (as shipped, 50 epochs),
# the character LSTM on The Time Machine (200 epochs), every one with
# train.log_grad_flow=true, into DIR (default runs/inspect-demo), then inspects them and
# copies the PNGs into --img (default docs/img/inspect). --quick: 10 epochs each, PNGs
# into DIR/img (a pipeline check, not the page's pictures). About 20 minutes on 2 cores.
# --dry-run: print the rnnlab commands, one a line, and run nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

out=runs/inspect-demo
img=""
quick=0
dry=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --dry-run) dry=1 ;;
        --out) out="$2"; shift ;;
        --img) img="$2"; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "inspect_demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
long=200 short=()
if [[ $quick == 1 ]]; then
    long=10 short=(train.epochs=10)
    img=${img:-$out/img}
fi
img=${img:-docs/img/inspect}
[[ $dry == 1 ]] || mkdir -p "$out" "$img"

train() {  # train NAME CONFIG OVERRIDES...: one run at exactly $out/NAME
    local name=$1 config=$2
    shift 2
    if [[ $dry == 1 ]]; then
        echo "rnnlab train configs/$config.yaml $* train.log_grad_flow=true --run-dir $out/$name"
    elif [[ ! -d "$out/$name" ]]; then
        echo "== train $name: configs/$config.yaml $*"
        python -m rnnlab train "configs/$config.yaml" "$@" train.log_grad_flow=true \
            --run-dir "$out/$name" --quiet
    fi
}

inspect() {  # inspect ARGS...: rnnlab inspect, its summary lines shown
    if [[ $dry == 1 ]]; then
        echo "rnnlab inspect $*"
        return
    fi
    echo "== rnnlab inspect $*"
    python -m rnnlab inspect "$@"
}

for config in digitsum_srn digitsum_srn_residual digitsum_lstm; do
    train "$config" "$config" data.length=35 train.epochs=$long
done
train srn_explosion srn_explosion "${short[@]}"
train srn_clip srn_clip "${short[@]}"
train lstm_timemachine lstm_timemachine train.epochs=$long

inspect "$out/digitsum_srn" "$out/digitsum_srn_residual" "$out/digitsum_lstm" --grad-flow \
    --out "$out/digitsum35"
inspect "$out/digitsum_lstm"
inspect "$out/srn_explosion" "$out/srn_clip" --grad-flow --checkpoint last --out "$out/explosion"
inspect "$out/lstm_timemachine"
[[ $dry == 0 ]] || exit 0

cp "$out/digitsum35/grad_flow.png" "$img/digitsum35_grad_flow.png"
cp "$out/digitsum_lstm/inspect/gates.png" "$img/digitsum_lstm_gates.png"
for name in digitsum_srn srn_explosion srn_clip; do
    cp "$out/$name/plots/grad_flow.png" "$img/${name}_training_grad_flow.png"
done
cp "$out/explosion/grad_flow.png" "$img/explosion_grad_flow.png"
for what in grad_flow gates units; do
    cp "$out/lstm_timemachine/inspect/$what.png" "$img/lstm_timemachine_$what.png"
done
if command -v chromium >/dev/null; then  # a picture of the page, where Chromium is installed
    profile=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --no-first-run --user-data-dir="$profile" --window-size=1100,800 \
        --screenshot="$img/lstm_timemachine_units_page.png" \
        "file://$(realpath "$out/lstm_timemachine/inspect/units.html")" 2>/dev/null
    rm -rf "$profile"
fi
echo "pictures: $img; the units page: $out/lstm_timemachine/inspect/units.html"
