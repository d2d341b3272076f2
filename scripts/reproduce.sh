#!/usr/bin/env bash
# Reproduce every textbook experiment of the shipped configs and write a results page:
# d2l 8.5 / 9.1-9.4 on The Time Machine, d2l-zh 6.4 (random and consecutive) / 6.5 / 6.7 /
# 6.8 (scratch and concise), deep (2 and 6 layers) and bidirectional on the Jay Chou lyrics,
# nndl 6.1-6.5 DigitSum accuracy against length (4 sweeps), nndl 6.2 gradient explosion
# and clipping, d2l 16.2 IMDB sentiment.
#
#   scripts/reproduce.sh [--quick] [--dry-run] [--out DIR] [--md FILE]
#
# Full mode trains the configs as shipped (about an hour on 2 CPU cores, before the seven
# Jay Chou configs were added; the 6-layer LSTM is the longest of them) into
# runs/reproduce/ and writes docs/results.md with its plots in docs/img/results/.
# --quick overrides the epochs down (Time Machine and Jay Chou 10 epochs, DigitSum lengths
# 5 and 10 at 20 epochs, IMDB 1 epoch of reviews cut to 100 tokens) to check the whole
# pipeline in a few minutes; it writes runs/reproduce-quick/ and <out>/results.md, never
# docs/results.md unless --md says so.
# IMDB needs the full aclImdb/ folder: IMDB_PATH=/path/to/aclImdb, else the data directory's
# aclImdb/ ($RNNLAB_DATA_DIR); without it IMDB is skipped and results.md says so. Data
# generated or cached on the way goes to <out>/data (linking the data directory's files).
# Experiments run JOBS at a time (default: the number of cores), each with cores/JOBS
# torch threads (JOBS=1: one at a time with every core). Each experiment's wall time goes
# to <out>/times.tsv; a failed experiment is recorded there and the others go on (the
# script then exits 1). --dry-run prints the rnnlab commands, inspect_demo.sh's included,
# one a line, and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# All in a function, which bash reads whole before running: editing this file during an
# hour-long reproduction cannot change what the running one does.
main() {

    quick=0
    dry=0
    out=""
    md=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --quick) quick=1 ;;
            --dry-run) dry=1 ;;
            --out) out="$2"; shift ;;
            --md) md="$2"; shift ;;
            -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
            *) echo "reproduce.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
    if [[ $quick == 1 ]]; then
        out=${out:-runs/reproduce-quick}
        md=${md:-$out/results.md}
    else
        out=${out:-runs/reproduce}
        md=${md:-docs/results.md}
    fi
    if [[ -z "${RNNLAB_DATA_DIR:-}" && -d ../shared/data ]]; then
        export RNNLAB_DATA_DIR="$PWD/../shared/data"
    fi
    shared=${RNNLAB_DATA_DIR:-$HOME/.cache/rnnlab}
    imdb=${IMDB_PATH:-$shared/aclImdb}
    if [[ $dry == 0 && -e "$out/times.tsv" ]]; then
        echo "reproduce.sh: $out already holds a reproduction; give another --out" >&2
        exit 2
    fi
    [[ $dry == 1 ]] || mkdir -p "$out"
    # Generated DigitSum data and tokenised caches go to $out/data, which links the data
    # directory's files: a shared (read-only) data directory is never written to.
    [[ $dry == 1 ]] || mkdir -p "$out/data"
    if [[ $dry == 0 && -d "$shared" ]]; then
        for item in "$shared"/*; do
            case "$(basename "$item")" in digitsum|cache) continue ;; esac
            if [[ -e "$item" ]]; then ln -sfn "$(realpath "$item")" "$out/data/"; fi
        done
    fi
    RNNLAB_DATA_DIR=$(realpath -m "$out/data")
    export RNNLAB_DATA_DIR

    # Overrides of the quick mode; empty in full mode (the configs as shipped).
    lm=() digitsum=() gradients=() imdb_args=()
    if [[ $quick == 1 ]]; then
        lm=(train.epochs=10 train.eval_every=5 train.sample_every=5)
        digitsum=(--grid data.length=5,10 train.epochs=20)
        gradients=(train.epochs=10)
        imdb_args=(train.epochs=1 data.max_len=100)
    fi

    [[ $dry == 1 ]] || printf 'experiment\tkind\tconfig\tstatus\twall_s\tfolder\n' >"$out/times.tsv"
    started=$(date +%s.%N)
    date_started=$(date -u '+%Y-%m-%d %H:%M UTC')
    # Experiments run $JOBS at a time (default: one per core), each with cores/JOBS torch
    # threads: on 2 busy cores two 1-thread runs do more work than one 2-thread run.
    cores=$(nproc)  # before OMP_NUM_THREADS is set: nproc honours it
    jobs=${JOBS:-$cores}
    threads=$((cores / jobs > 0 ? cores / jobs : 1))
    export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads

    # run NAME KIND(train|sweep) CONFIG [ARGS...]: one experiment into $out/NAME, timed.
    run() {
        local name=$1 kind=$2 config=$3 status=finished t0 t1 folder
        shift 3
        if [[ $dry == 1 ]]; then
            echo "rnnlab $kind configs/$config.yaml $* --out $out/$name"
            return
        fi
        echo "== $name: rnnlab $kind configs/$config.yaml $*"
        t0=$(date +%s.%N)
        if ! python -m rnnlab "$kind" "configs/$config.yaml" "$@" --out "$out/$name" \
            >"$out/$name.log" 2>&1; then
            status=failed
            tail -n 3 "$out/$name.log" >&2
        fi
        t1=$(date +%s.%N)
        # (none when the experiment died before making its folder)
        folder=$(find "$out/$name" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -n 1 || true)
        printf '%s\t%s\t%s\t%s\t%.1f\t%s\n' "$name" "$kind" "$config" "$status" \
            "$(echo "$t1 - $t0" | bc)" "$folder" >>"$out/times.tsv"
        echo "   $name $status in $(echo "$t1 - $t0" | bc | cut -d. -f1) s"
    }

    # start ARGS...: `run ARGS...` in the background once fewer than $jobs are running.
    start() {
        if [[ $dry == 1 ]]; then run "$@"; return; fi
        while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
            wait -n || true
        done
        run "$@" &
    }

    if [[ -e "$imdb" ]]; then
        start imdb_bilstm train imdb_bilstm "data.path=$imdb" "${imdb_args[@]}" --quiet
    else
        echo "== imdb_bilstm: skipped, no full IMDB at $imdb (set IMDB_PATH=/path/to/aclImdb)"
        [[ $dry == 1 ]] || printf 'imdb_bilstm\ttrain\timdb_bilstm\tskipped: no full IMDB at %s\t0\t\n' "$imdb" \
            >>"$out/times.tsv"
    fi
    start srn_explosion train srn_explosion "${gradients[@]}" --quiet
    start srn_clip train srn_clip "${gradients[@]}" --quiet
    # Cheaper and core experiments first, so that a reproduction cut short has the most.
    for config in gru_timemachine lstm_timemachine rnn_timemachine digitsum_srn digitsum_lstm \
        rnn_jaychou gru_jaychou lstm_jaychou deep_lstm_timemachine digitsum_srn_residual \
        digitsum_gru gru_scratch_timemachine lstm_scratch_timemachine bilstm_timemachine \
        rnn_concise_jaychou gru_concise_jaychou lstm_concise_jaychou deep_lstm2_jaychou \
        bigru_jaychou rnn_sequential_jaychou deep_lstm6_jaychou; do
        if [[ $config == digitsum_* ]]; then
            # the sweep's own workers share this experiment's threads
            start "$config" sweep "$config" --workers "$threads" "${digitsum[@]}"
        else
            start "$config" train "$config" "${lm[@]}" --quiet
        fi
    done
    wait
    if [[ $dry == 1 ]]; then
        scripts/inspect_demo.sh --dry-run --out "$out/inspect" $([[ $quick == 1 ]] && echo --quick)
        return
    fi

    total=$(echo "$(date +%s.%N) - $started" | bc)
    {
        printf 'mode\t%s\n' "$([[ $quick == 1 ]] && echo quick || echo full)"
        printf 'started\t%s\n' "$date_started"
        printf 'total_s\t%.0f\n' "$total"
        printf 'cores\t%s\n' "$cores"
        printf 'jobs\t%s\n' "$jobs"
        printf 'threads\t%s\n' "$threads"
        printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
    } >"$out/meta.tsv"
    python scripts/results_md.py "$out" --out "$md"
    # rnnlab inspect's pictures (docs/inspect.md): its own short trainings, then inspect
    scripts/inspect_demo.sh --out "$out/inspect" $([[ $quick == 1 ]] && echo --quick)
    echo "total $(printf '%.0f' "$total") s; results: $md"
    if awk -F'\t' '$4 == "failed" {f = 1} END {exit !f}' "$out/times.tsv"; then
        exit 1
    fi
}

main "$@"; exit  # one line: bash has read it whole before main runs
