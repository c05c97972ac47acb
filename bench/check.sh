#!/usr/bin/env bash
# A_* and L_* are set by run_once() through `printf -v`.
# shellcheck disable=SC2154
#
# HTTP checking throughput benchmark (issue 3).
#
#   bash bench/check.sh
#
# Starts a local nginx on 127.0.0.1 that answers every path with 200 and a
# 100-byte text/html body (HEAD too, keep-alive on), writes corpora of N
# distinct links (`[page I](http://bench.local:PORT/p/I.html)`, in files of
# LINKS_PER_FILE links), and checks them with
#
#   archive --check --no-cache --config CONF --format json --report FILE DIR
#
# (CONF: no rate limit, concurrency 64, per-host concurrency 64, one try,
# loopback allowed, `bench.local` resolved to the server through
# [resolve], a store in the scratch folder that is removed before each run,
# so every run starts from an empty state database) and, if `lychee` is on
# PATH, with
#
#   lychee --no-progress --max-concurrency 64 --host-concurrency 64
#          --host-request-interval 0s --max-retries 0 --format json
#          --output FILE DIR
#
# on the same links spelt `http://127.0.0.1:PORT/…` (lychee has no
# --resolve for plain http; it checks loopback addresses unless told not
# to, and its cache is off unless `--cache` is given). lychee 0.24 limits
# each host to 10 requests in flight and one request per 50 ms by default
# (20 checks/s against one server); the two --host-* options lift that, as
# "no rate limit" asks. Both tools use their default method: archive sends
# HEAD for page links (GET only if HEAD is refused), lychee sends GET.
#
# The tools alternate run by run, so that a busy neighbour slows both alike.
# Each run is timed with the clock (wall time) and GNU time (peak RSS, CPU);
# nginx's stub_status gives the requests and TCP connections it served for
# the run, and the run's JSON report (written to a file rather than
# /dev/null, a few MB) is read back to count the links found ok: a run that
# failed links fast would otherwise pass for a fast run. Prints two
# Markdown tables on stdout (per tool, then the ratios); progress goes to
# stderr.
#
# Environment:
#   SIZES           links per corpus              (default: "1000 10000")
#   LINKS_PER_FILE  links per Markdown file; a corpus of N links is N /
#                   LINKS_PER_FILE files           (default: 100)
#   CONCURRENCY     requests in flight, both tools (default: 64)
#   REPEAT          timed runs per tool and N; the fastest run is reported,
#                   and the largest peak RSS of all runs (default: 3)
#   PORT            server port                    (default: the first free
#                   one from 18080 up)
#   NGINX_WORKERS   nginx worker processes         (default: 1)
#   BENCH_DIR       scratch space                  (default: /tmp/archive-bench)
#   IDLE_WAIT       before each timed run, wait up to this many seconds for
#                   the machine to be idle (< 10% CPU busy over 1 s); 0
#                   disables                       (default: 120)
#   ARCHIVE         archive binary; if unset, `cargo build --release --bin
#                   archive` builds it (into $CARGO_TARGET_DIR if set)
#   LYCHEE          lychee binary                  (default: lychee on PATH;
#                   LYCHEE=none skips it)
#
# Installs nginx, jq and GNU time with apt-get if they are missing.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES=${SIZES:-"1000 10000"}
LINKS_PER_FILE=${LINKS_PER_FILE:-100}
CONCURRENCY=${CONCURRENCY:-64}
REPEAT=${REPEAT:-3}
PORT=${PORT:-}
NGINX_WORKERS=${NGINX_WORKERS:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}
IDLE_WAIT=${IDLE_WAIT:-120}
ARCHIVE=${ARCHIVE:-}
LYCHEE=${LYCHEE:-$(command -v lychee || true)}
[[ "$LYCHEE" == none ]] && LYCHEE=""


# need CMD PACKAGE: installs PACKAGE with apt-get unless CMD is there.
APT_UPDATED=""
need() {
    if [[ -x "$1" ]] || command -v "$1" >/dev/null 2>&1; then
        return 0
    fi
    log "installing $2 (for $1)"
    if [[ -z "$APT_UPDATED" ]]; then
        apt-get update >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >&2
}
need /usr/bin/time time
need jq jq
need nginx nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [[ -z "$ARCHIVE" ]]; then
    log "building the release binary"
    cargo build --release --bin archive >&2
    ARCHIVE=${CARGO_TARGET_DIR:-$PWD/target}/release/archive
