#!/usr/bin/env bash
# Variables named through `printf -v` (A_*, S_*, O_*, C_*) are set by run_once().
# shellcheck disable=SC2154
#
# Media store ingest throughput benchmark (issue 4).
#
#   bash bench/ingest.sh
#
# Generates sets of random "JPEG" files (FF D8 FF E0 … FF D9, random bytes
# between, so that archive sniffs them as images, finds their end marker and
# stores them), serves them from 127.0.0.1 with nginx (python3 -m http.server
# when nginx cannot be had), and times, on each set:
#
#   archive --check --no-cache --config CONF --format json --report FILE
#
# over a Markdown corpus with one `![x](http://bench.local:PORT/SET/F.jpg)`
# per file, into a fresh, empty store each run (so every byte is
# downloaded, sniffed, hashed, written and fsynced), next to
#
#   sha256sum FILES              (GNU coreutils: portable C, no SHA-NI)
#   openssl dgst -sha256 FILES   (SHA-NI / AVX2 when the CPU has them)
#   cat FILES                    (raw read speed from the page cache)
#
# on the same bytes, stdout to /dev/null, page cache warm. Prints a
# Markdown table on stdout; progress goes to stderr. Each archive run is
# checked, untimed: every link must be `ok`, the store must hold exactly one
# object per file, named by that file's sha256 (as computed by sha256sum),
# whose bytes hash to its name; else a WARNING is printed.
#
# Sets:
#   mixed  1 GiB: 2048 x 64 KiB, 128 x 1 MiB, 16 x 16 MiB, 8 x 64 MiB
#   large  1 GiB: 16 x 64 MiB
#   small  256 MiB: 4096 x 64 KiB
#   huge   1 GiB: 4 x 256 MiB
# (small, large and huge: peak RSS as file sizes grow 4096-fold)
#
# Environment:
#   SETS       sets to run, in order      (default: "small mixed large huge")
#   BENCH_DIR  where sets and stores live (default: /tmp/archive-ingest);
#              sets already generated there are reused
#   REPEAT     timed runs per tool and set; the fastest time and the largest
#              peak RSS are reported (default: 3)
#   IDLE_WAIT  before each timed run, wait up to this many seconds for the
#              machine to be idle (< 10% CPU busy over 1 s); 0 disables
#              (default: 120)
#   ARCHIVE    archive binary; when unset, `cargo build --release --bin
#              archive` is run and ${CARGO_TARGET_DIR:-target}/release/archive
#              used
#   SERVER     nginx or python (default: nginx if installed or installable)
#   KEEP_SETS  1 keeps the generated files at exit (default: 1)
#   OPENSSL    openssl binary for the second hash yardstick (default: on
#              PATH; OPENSSL=none skips it)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SETS=${SETS:-"small mixed large huge"}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-ingest}
REPEAT=${REPEAT:-3}
IDLE_WAIT=${IDLE_WAIT:-120}
SERVER=${SERVER:-}
KEEP_SETS=${KEEP_SETS:-1}
OPENSSL=${OPENSSL:-$(command -v openssl || true)}
[[ "$OPENSSL" == none ]] && OPENSSL=""


# GiB free under a folder.
free_gib() { df -P -k "$1" | awk 'NR == 2 { printf "%.1f", $4 / 1048576 }'; }

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get update >&2 && apt-get install -y time >&2
fi

if [[ -z "${ARCHIVE:-}" ]]; then
    log "building the release binary"
    cargo build --release --bin archive >&2
    ARCHIVE=${CARGO_TARGET_DIR:-$PWD/target}/release/archive
fi
[[ -x "$ARCHIVE" ]] || { log "no archive binary at $ARCHIVE"; exit 2; }

mkdir -p "$BENCH_DIR"
log "free space under $BENCH_DIR: $(free_gib "$BENCH_DIR") GiB (the four sets + one store need about 4.5 GiB)"
if awk -v f="$(free_gib "$BENCH_DIR")" 'BEGIN { exit !(f < 5) }'; then
    log "less than 5 GiB free under $BENCH_DIR; set BENCH_DIR elsewhere"
    exit 2
fi

WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    if [[ "$KEEP_SETS" != 1 ]]; then
        rm -rf "$BENCH_DIR/sets"
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- the sets

