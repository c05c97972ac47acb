#!/usr/bin/env bash
# Peak memory of the report sinks (issue 9): does anything grow with the
# corpus once metrics and the dashboard no longer re-read the report?
#
#   bash bench/sinks_rss.sh
#
# On a generated corpus of N articles (default 20,000, the seeds' mix of
# bench/gen_corpus.rs), measures with GNU time the peak RSS of
#
#   archive --check --offline --format json --report FILE DIR
#   archive --check --offline --format json --report FILE --prom-file P DIR
#
# and, for the daemon, VmHWM and VmRSS (from /proc) once its first run has
# finished, with `check.offline = true` so no network is needed: with
# its default document cache (`daemon.document_cache_mb = 32`) and with
# none (0). An older build has no such key: it is measured once. With
# BASE=<older archive binary> the same rows are measured for it too (an
# older build may need the report in a file for --prom-file: it is).
#
# Environment: N (20000), SEED (1), REPEAT (3), BENCH_DIR
# (/tmp/archive-bench), BASE (unset), IDLE_WAIT (0).
# shellcheck disable=SC2154
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-20000}
SEED=${SEED:-1}
REPEAT=${REPEAT:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}
IDLE_WAIT=${IDLE_WAIT:-0}
BASE=${BASE:-}

[[ -x /usr/bin/time ]] || { apt-get update >&2 && apt-get install -y time >&2; }
command -v curl >/dev/null || { apt-get update >&2 && apt-get install -y curl >&2; }
log "building release binaries"
cargo build --release --bins >&2
ARCHIVE=$PWD/target/release/archive
GEN=$PWD/target/release/archive-gen-corpus
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/sinks.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CORPUS=$(corpus_dir "$GEN" "$N" "$SEED")

# cli BIN LABEL [--prom-file]: peak RSS (KiB) of an offline check.
cli() {
    local bin=$1 label=$2 i
    shift 2
    run_init R
    for ((i = 0; i < REPEAT; i++)); do
        run_once R "$label" "0 1" "$bin" --check --offline --format json \
            --config /dev/null --report "$WORK/report.json" "$@" "$CORPUS"
    done
    printf '%s' "$R_rss_kb"
}

# daemon BIN [CACHE_MB]: "VmHWM VmRSS" (KiB) after the daemon's first run.
daemon() {
    local bin=$1 cache=${2:-} port pid i
    port=$(( (RANDOM % 20000) + 30000 ))
    rm -rf "$WORK/store" "$WORK/daemon-report.json"
    cat >"$WORK/daemon.toml" <<TOML
[corpus]
paths = ["$CORPUS"]
[check]
offline = true
[daemon]
listen = "127.0.0.1:$port"
interval_secs = 3600.0
watch = false
${cache:+document_cache_mb = $cache}
[store]
path = "$WORK/store"
[report]
path = "$WORK/daemon-report.json"
TOML
    "$bin" daemon --config "$WORK/daemon.toml" 2>"$WORK/daemon.log" &
    pid=$!
    for ((i = 0; i < 600; i++)); do
        [[ -s "$WORK/daemon-report.json" ]] && curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break
        sleep 0.5
    done
    sleep 1
    awk '/VmHWM|VmRSS/ { printf "%s ", $2 }' "/proc/$pid/status"
    kill -TERM "$pid"
    wait "$pid" || true
}

row() {
    local bin=$1 name=$2 plain prom d0 d32
    plain=$(cli "$bin" "$name: report" )
    prom=$(cli "$bin" "$name: report + --prom-file" --prom-file "$WORK/metrics.prom")
    if [[ "$bin" == "$BASE" ]]; then
        d32=$(daemon "$bin")
        d0="- -"
    else
        d32=$(daemon "$bin" 32)
        d0=$(daemon "$bin" 0)
    fi
    read -r hwm rss <<<"$d32"
    read -r hwm0 _ <<<"$d0"
    mib() { [[ "$1" == - ]] && printf -- - || printf '%d' "$(($1 / 1024))"; }
    printf '| %s | %d | %d | %+d | %s | %s | %s |\n' "$name" "$((plain / 1024))" "$((prom / 1024))" \
        "$(( (prom - plain) / 1024 ))" "$(mib "$hwm")" "$(mib "$rss")" "$(mib "$hwm0")"
}

printf '\nCorpus: %s articles (seed %s), `%s`\n\n' "$N" "$SEED" "$CORPUS"
printf '| build | check, peak RSS MiB | check + --prom-file, peak RSS MiB | difference MiB | daemon after its run, document cache 32 MiB (base: unbounded): VmHWM MiB | VmRSS MiB | daemon, no document cache: VmHWM MiB |\n'
printf '|---|---|---|---|---|---|---|\n'
[[ -n "$BASE" ]] && row "$BASE" "base ($BASE)"
row "$ARCHIVE" "this build"
