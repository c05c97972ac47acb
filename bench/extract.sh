#!/usr/bin/env bash
# A_* and L_* are set by run_once() through `printf -v`.
# shellcheck disable=SC2154
#
# Offline extraction + diagnosis throughput benchmark (issue 2).
#
#   bash bench/extract.sh
#
# Builds the release binaries, generates synthetic corpora of N articles
# (bench/gen_corpus.rs) and times
#
#   archive --check --offline --format json --report /dev/null --config /dev/null DIR
#
# with GNU time (peak RSS, CPU) and the clock (wall time). If `lychee` is on
# PATH, it times `lychee --dump --no-progress --extensions md,txt DIR`
# (extract links, check nothing) on the same corpus too, alternating the
# two tools run by run so that a busy neighbour slows both alike. Prints a
# Markdown table on stdout; progress goes to stderr.
#
# Environment:
#   SIZES      corpus sizes, in articles   (default: "1000 10000 100000")
#   BENCH_DIR  where corpora are kept      (default: /tmp/archive-bench);
#              a corpus already generated there for the same N and SEED is
#              reused
#   SEED       generator seed              (default: 1)
#   REPEAT     timed runs per tool and N; the fastest run is reported, and
#              the largest peak RSS of all runs (default: 5)
#   IDLE_WAIT  before each timed run, wait up to this many seconds for the
#              machine to be idle (< 10% CPU busy over 1 s); 0 disables
#              (default: 120)
#   LYCHEE     lychee binary               (default: lychee on PATH; set
#              LYCHEE=none to skip it)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES=${SIZES:-"1000 10000 100000"}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}
SEED=${SEED:-1}
REPEAT=${REPEAT:-5}
IDLE_WAIT=${IDLE_WAIT:-120}
LYCHEE=${LYCHEE:-$(command -v lychee || true)}
[[ "$LYCHEE" == none ]] && LYCHEE=""


if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get update >&2 && apt-get install -y time >&2
fi

log "building release binaries"
cargo build --release --bins >&2
ARCHIVE=$PWD/target/release/archive
GEN=$PWD/target/release/archive-gen-corpus

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# corpus_bytes DIR: total size of the article files.
corpus_bytes() {
    find "$1" -type f \( -name '*.md' -o -name '*.txt' \) -printf '%s\n' |
        awk '{ s += $1 } END { printf "%d\n", s }'
}





# lychee: extract only (`--dump` prints the links it would check and checks
# nothing, so it never touches the network), over the same file types
# archive reads. Not `--offline`: with it lychee drops every remote link
# before the dump, and so dumps nothing for this corpus.
lychee_cmd() {
    local dir=$1
    local args=(--dump --no-progress)
    if "$LYCHEE" --help 2>/dev/null | grep -q -- '--extensions'; then
        # shellcheck disable=SC2054  # the comma is lychee's list separator
        args+=(--extensions md,txt)
    fi
    printf '%s\0' "$LYCHEE" "${args[@]}" "$dir"
}

rate() { # rate NUM SECS -> NUM/SECS or NA
    awk -v n="$1" -v s="$2" 'BEGIN { if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.1f", n / s }'
}
ratio() { # ratio A B -> A/B or NA
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || a == "" || b == "" || b <= 0) print "NA"; else printf "%.2f", a / b }'
}
mb() { awk -v k="$1" 'BEGIN { if (k == "NA" || k == "") print "NA"; else printf "%.1f", k / 1024 }'; }