# set_spec SET: "COUNT KIB" lines.
set_spec() {
    case $1 in
        mixed) printf '%s\n' "2048 64" "128 1024" "16 16384" "8 65536" ;;
        large) printf '%s\n' "16 65536" ;;
        small) printf '%s\n' "4096 64" ;;
        huge) printf '%s\n' "4 262144" ;;
        *) log "unknown set $1 (mixed, large, small, huge)"; exit 2 ;;
    esac
}

# gen_set SET: writes $BENCH_DIR/sets/SET/*.jpg unless already complete.
gen_set() {
    local set=$1 dir=$BENCH_DIR/sets/$1 spec
    spec=$(set_spec "$set" | tr '\n' ' ')
    if [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$spec" ]]; then
        log "reusing $dir"
        return 0
    fi
    log "generating set $set ($spec) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 - "$dir" "$spec" <<'EOF'
import os, sys
out, spec = sys.argv[1], sys.argv[2].split()
i = 0
for count, kib in zip(spec[0::2], spec[1::2]):
    size = int(kib) * 1024
    for _ in range(int(count)):
        # JPEG SOI + APP0 marker, random middle, EOI: sniffed as image/jpeg
        # and not truncated.
        body = b"\xff\xd8\xff\xe0" + os.urandom(size - 6) + b"\xff\xd9"
        with open(os.path.join(out, f"{kib}k-{i:05d}.jpg"), "wb") as f:
            f.write(body)
        i += 1
EOF
    chmod -R a+rX "$dir"
    printf '%s' "$spec" >"$dir/.complete"
}

# set_files SET: the set's files, sorted, NUL-separated.
set_files() {
    find "$BENCH_DIR/sets/$1" -maxdepth 1 -type f -name '*.jpg' -print0 | sort -z
}

set_bytes() {
    find "$BENCH_DIR/sets/$1" -maxdepth 1 -type f -name '*.jpg' -printf '%s\n' |
        awk '{ s += $1 } END { printf "%d\n", s }'
}

# --------------------------------------------------------------- the server

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_nginx() {
    local conf=$WORK/nginx
    mkdir -p "$conf/tmp" "$conf/logs"
    cat >"$conf/nginx.conf" <<EOF
worker_processes 1;
error_log $conf/logs/error.log warn;
pid $conf/nginx.pid;
events { worker_connections 1024; }
http {
    types { image/jpeg jpg jpeg; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_body_temp_path $conf/tmp/client;
    proxy_temp_path $conf/tmp/proxy;
    fastcgi_temp_path $conf/tmp/fastcgi;
    uwsgi_temp_path $conf/tmp/uwsgi;
    scgi_temp_path $conf/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $BENCH_DIR/sets;
        location / { }
    }
}
EOF
    nginx -t -q -e "$conf/logs/error.log" -c "$conf/nginx.conf" -p "$conf" >&2
    nginx -e "$conf/logs/error.log" -c "$conf/nginx.conf" -p "$conf" -g 'daemon off;' >&2 &
    SERVER_PID=$!
    SERVER_DESC="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), 1 worker, sendfile, keep-alive"
}

start_python() {
    python3 -m http.server --bind 127.0.0.1 --directory "$BENCH_DIR/sets" "$PORT" \
        >"$WORK/http.log" 2>&1 &
    SERVER_PID=$!
    SERVER_DESC="python3 -m http.server ($(python3 --version 2>&1)), HTTP/1.0, no keep-alive"
}

start_server() {
    PORT=$(free_port)
    if [[ -z "$SERVER" || "$SERVER" == nginx ]] && ! command -v nginx >/dev/null; then
        log "nginx missing; trying apt-get install -y nginx"
        { apt-get install -y nginx || { apt-get update && apt-get install -y nginx; }; } >&2 || true
    fi
    if [[ "$SERVER" != python ]] && command -v nginx >/dev/null; then
        start_nginx
    else
        start_python
    fi
    local probe=$1 i
    for ((i = 0; i < 100; i++)); do
        if curl -fsS -o "$WORK/probe" "http://127.0.0.1:$PORT/$probe" 2>/dev/null; then
            log "serving $BENCH_DIR/sets on 127.0.0.1:$PORT with $SERVER_DESC"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "the static server did not come up on 127.0.0.1:$PORT"
    exit 2
}

# ---------------------------------------------------------------- measuring


# wait_idle: waits (up to IDLE_WAIT s) until other work on the machine
# calms down, so that a compile next door does not count against a tool.



mark_failed() { printf -v "${1}_failed" '%s' "$2"; }
rate() { # rate MIB SECS -> MIB/SECS or NA
    awk -v n="$1" -v s="$2" 'BEGIN { if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.1f", n / s }'
}
ratio() { # ratio A B -> A/B or NA
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || a == "" || b == "" || b <= 0) print "NA"; else printf "%.2f", a / b }'
}
mib() { awk -v k="$1" 'BEGIN { if (k == "NA" || k == "") print "NA"; else printf "%.1f", k / 1024 }'; }

