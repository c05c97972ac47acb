# Shared by the bench/*.sh scripts: logging, waiting for an idle machine,
# and timing a command with the clock and GNU time. Source it; it expects
# $WORK (a scratch folder) and $IDLE_WAIT to be set by the caller.
# shellcheck shell=bash

log() { printf '%s\n' "$*" >&2; }

BUSY_RUNS=0

# cpu_busy_pct: share of all CPUs busy over the next second, in %.
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]
        printf "%d", (busy + idle > 0) ? 100 * busy / (busy + idle) : 0 }'
}

# wait_idle: waits (up to IDLE_WAIT s) until other work on the machine
# calms down, so that a compile next door does not count against a tool;
# BUSY_RUNS counts the runs measured on a busy machine anyway.
wait_idle() {
    local waited=0 busy
    ((IDLE_WAIT > 0)) || return 0
    while busy=$(cpu_busy_pct) && ((busy >= 10)); do
        if ((waited >= IDLE_WAIT)); then
            log "  machine still ${busy}% busy after ${waited}s; measuring anyway"
            BUSY_RUNS=$((BUSY_RUNS + 1))
            return 0
        fi
        ((waited == 0)) && log "  machine ${busy}% busy; waiting for it to calm down"
        sleep 2
        waited=$((waited + 3))
    done
}

# run_init PREFIX: resets the accumulators of run_once.
run_init() {
    printf -v "${1}_secs" '%s' ""
    printf -v "${1}_rss_kb" '%s' 0
    printf -v "${1}_cpu" '%s' NA
    printf -v "${1}_cpu_s" '%s' ""
    printf -v "${1}_failed" '%s' ""
}

# run_once PREFIX LABEL OKCODES CMD...: runs CMD once under GNU time,
# stdout to $RUN_STDOUT if set (a file the caller reads back), else to
# /dev/null (by the shell; no tool is given /dev/null as a path). Exit codes in OKCODES (e.g. "0 1") are accepted; any
# other marks PREFIX failed. Keeps ${PREFIX}_secs (fastest run),
# ${PREFIX}_cpu (CPU use of that run, in %; 200 = both cores busy),
# ${PREFIX}_cpu_s (the least CPU time, user + system seconds, of all
# runs: the work a run needs, which a busy neighbour stretches less than
# wall time) and ${PREFIX}_rss_kb (largest peak RSS). Sets RUN_RC.
run_once() {
    local prefix=$1 label=$2 okcodes=" $3 "
    shift 3
    local rc=0 t0 t1 t r c cs best_var=${prefix}_secs rss_var=${prefix}_rss_kb
    wait_idle
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$WORK/time" "$@" >"${RUN_STDOUT:-/dev/null}" 2>"$WORK/stderr" || rc=$?
    t1=$(date +%s%N)
    # shellcheck disable=SC2034  # read by the caller
    RUN_RC=$rc
    if [[ "$okcodes" != *" $rc "* ]]; then
        log "  $label: FAILED (exit $rc): $*"
        sed 's/^/    /' "$WORK/stderr" | tail -n 20 >&2
        printf -v "${prefix}_failed" '%s' "exit $rc"
        return 0
    fi
    # Wall time from the clock (GNU time's own is in 10 ms steps).
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time")
    c=$(awk -F': ' '/Percent of CPU this job got/ { print $2 }' "$WORK/time")
    cs=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { printf "%.2f", u + s }' "$WORK/time")
    local cpu_s_var=${prefix}_cpu_s
    if [[ -z "${!cpu_s_var}" ]] || awk -v a="$cs" -v b="${!cpu_s_var}" 'BEGIN { exit !(a < b) }'; then
        printf -v "$cpu_s_var" '%s' "$cs"
    fi
    if [[ -z "${!best_var}" ]] || awk -v a="$t" -v b="${!best_var}" 'BEGIN { exit !(a < b) }'; then
        printf -v "$best_var" '%s' "$t"
        printf -v "${prefix}_cpu" '%s' "${c%\%}"
    fi
    if ((r > ${!rss_var})); then
        printf -v "$rss_var" '%s' "$r"
    fi
    log "  $label: ${t}s, peak RSS $((r / 1024)) MiB, CPU $c (${cs} s), exit $rc"
}

# corpus_dir GEN N SEED: prints the folder of the generated corpus of N
# articles for SEED and $MIX (the generator's --mix; default seeds) under
# $BENCH_DIR, generating it unless a complete one is already there. The
# mix is in the folder's name, so a corpus of another mix (or of the
# generator before --mix existed) is never reused by mistake.
corpus_dir() {
    local gen=$1 n=$2 seed=$3 mix=${MIX:-seeds}
    local dir=$BENCH_DIR/corpus-n$2-seed$3-$mix
    if [[ ! -f "$dir/.complete" ]]; then
        log "generating $n articles into $dir"
        rm -rf "$dir"
        "$gen" --out "$dir" --count "$n" --seed "$seed" --mix "$mix" >&2
        touch "$dir/.complete"
    else
        log "reusing $dir"
    fi
    printf '%s\n' "$dir"
}
