#!/usr/bin/env bash
# Variables named through `printf -v` (R_*) are set by run_once().
# shellcheck disable=SC2154
#
# S3 backend ingest benchmark (issue 12): the same bodies stored into the
# local directory backend and into a bucket of moto's S3 server, both on
# 127.0.0.1.
#
#   bash bench/s3_ingest.sh
#
# Sets of random "JPEG" files (FF D8 FF E0 … FF D9), served by
# `python3 -m http.server` from 127.0.0.1:
#   small  512 x 64 KiB   (32 MiB)
#   large  4 x 64 MiB     (256 MiB; multipart uploads of 8 MiB parts)
#   giant  1 x 1 GiB      (peak RSS: memory must not grow with the object)
# For each set and backend, REPEAT times (fastest time, largest RSS kept):
#
#   archive --check --no-cache --config CONF --format json --report FILE
#
# into a fresh store folder (local: objects in it; s3: a fresh bucket,
# `store.url = "s3://BUCKET/bench"`, path-style, allow_http), then checks,
# untimed, that the store holds one object per file. moto keeps objects in
# its own memory (Python): its speed, not archive's, bounds the s3 rows.
#
# Environment: SETS (default "small large giant"), BENCH_DIR (default
# /tmp/archive-s3-bench), REPEAT (default 2), IDLE_WAIT (default 0),
# ARCHIVE (default: cargo build --release, target/release/archive).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SETS=${SETS:-"small large giant"}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-s3-bench}
REPEAT=${REPEAT:-2}
IDLE_WAIT=${IDLE_WAIT:-0}
WORK=$BENCH_DIR/work
mkdir -p "$WORK" "$BENCH_DIR/sets"

command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'
[[ -x /usr/bin/time ]] || { apt-get update >&2 && apt-get install -y time >&2; }
if [[ -z "${ARCHIVE:-}" ]]; then
    cargo build --release --bin archive >&2
    ARCHIVE=${CARGO_TARGET_DIR:-$PWD/target}/release/archive
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

spec_of() {
    case $1 in
    small) echo "512 64" ;;
    large) echo "4 65536" ;;
    giant) echo "1 1048576" ;;
    *) log "unknown set $1"; exit 2 ;;
    esac
}

make_set() {
    local dir=$BENCH_DIR/sets/$1 spec
    spec=$(spec_of "$1")
    [[ -f "$dir/.complete" ]] && return 0
    log "generating set $1 ($spec)"
    rm -rf "$dir" && mkdir -p "$dir"
    python3 - "$dir" "$spec" <<'PY'
import os, sys
out, (count, kib) = sys.argv[1], sys.argv[2].split()
size = int(kib) * 1024
for i in range(int(count)):
    with open(os.path.join(out, f"{kib}k-{i:05d}.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0")
        left = size - 6
        while left > 0:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n
        f.write(b"\xff\xd9")
PY
    touch "$dir/.complete"
}

HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$BENCH_DIR/sets" "$HTTP_PORT" >/dev/null 2>&1 &
HTTP_PID=$!
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
MOTO_PID=$!
trap 'kill $HTTP_PID $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$MOTO_PORT/" && break
    sleep 0.2
done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench

# s3_count BUCKET: objects under bench/sha256/ in BUCKET.
s3_count() {
    curl -s "http://127.0.0.1:$MOTO_PORT/$1?list-type=2&prefix=bench/sha256/&max-keys=1000" |
        grep -o '<Key>' | wc -l
}

RUN=0
printf '| set | backend | files | MiB | seconds | MiB/s | peak RSS MiB | CPU %% |\n|---|---|---:|---:|---:|---:|---:|---:|\n'
for set in $SETS; do
    make_set "$set"
    files=$(find "$BENCH_DIR/sets/$set" -name '*.jpg' | wc -l)
    bytes=$(find "$BENCH_DIR/sets/$set" -name '*.jpg' -printf '%s\n' | awk '{ s += $1 } END { print s }')
    doc=$WORK/corpus-$set
    rm -rf "$doc" && mkdir -p "$doc"
    find "$BENCH_DIR/sets/$set" -name '*.jpg' -printf "![x](http://bench.local:$HTTP_PORT/$set/%f)\n" >"$doc/index.md"
    for backend in local s3; do
        run_init R
        for _ in $(seq "$REPEAT"); do
            RUN=$((RUN + 1))
            store=$WORK/store-$RUN
            rm -rf "$store"
            extra=""
            if [[ $backend == s3 ]]; then
                bucket=bench-$RUN
                curl -s -X PUT "http://127.0.0.1:$MOTO_PORT/$bucket" >/dev/null
                extra="url = \"s3://$bucket/bench\"
[store.s3]
endpoint = \"http://127.0.0.1:$MOTO_PORT\"
allow_http = true"
            fi
            cat >"$WORK/config.toml" <<EOF
[corpus]
paths = ["$doc"]
[check]
allow_private = true
rate_limit = 10000.0
burst = 10000
concurrency = 8
per_host_concurrency = 8
max_tries = 1
timeout = 600.0
max_body_size = 2147483648
[store]
path = "$store"
min_free_bytes = 0
$extra
[report]
path = ""
[resolve]
"bench.local" = "127.0.0.1:$HTTP_PORT"
EOF
            sync
            run_once R "$set/$backend" "0" "$ARCHIVE" --check --no-cache --config "$WORK/config.toml" --format json
            if [[ $backend == s3 ]]; then
                got=$(s3_count "$bucket")
            else
                got=$(find "$store/sha256" -type f 2>/dev/null | wc -l)
            fi
            [[ "$got" == "$files" ]] || log "WARNING: $set/$backend stored $got objects, not $files"
            rm -rf "$store"
        done
        awk -v set="$set" -v b="$backend" -v f="$files" -v bytes="$bytes" -v s="$R_secs" \
            -v rss="$R_rss_kb" -v cpu="$R_cpu" -v failed="$R_failed" 'BEGIN {
            mib = bytes / 1048576
            if (failed != "") { printf "| %s | %s | %d | %.0f | failed (%s) | | | |\n", set, b, f, mib, failed; exit }
            printf "| %s | %s | %d | %.0f | %.3f | %.1f | %.1f | %s |\n", set, b, f, mib, s, mib / s, rss / 1024, cpu }'
    done
done