fi
[[ -x "$ARCHIVE" ]] || { log "no archive binary at $ARCHIVE"; exit 2; }

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/check.XXXXXX")
NGINX_PID=""
cleanup() {
    if [[ -n "$NGINX_PID" ]]; then
        # SIGQUIT: graceful shutdown of the master and its workers.
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# port_free P: true if nothing listens on 127.0.0.1:P.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if [[ -z "$PORT" ]]; then
    for p in $(seq 18080 18179); do
        if port_free "$p"; then
            PORT=$p
            break
        fi
    done
    [[ -n "$PORT" ]] || { log "no free port in 18080-18179"; exit 2; }
elif ! port_free "$PORT"; then
    log "port $PORT is taken"
    exit 2
fi

# --- the server -------------------------------------------------------------

# 100 bytes of HTML, the same for every path.
BODY='<!doctype html><html><head><title>bench</title></head><body><p>ok, a page to check</p></body></html>'
mkdir -p "$WORK/nginx/tmp" "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
# Written by bench/check.sh; lives as long as the benchmark.
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events {
    worker_connections 4096;
    multi_accept on;
}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server_tokens off;
    default_type text/html;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / {
            return 200 '$BODY';
        }
        # Connections accepted and requests served so far, read by the
        # script between runs (never a link in the corpora).
        location = /.nginx-status {
            stub_status;
        }
    }
}
EOF
"$NGINX" -e "$WORK/nginx/logs/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
    -g 'daemon off;' >&2 &
NGINX_PID=$!

# http_get PATH: the status line of GET PATH from the server.
http_get() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: bench.local\r\n\r\n' "$1" >&3
    IFS= read -r line <&3 || true
    exec 3<&-
    printf '%s\n' "${line%$'\r'}"
}
for _ in $(seq 50); do
    if status=$(http_get /p/0 2>/dev/null) && [[ "$status" == *" 200 "* ]]; then
        break
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || { log "nginx did not start"; exit 2; }
    sleep 0.1
done
[[ "${status:-}" == *" 200 "* ]] || { log "nginx does not answer on port $PORT"; exit 2; }
log "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$PORT (pid $NGINX_PID, $NGINX_WORKERS worker)"

# --- corpora ----------------------------------------------------------------

# make_corpus DIR HOST N: N/LINKS_PER_FILE Markdown files whose links are
# [page I](http://HOST/p/I.html) for I = 0 … N-1, one per line. Not
# `…/p/I`: six or more links in a row whose last path segment is one
# character (`…/p/0` … `…/p/9`) are what archive takes for an exploded URL
# (a scraper's one-link-per-character debris), and it would report them
# `truncated` instead of checking them.
make_corpus() {
    local dir=$1 host=$2 n=$3
    mkdir -p "$dir"
    awk -v dir="$dir" -v host="$host" -v n="$n" -v per="$LINKS_PER_FILE" 'BEGIN {
        for (i = 0; i < n; i++) {
            if (i % per == 0) {
                if (f) close(f)
                f = sprintf("%s/doc-%06d.md", dir, i / per)
                printf "# Document %d\n\n", i / per > f
            }
            printf "- [page %d](http://%s/p/%d.html)\n", i, host, i > f
        }
        if (f) close(f)
    }'
}

# --- timing -----------------------------------------------------------------


# wait_idle: waits (up to IDLE_WAIT s) until other work on the machine
# calms down, so that a compile next door does not count against a tool.

# nginx_counters: "CONNECTIONS REQUESTS" nginx has accepted and served so
# far (stub_status; the request that asks counts too).
nginx_counters() {
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET /.nginx-status HTTP/1.0\r\nHost: bench.local\r\n\r\n' >&3
    reply=$(cat <&3)
    exec 3<&-
    awk '/^server accepts/ { getline; print $1, $3 }' <<<"${reply//$'\r'/}"
}

# nginx_cpu_ticks: CPU time (clock ticks) used so far by nginx's workers.
nginx_cpu_ticks() {
    local pid total=0 stat pids=()
    read -r -a pids <"/proc/$NGINX_PID/task/$NGINX_PID/children" || true
    for pid in "${pids[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after the ")" that ends the command name: utime is the
        # 12th, stime the 13th.
        local -a f
        read -r -a f <<<"${stat##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# run_init PREFIX: resets the accumulators of run_once.