# write_config SET STORE REPORT: the corpus and config of one run.
write_config() {
    local set=$1 store=$2 report=$3 corpus=$WORK/$1.md f
    {
        echo "# ingest benchmark: set $set"
        echo
        while IFS= read -r -d '' f; do
            echo "![x](http://bench.local:$PORT/$set/${f##*/})"
        done < <(set_files "$set")
    } >"$corpus"
    cat >"$WORK/$set.toml" <<EOF
[corpus]
paths = ["$corpus"]

[check]
allow_private = true
rate_limit = 1000000.0
burst = 1000000
concurrency = 8
per_host_concurrency = 8
max_tries = 1
timeout = 600.0
max_body_size = 1073741824

[store]
path = "$store"
min_free_bytes = 0

[report]
path = "$report"

[resolve]
"bench.local" = "127.0.0.1:$PORT"
EOF
}

# check_run REPORT STORE FILES BYTES SUMS: every link ok and stored under
# its file's digest (SUMS: sha256sum output for the set), one object per
# file, every object's bytes hashing to its name; prints a one-line
# verdict, "ok" first when all is well.
check_run() {
    python3 - "$@" <<'EOF'
import hashlib, json, os, sys
report, store, files, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
expected = {}
for line in open(sys.argv[5]):
    digest, name = line.rstrip("\n").split("  ", 1)
    expected[os.path.basename(name)] = digest
problems = []
try:
    r = json.load(open(report))
except Exception as e:  # noqa: BLE001
    print(f"WARNING: no readable report ({e})")
    sys.exit(0)
links = r.get("links", [])
by_status = {}
for l in links:
    by_status[l["status"]] = by_status.get(l["status"], 0) + 1
if len(links) != files or by_status.get("ok", 0) != files:
    problems.append(f"{len(links)} links for {files} files, by status {by_status}")
    bad = [l for l in links if l["status"] != "ok"][:3]
    for l in bad:
        problems.append(f"  {l['status']} {l.get('reason')}: {l.get('message')} ({l.get('resolved') or l.get('url')})")
stored = [l for l in links if isinstance(l.get("store"), dict) and l["store"].get("sha256")]
errors = [l["store"]["error"] for l in links if isinstance(l.get("store"), dict) and l["store"].get("error")]
if len(stored) != files:
    problems.append(f"{len(stored)} links stored of {files}")
wrong = [l for l in stored
         if expected.get(l["resolved"].rsplit("/", 1)[-1]) != l["store"]["sha256"]]
if wrong:
    problems.append(f"{len(wrong)} links stored under another digest than sha256sum's")
if errors:
    problems.append(f"{len(errors)} store errors, e.g. {errors[0]}")
objects, nbytes, names_seen, corrupt = 0, 0, set(), 0
for root, _, names in os.walk(os.path.join(store, "sha256")):
    for n in names:
        objects += 1
        names_seen.add(n)
        path = os.path.join(root, n)
        nbytes += os.path.getsize(path)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        corrupt += h.hexdigest() != n
if corrupt:
    problems.append(f"{corrupt} objects whose bytes do not hash to their name")
if names_seen != set(expected.values()):
    problems.append("the store's object names are not the set's sha256 digests")
if objects != files or nbytes != size:
    problems.append(f"store holds {objects} objects, {nbytes} bytes; expected {files}, {size}")
leftover = os.listdir(os.path.join(store, "tmp")) if os.path.isdir(os.path.join(store, "tmp")) else []
if leftover:
    problems.append(f"{len(leftover)} files left in the store's tmp/")
if problems:
    print("WARNING: " + "; ".join(problems))
else:
    print(f"ok: {files} links ok, {objects} objects, {nbytes} bytes stored, all digests match sha256sum's")
EOF
}

# ---------------------------------------------------------------- the runs