ROWS=()
for n in $SIZES; do
    dir=$(corpus_dir "$GEN" "$n" "$SEED")
    bytes=$(corpus_bytes "$dir")
    mbytes=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    # Warm the page cache so every tool reads from memory.
    find "$dir" -type f \( -name '*.md' -o -name '*.txt' \) -print0 | xargs -0 cat >/dev/null

    log "N=$n ($mbytes MB): $REPEAT run(s) of each tool, alternating"
    run_init A
    run_init L
    [[ -n "$LYCHEE" ]] && mapfile -d '' lcmd < <(lychee_cmd "$dir")
    for ((i = 1; i <= REPEAT; i++)); do
        run_once A "archive $i/$REPEAT" "0 1" "$ARCHIVE" --check --offline --format json \
            --report /dev/null --config /dev/null "$dir"
        if [[ -n "$LYCHEE" ]]; then
            run_once L "lychee  $i/$REPEAT" "0" "${lcmd[@]}"
        fi
    done
    [[ -n "$A_failed" ]] && A_secs=NA A_rss_kb=NA A_cpu="$A_failed"
    a_mbs=$(rate "$mbytes" "$A_secs")
    a_dps=$(rate "$n" "$A_secs")

    l_secs=NA l_rss=NA l_mbs=NA l_cpu=NA speedup=NA rss_ratio=NA
    if [[ -n "$LYCHEE" ]]; then
        [[ -n "$L_failed" ]] && L_secs=NA L_rss_kb=NA L_cpu="$L_failed"
        l_secs=$L_secs
        l_cpu=$L_cpu
        l_rss=$(mb "$L_rss_kb")
        l_mbs=$(rate "$mbytes" "$L_secs")
        speedup=$(ratio "$L_secs" "$A_secs")       # >1: archive is faster
        rss_ratio=$(ratio "$A_rss_kb" "$L_rss_kb") # <1: archive uses less
    fi
    ROWS+=("| $n | $mbytes | $A_secs | $a_mbs | $a_dps | $(mb "$A_rss_kb") | $A_cpu | $l_secs | $l_mbs | $l_rss | $l_cpu | $speedup | $rss_ratio |")
done

# One untimed run on the smallest corpus with a real report, so that the
# table comes with what archive found (and lychee's link count to compare).
first=${SIZES%% *}
dir=$BENCH_DIR/corpus-n$first-seed$SEED
rc=0
"$ARCHIVE" --check --offline --format json --report "$WORK/report.json" \
    --config /dev/null "$dir" >/dev/null 2>"$WORK/stderr" || rc=$?
SANITY="archive exit code $rc on N=$first"
if command -v python3 >/dev/null && [[ -s "$WORK/report.json" ]]; then
    SANITY+=$'\n'$(python3 - "$WORK/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
d, l = s["documents"], s["links"]
print(f"documents: {json.dumps(d)}")
print(f"links: total {l['total']}, by status {json.dumps(l['by_status'])}, by kind {json.dumps(l['by_kind'])}")
print(f"findings: {json.dumps(s['findings'])}")
bare = sum(1 for x in r["links"] if x.get("syntax") == "bare_file_name")
print(f"links that are URLs (all but {bare} bare file names): {l['total'] - bare}")
EOF
)
fi
if [[ -n "$LYCHEE" ]]; then
    mapfile -d '' lcmd < <(lychee_cmd "$dir")
    nl=$("${lcmd[@]}" 2>/dev/null | grep -c .) || true
    SANITY+=$'\n'"lychee --dump lines on N=$first: ${nl:-0}"
fi

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "archive: $("$ARCHIVE" --version)"
if [[ -n "$LYCHEE" ]]; then
    echo "lychee: $("$LYCHEE" --version)"
    mapfile -d '' lcmd < <(lychee_cmd DIR)
    echo "lychee command: ${lcmd[*]}"
fi
echo "seed: $SEED; best of $REPEAT alternating run(s) per tool, page cache warm; MB = 10^6 bytes"
if ((BUSY_RUNS > 0)); then
    echo "WARNING: $BUSY_RUNS run(s) started while the machine was busy with other work"
fi
echo "speed archive/lychee = lychee seconds / archive seconds (>1: archive faster)"
echo
echo "| N docs | MB | archive s | archive MB/s | archive docs/s | archive peak RSS MB | archive CPU % | lychee --dump s | lychee MB/s | lychee peak RSS MB | lychee CPU % | speed archive/lychee | RSS archive/lychee |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo '```'
echo "$SANITY"
echo '```'