run_init() {
    printf -v "${1}_secs" '%s' ""
    printf -v "${1}_rss_kb" '%s' 0
    printf -v "${1}_cpu" '%s' NA
    printf -v "${1}_srv" '%s' NA
    printf -v "${1}_conns" '%s' NA
    printf -v "${1}_reqs" '%s' NA
    printf -v "${1}_ok" '%s' ""
    printf -v "${1}_failed" '%s' ""
}

# run_once PREFIX LABEL OKCMD CMD...: runs CMD once under GNU time, stdout
# to /dev/null (the reports go to files), stderr to a file. Exit codes 0 and 1 are accepted (1: some link
# failed); anything else marks PREFIX failed. Then runs OKCMD (a shell
# function) to count the links the run reported ok. Keeps ${PREFIX}_secs
# (fastest run), ${PREFIX}_cpu (client CPU of that run, in %; 200 = both
# cores busy), ${PREFIX}_srv (nginx CPU of that run, in %), ${PREFIX}_rss_kb
# (largest peak RSS) and ${PREFIX}_ok (fewest links ok of all runs).
run_once() {
    local prefix=$1 label=$2 okcmd=$3
    shift 3
    local rc=0 t0 t1 s0 s1 t r c ok srv n0 n1 conns reqs
    local best_var=${prefix}_secs rss_var=${prefix}_rss_kb ok_var=${prefix}_ok
    wait_idle
    read -r -a n0 <<<"$(nginx_counters)"
    s0=$(nginx_cpu_ticks)
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || rc=$?
    t1=$(date +%s%N)
    s1=$(nginx_cpu_ticks)
    read -r -a n1 <<<"$(nginx_counters)"
    # Less the status request that read n1.
    conns=$((n1[0] - n0[0] - 1))
    reqs=$((n1[1] - n0[1] - 1))
    if ((rc != 0 && rc != 1)); then
        log "  $label: FAILED (exit $rc): $*"
        tail -n 20 "$WORK/stderr" | sed 's/^/    /' >&2
        printf -v "${prefix}_failed" '%s' "exit $rc"
        return 0
    fi
    # Wall time from the clock (GNU time's own is in 10 ms steps).
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time")
    c=$(awk -F': ' '/Percent of CPU this job got/ { print $2 }' "$WORK/time")
    srv=$(awk -v a="$s0" -v b="$s1" -v hz="$(getconf CLK_TCK)" -v t="$t" \
        'BEGIN { printf "%d", 100 * (b - a) / hz / t }')
    ok=$("$okcmd")
    if [[ -z "${!best_var}" ]] || awk -v a="$t" -v b="${!best_var}" 'BEGIN { exit !(a < b) }'; then
        printf -v "$best_var" '%s' "$t"
        printf -v "${prefix}_cpu" '%s' "${c%\%}"
        printf -v "${prefix}_srv" '%s' "$srv"
        printf -v "${prefix}_conns" '%s' "$conns"
        printf -v "${prefix}_reqs" '%s' "$reqs"
    fi
    if ((r > ${!rss_var})); then
        printf -v "$rss_var" '%s' "$r"
    fi
    if [[ -z "${!ok_var}" ]] || ((ok < ${!ok_var})); then
        printf -v "$ok_var" '%s' "$ok"
    fi
    log "  $label: ${t}s, peak RSS $((r / 1024)) MB, CPU $c (nginx ${srv}%), ok $ok, exit $rc, $reqs requests on $conns connections"
}

# Links the last archive run found ok (its JSON report).
archive_ok() { jq '.summary.links.by_status.ok' "$WORK/archive-report.json"; }
# Links the last lychee run found ok (its JSON status report).
lychee_ok() { jq '.successful' "$WORK/lychee-report.json"; }

# --- the tools --------------------------------------------------------------

CONF=$WORK/archive.toml
cat >"$CONF" <<EOF
# Written by bench/check.sh.
[check]
allow_private = true
rate_limit = 1000000.0
burst = 1000000
concurrency = $CONCURRENCY
per_host_concurrency = $CONCURRENCY
max_tries = 1

[store]
path = "$WORK/store"

[report]
path = ""

[resolve]
"bench.local" = "127.0.0.1:$PORT"
EOF

# archive_run DIR: one run of archive over DIR, from an empty store (the
# store and its state database are created anew, untimed, before each run).
archive_cmd() {
    printf '%s\0' "$ARCHIVE" --check --no-cache --config "$CONF" --format json \
        --report "$WORK/archive-report.json" "$1"
}

