#!/usr/bin/env bash
# B_* and N_* are set by run_once() through `printf -v`.
# shellcheck disable=SC2154
#
# Two builds of archive side by side on the same corpus, in one run:
# did a change make the offline check slower or fatter?
#
#   BASE=/path/to/old/archive bash bench/compare.sh
#
# NEW defaults to this tree's release binary (built here). Generates the
# synthetic corpus of bench/gen_corpus.rs at each size and times, for
# each binary, alternating run by run:
#
#   default  archive --check --offline --config /dev/null DIR
#            (text summary on stdout, report to its default file)
#   json     archive --check --offline --format json --report /dev/null
#            --config /dev/null DIR
#
# Prints a Markdown table: fastest wall time of REPEAT runs, its CPU-seconds
# (robust to a busy neighbour), largest peak RSS, and NEW/BASE ratios (base
# / new; > 1: new is faster or cheaper).
#
# Environment: BASE (required), NEW, SIZES (default "10000 100000"),
# REPEAT (default 3), SEED (default 1), BENCH_DIR (default
# /tmp/archive-bench), IDLE_WAIT (default 60).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BASE=${BASE:?set BASE to the archive binary to compare against}
SIZES=${SIZES:-"10000 100000"}
REPEAT=${REPEAT:-3}
SEED=${SEED:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}
IDLE_WAIT=${IDLE_WAIT:-60}

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get update >&2 && apt-get install -y time >&2
fi
cargo build --release --bins >&2
NEW=${NEW:-$PWD/target/release/archive}
GEN=$PWD/target/release/archive-gen-corpus

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

printf '| N docs | command | base s | new s | new/base speed | base CPU-s | new CPU-s | new/base CPU | base RSS MiB | new RSS MiB |\n'
printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for n in $SIZES; do
    dir=$(corpus_dir "$GEN" "$n" "$SEED")
    find "$dir" -type f -print0 | xargs -0 cat >/dev/null
    for command in default json; do
        run_init B
        run_init N
        for ((i = 1; i <= REPEAT; i++)); do
            for who in B N; do
                bin=$BASE
                [[ $who == N ]] && bin=$NEW
                if [[ $command == default ]]; then
                    cd "$WORK"
                    run_once "$who" "$who $command $i" "0 1" "$bin" --check --offline \
                        --config /dev/null "$dir"
                    cd - >/dev/null
                else
                    run_once "$who" "$who $command $i" "0 1" "$bin" --check --offline \
                        --format json --report /dev/null --config /dev/null "$dir"
                fi
            done
        done
        # CPU-seconds of the fastest run: robust to a busy neighbour.
        awk -v n="$n" -v c="$command" -v b="$B_secs" -v w="$N_secs" -v br="$B_rss_kb" \
            -v nr="$N_rss_kb" -v bc="$B_cpu" -v nc="$N_cpu" 'BEGIN {
            bs = b * bc / 100; ns = w * nc / 100
            printf "| %d | %s | %.3f | %.3f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |\n", n, c, b, w, b / w, bs, ns, bs / ns, br / 1024, nr / 1024 }'
    done
done