read -r -a SET_LIST <<<"$SETS"
for set in "${SET_LIST[@]}"; do
    gen_set "$set"
done
mapfile -d '' files < <(set_files "${SET_LIST[0]}")
start_server "${SET_LIST[0]}/${files[0]##*/}"

ROWS=()
CHECKS=()
for set in "${SET_LIST[@]}"; do
    mapfile -d '' files < <(set_files "$set")
    nfiles=${#files[@]}
    bytes=$(set_bytes "$set")
    mibytes=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
    # Warm the page cache so that every tool (and nginx) reads from memory,
    # and keep the digests that every stored object is checked against.
    cat "${files[@]}" >/dev/null
    sha256sum "${files[@]}" >"$WORK/$set.sha256"

    log "set $set: $nfiles files, $mibytes MiB; $REPEAT run(s) of each tool, alternating"
    run_init A
    run_init S
    run_init C
    run_init O
    verdicts=()
    for ((i = 1; i <= REPEAT; i++)); do
        store=$WORK/store-$set-$i
        report=$WORK/report-$set-$i.json
        rm -rf "$store"
        mkdir -p "$store"
        write_config "$set" "$store" "$report"
        sync # no dirty pages of an earlier run to flush during this one
        run_once A "archive   $i/$REPEAT" "0 1" "$ARCHIVE" --check --no-cache \
            --config "$WORK/$set.toml" --format json --report "$report"
        a_rc=$RUN_RC
        v=$(check_run "$report" "$store" "$nfiles" "$bytes" "$WORK/$set.sha256")
        if [[ "$a_rc" == 1 && "$v" == ok* ]]; then
            v="WARNING: exit 1 although every link is ok; $v"
        fi
        [[ "$v" == ok* ]] || log "  $v"
        verdicts+=("run $i: exit $a_rc, $v")
        rm -rf "$store" "$report"
        run_once S "sha256sum $i/$REPEAT" "0" sha256sum "${files[@]}"
        if [[ -n "$OPENSSL" ]]; then
            run_once O "openssl   $i/$REPEAT" "0" "$OPENSSL" dgst -sha256 "${files[@]}"
        fi
        run_once C "cat       $i/$REPEAT" "0" cat "${files[@]}"
    done
    [[ -n "$OPENSSL" ]] || mark_failed O "not run"
    for p in A S C O; do
        fv=${p}_failed
        if [[ -n "${!fv}" ]]; then
            printf -v "${p}_secs" '%s' NA
            printf -v "${p}_rss_kb" '%s' NA
        fi
    done
    a_mibs=$(rate "$mibytes" "$A_secs")
    s_mibs=$(rate "$mibytes" "$S_secs")
    c_mibs=$(rate "$mibytes" "$C_secs")
    o_mibs=$(rate "$mibytes" "$O_secs")
    ROWS+=("| $set | $mibytes | $nfiles | $A_secs | $a_mibs | $(mib "$A_rss_kb") | $A_cpu | $S_secs | $s_mibs | $(mib "$S_rss_kb") | $(ratio "$a_mibs" "$s_mibs") | $o_mibs | $(ratio "$a_mibs" "$o_mibs") | $c_mibs |")
    for v in "${verdicts[@]}"; do
        CHECKS+=("$set $v")
    done
done

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $BENCH_DIR on $(df -P "$BENCH_DIR" | awk 'NR == 2 { print $1 }') ($(findmnt -n -o FSTYPE -T "$BENCH_DIR" 2>/dev/null || echo '?'))"
echo "archive: $("$ARCHIVE" --version)"
echo "server: $SERVER_DESC"
echo "sha256sum: $(sha256sum --version | head -n 1)"
[[ -n "$OPENSSL" ]] && echo "openssl: $("$OPENSSL" version)"
echo "best of $REPEAT alternating run(s) per tool, page cache warm, fresh store each archive run; MiB = 2^20 bytes"
if ((BUSY_RUNS > 0)); then
    echo "WARNING: $BUSY_RUNS run(s) started while the machine was busy with other work"
fi
echo
echo "| set | MiB | files | archive s | archive MiB/s | archive max RSS MiB | archive CPU % | sha256sum s | sha256sum MiB/s | sha256sum max RSS MiB | archive/sha256sum throughput | openssl sha256 MiB/s | archive/openssl throughput | cat MiB/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Checks of each archive run:"
printf -- '- %s\n' "${CHECKS[@]}"
