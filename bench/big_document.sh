#!/usr/bin/env bash
# Peak memory of one huge document checked online (issue 10): does it
# stay bounded while nothing has answered yet?
#
#   bash bench/big_document.sh            # BIN=target/release/archive
#   BIN=/tmp/archive-old bash bench/big_document.sh
#
# Writes one Markdown document of N image links (default 200,000) on
# `dead.test`, plus one link on `live.test`, first (FIRST) or last (LAST),
# and checks it with
#
#   archive --check --no-cache --config CONF --format json --report FILE DIR
#
# measured by GNU time (peak RSS). `live.test` is resolved (`[resolve]`)
# to a local Python HTTP server serving a small JPEG; `dead.test` to
# either
#
# * a black hole (MODE=hole, the default): a listener that never accepts,
#   its backlog filled, so connects hang until `connect_timeout` (50 ms):
#   the transport failures of a machine cut off, which the outage judge
#   must hold back from the state database until a host answers; or
# * a closed port (MODE=refused): connections refused.
#
# CONF: concurrency and per-host concurrency 256, rate 10,000/s, one try,
# loopback allowed, a store in the scratch folder, emptied before each run.
# Prints one line per order: `ORDER peak_rss_kb wall_s exit`.
#
# Environment: N (200000), MODE (hole), ORDERS ("first last"), BIN,
# BENCH_DIR (/tmp/archive-bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-200000}
MODE=${MODE:-hole}
ORDERS=${ORDERS:-first last}
BIN=${BIN:-$PWD/target/release/archive}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}

[[ -x /usr/bin/time ]] || { apt-get update >&2 && apt-get install -y time >&2; }
[[ -x $BIN ]] || cargo build --release --bin archive >&2
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/bigdoc.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The live server: a 1x1 JPEG at /live.jpg.
mkdir -p "$WORK/www"
printf '\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9' >"$WORK/www/live.jpg"
# The black hole (or nothing, for refused): prints its port.
python3 - "$WORK" "$MODE" <<'PY' &
import http.server, os, socket, sys, threading, time
work, mode = sys.argv[1], sys.argv[2]
os.chdir(os.path.join(work, "www"))
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
live = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
dead_port = hole.getsockname()[1]
if mode == "hole":
    hole.listen(0)
    filled = []
    for _ in range(8):
        s = socket.socket(); s.settimeout(0.1)
        try: s.connect(("127.0.0.1", dead_port)); filled.append(s)
        except OSError: pass
else:
    hole.close()  # nothing listens: refused
with open(os.path.join(work, "ports"), "w") as f:
    f.write(f"{live.server_address[1]} {dead_port}\n")
live.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 100); do [[ -s $WORK/ports ]] && break; sleep 0.1; done
read -r LIVE DEAD <"$WORK/ports"

for order in $ORDERS; do
    mkdir -p "$WORK/corpus-$order"
    python3 - "$N" "$order" >"$WORK/corpus-$order/big.md" <<'PY'
import sys
n, order = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
live = "![live](http://live.test/live.jpg)\n\n"
if order == "first": out.write(live)
for i in range(n):
    out.write(f"![{i}](http://dead.test/img/{i}.jpg)\n\n")
if order == "last": out.write(live)
PY
    cat >"$WORK/config.toml" <<EOF
[check]
allow_private = true
concurrency = 256
per_host_concurrency = 256
rate_limit = 10000.0
burst = 1000
max_tries = 1
connect_timeout = 0.05
timeout = 5.0
use_head = false
[store]
path = "$WORK/store"
min_free_bytes = 0
[resolve]
"live.test" = "127.0.0.1:$LIVE"
"dead.test" = "127.0.0.1:$DEAD"
EOF
    rm -rf "$WORK/store"
    start=$(date +%s.%N)
    set +e
    /usr/bin/time -v -o "$WORK/time" "$BIN" --check --no-cache --config "$WORK/config.toml" \
        --format json --report "$WORK/report.json" "$WORK/corpus-$order" 2>"$WORK/stderr"
    code=$?
    set -e
    end=$(date +%s.%N)
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time")
    awk -v o="$order" -v r="$rss" -v s="$start" -v e="$end" -v c="$code" \
        'BEGIN { printf "%s %s %.1f %s\n", o, r, e - s, c }'
done