lychee_cmd() {
    printf '%s\0' "$LYCHEE" --no-progress --max-concurrency "$CONCURRENCY" \
        --host-concurrency "$CONCURRENCY" --host-request-interval 0s \
        --max-retries 0 --format json --output "$WORK/lychee-report.json" "$1"
}

ARCHIVE_VERSION=$("$ARCHIVE" --version)
LYCHEE_VERSION=$([[ -n "$LYCHEE" ]] && "$LYCHEE" --version || echo "-")
log "$ARCHIVE_VERSION ($ARCHIVE); $LYCHEE_VERSION"

# row PREFIX TOOL N: one line of the results table.
row() {
    local p=$1 tool=$2 n=$3
    local secs=${p}_secs rss=${p}_rss_kb failed=${p}_failed ok=${p}_ok cpu=${p}_cpu
    local srv=${p}_srv reqs=${p}_reqs conns=${p}_conns
    if [[ -n "${!failed}" || -z "${!secs}" ]]; then
        printf '| %s | %s | failed (%s) | | | | | | | |\n' "$n" "$tool" "${!failed:-no run}"
        return
    fi
    awk -v n="$n" -v tool="$tool" -v s="${!secs}" -v r="${!rss}" -v ok="${!ok}" \
        -v c="${!cpu}" -v v="${!srv}" -v q="${!reqs}" -v k="${!conns}" 'BEGIN {
        printf "| %d | %s | %.3f | %d | %.1f | %s | %s | %s | %s | %s |\n",
            n, tool, s, n / s, r * 1024 / 1e6, ok, q, k, c, v }'
}

TABLE=()
RATIOS=()
for n in $SIZES; do
    a_dir=$WORK/corpus-$n/archive
    l_dir=$WORK/corpus-$n/lychee
    make_corpus "$a_dir" "bench.local:$PORT" "$n"
    make_corpus "$l_dir" "127.0.0.1:$PORT" "$n"
    log "N=$n: $(find "$a_dir" -type f | wc -l) files of up to $LINKS_PER_FILE links"
    run_init A
    run_init L
    mapfile -d '' a_cmd < <(archive_cmd "$a_dir")
    l_cmd=()
    [[ -n "$LYCHEE" ]] && mapfile -d '' l_cmd < <(lychee_cmd "$l_dir")
    for i in $(seq "$REPEAT"); do
        rm -rf "$WORK/store"
        run_once A "archive #$i" archive_ok "${a_cmd[@]}"
        if [[ -n "$LYCHEE" ]]; then
            run_once L "lychee  #$i" lychee_ok "${l_cmd[@]}"
        fi
    done
    # What the last runs reported, for the record.
    if [[ -s "$WORK/archive-report.json" ]]; then
        log "  archive: $(jq -c '{status: .summary.links.by_status, methods: ([.links[].http.method // "none"] | group_by(.) | map({(.[0]): length}) | add)}' "$WORK/archive-report.json")"
    fi
    if [[ -n "$LYCHEE" && -s "$WORK/lychee-report.json" ]]; then
        log "  lychee:  $(jq -c '{total, successful, errors, timeouts, excludes, unknown}' "$WORK/lychee-report.json")"
    fi
    TABLE+=("$(row A archive "$n")")
    [[ -n "$LYCHEE" ]] && TABLE+=("$(row L lychee "$n")")
    if [[ -n "$LYCHEE" && -n "$A_secs" && -n "$L_secs" && -z "$A_failed" && -z "$L_failed" ]]; then
        RATIOS+=("$(awk -v n="$n" -v a="$A_secs" -v l="$L_secs" -v ra="$A_rss_kb" -v rl="$L_rss_kb" \
            'BEGIN { printf "| %d | %.2f | %.2f |", n, l / a, ra / rl }')")
    fi
done

cat <<EOF
| N links | tool | best s | checks/s | peak RSS MB | links ok | requests | connections | CPU % | nginx CPU % |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
printf '%s\n' "${TABLE[@]}"
if ((${#RATIOS[@]} > 0)); then
    cat <<EOF

| N links | checks/s archive/lychee | peak RSS archive/lychee |
|---:|---:|---:|
EOF
    printf '%s\n' "${RATIOS[@]}"
fi
if ((BUSY_RUNS > 0)); then
    printf '\n%d run(s) started while the machine was busy.\n' "$BUSY_RUNS"
fi
