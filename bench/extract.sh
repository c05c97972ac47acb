#!/usr/bin/env bash
# A_*, J_* and L_* are set by run_once() through `printf -v`.
# shellcheck disable=SC2154
#
# Offline extraction + diagnosis throughput benchmark (issues 2 and 11).
#
#   bash bench/extract.sh
#
# Generates corpora of N articles with bench/gen_corpus.rs (default mix
# `seeds`: the seed articles' shape, one article in five an exploded URL,
# HTML pages with srcset and <picture>, GBK files, bare file names,
# key-value headers) and times, alternating run by run so that a busy
# neighbour slows every command alike:
#
#   default  archive --check --offline --config CONF DIR
#            what a user types: the text report (on stderr), the JSON
#            report to the default report path. CONF holds only
#            `[report] path = "SCRATCH/default-report.json"`, so the run
#            writes into the bench's scratch folder and not the repo.
#   json     archive --check --offline --config CONF --format json
#            --report SCRATCH/report.json DIR
#   base     (if BASE is set) BASE --check --offline --config CONF DIR:
#            the default command of another build, for before/after
#            numbers from the same run
#   lychee   lychee --dump --no-progress --extensions md,txt,html DIR
#            (extracts and prints the links it would check, checks
#            nothing; if lychee is not installed, its rows say "lychee not
#            available")
#
# Every command's stdout and stderr go to files in the scratch folder (a
# terminal or a pipe is what a user has; /dev/null would flatter the text
# report).
# After each run the script reads back what it found, so that a fast wrong
# run cannot pass for a fast right one: for archive the summary of the JSON
# report it wrote (links; findings, all kinds) and, for `default`, that
# the text summary line names as many links; for lychee the number of
# links dumped.
#
# Wall time by the clock, peak RSS and CPU (share and user + system
# seconds) by GNU time. Prints Markdown
# tables on stdout; progress goes to stderr.
#
# Environment:
#   SIZES      corpus sizes, in articles   (default: "1000 10000 100000")
#   MIX        generator mix               (default: seeds)
#   SEED       generator seed              (default: 1)
#   BENCH_DIR  where corpora are kept      (default: /tmp/archive-bench);
#              a corpus already generated there for the same N, SEED and
#              MIX is reused
#   REPEAT     timed runs per command and N; the fastest run is reported,
#              and the largest peak RSS of all runs (default: 5)
#   IDLE_WAIT  before each timed run, wait up to this many seconds for the
#              machine to be idle (< 10% CPU busy over 1 s); 0 disables.
#              Runs started on a busy machine anyway are counted and the
#              count printed with the tables (default: 120)
#   ARCHIVE    archive binary; if unset, `cargo build --release --bins`
#              builds it here
#   BASE       another archive binary whose default command is timed too
#              (rows "base default"; default: none)
#   LYCHEE     lychee binary               (default: lychee on PATH, else
#              ~/.cargo/bin/lychee; LYCHEE=none skips it)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES=${SIZES:-"1000 10000 100000"}
BENCH_DIR=${BENCH_DIR:-/tmp/archive-bench}
SEED=${SEED:-1}
MIX=${MIX:-seeds}
REPEAT=${REPEAT:-5}
IDLE_WAIT=${IDLE_WAIT:-120}
ARCHIVE=${ARCHIVE:-}
BASE=${BASE:-}
if [[ -z "${LYCHEE:-}" ]]; then
    LYCHEE=$(command -v lychee || true)
    [[ -z "$LYCHEE" && -x "$HOME/.cargo/bin/lychee" ]] && LYCHEE=$HOME/.cargo/bin/lychee
fi
[[ "$LYCHEE" == none ]] && LYCHEE=""

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get update >&2 && apt-get install -y time >&2
fi

log "building release binaries"
cargo build --release --bins >&2
ARCHIVE=${ARCHIVE:-$PWD/target/release/archive}
GEN=$PWD/target/release/archive-gen-corpus

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CONF=$WORK/archive.toml
cat >"$CONF" <<EOF
# Written by bench/extract.sh: the defaults, with the report kept out of
# the repository.
[report]
path = "$WORK/default-report.json"
EOF

# corpus_bytes DIR: total size of the article files.
corpus_bytes() {
    find "$1" -type f \( -name '*.md' -o -name '*.txt' -o -name '*.html' \) -printf '%s\n' |
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
        args+=(--extensions md,txt,html)
    fi
    printf '%s\0' "$LYCHEE" "${args[@]}" "$dir"
}

# report_found FILE: "LINKS FINDINGS" from the summary of archive's JSON
# report. Only the summary is parsed (looked for near either end of the
# file), so a report of a GB costs nothing to read back.
report_found() {
    python3 - "$1" <<'EOF'
import json, os, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "rb") as f:
    chunks = [f.read(1 << 20)]
    if size > 1 << 20:
        f.seek(max(size - (1 << 20), 0))
        chunks.append(f.read())
for chunk in chunks:
    text = chunk.decode("utf-8", "replace")
    at = text.find('"summary":')
    if at < 0:
        continue
    try:
        s, _ = json.JSONDecoder().raw_decode(text[at + len('"summary":'):].lstrip())
    except ValueError:
        continue
    findings = s.get("findings", {})
    total = sum(findings.values()) if isinstance(findings, dict) else findings
    print(s["links"]["total"], total)
    sys.exit(0)
print("? ?")
EOF
}

# text_links FILE: the link count of the text report's `summary:` line.
text_links() {
    sed -n 's/^summary: .*), \([0-9]*\) links.*/\1/p' "$1" | tail -n 1
}

rate() { # rate NUM SECS -> NUM/SECS or NA
    awk -v n="$1" -v s="$2" 'BEGIN { if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.1f", n / s }'
}
ratio() { # ratio A B -> A/B or NA
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || a == "" || b == "" || b <= 0) print "NA"; else printf "%.2f", a / b }'
}
mb() { awk -v k="$1" 'BEGIN { if (k == "NA" || k == "") print "NA"; else printf "%.1f", k / 1024 }'; }

# Found-counts of the last run of each command (they do not change from
# run to run; the last is as good as any, and a run that differs is
# logged).
A_found="? ?" J_found="? ?" B_found="? ?" L_found="?"
# found_check VAR NEW LABEL: keeps NEW in VAR, logging if it changed.
found_check() {
    local var=$1 new=$2 label=$3
    if [[ "${!var}" != "? ?" && "${!var}" != "?" && "${!var}" != "$new" ]]; then
        log "  $label found $new, an earlier run ${!var}"
    fi
    printf -v "$var" '%s' "$new"
}

ROWS=()
RUNS=0
for n in $SIZES; do
    dir=$(corpus_dir "$GEN" "$n" "$SEED")
    bytes=$(corpus_bytes "$dir")
    mbytes=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    # Warm the page cache so every tool reads from memory.
    find "$dir" -type f -print0 | xargs -0 cat >/dev/null

    log "N=$n ($mbytes MB): $REPEAT run(s) of each command, alternating"
    run_init A
    run_init J
    run_init B
    run_init L
    A_found="? ?" J_found="? ?" B_found="? ?" L_found="?"
    [[ -n "$LYCHEE" ]] && mapfile -d '' lcmd < <(lychee_cmd "$dir")
    for ((i = 1; i <= REPEAT; i++)); do
        rm -f "$WORK/default-report.json" "$WORK/report.json"
        RUN_STDOUT=$WORK/default.out run_once A "default $i/$REPEAT" "0 1" \
            "$ARCHIVE" --check --offline --config "$CONF" "$dir"
        RUNS=$((RUNS + 1))
        if [[ -z "$A_failed" ]]; then
            found_check A_found "$(report_found "$WORK/default-report.json")" default
            if [[ "$(text_links "$WORK/stderr")" != "${A_found%% *}" ]]; then
                log "  default: the text summary says $(text_links "$WORK/stderr") links, the report at report.path ${A_found%% *}"
            fi
        fi
        RUN_STDOUT=$WORK/json.out run_once J "json    $i/$REPEAT" "0 1" \
            "$ARCHIVE" --check --offline --config "$CONF" --format json \
            --report "$WORK/report.json" "$dir"
        RUNS=$((RUNS + 1))
        [[ -z "$J_failed" ]] && found_check J_found "$(report_found "$WORK/report.json")" json
        if [[ -n "$BASE" ]]; then
            rm -f "$WORK/default-report.json"
            RUN_STDOUT=$WORK/base.out run_once B "base    $i/$REPEAT" "0 1" \
                "$BASE" --check --offline --config "$CONF" "$dir"
            RUNS=$((RUNS + 1))
            [[ -z "$B_failed" ]] && found_check B_found "$(report_found "$WORK/default-report.json")" base
        fi
        if [[ -n "$LYCHEE" ]]; then
            RUN_STDOUT=$WORK/lychee.out run_once L "lychee  $i/$REPEAT" "0" "${lcmd[@]}"
            RUNS=$((RUNS + 1))
            [[ -z "$L_failed" ]] && found_check L_found "$(grep -c . "$WORK/lychee.out" || true)" lychee
        fi
    done
    rm -f "$WORK/default.out" "$WORK/json.out" "$WORK/base.out" "$WORK/lychee.out" \
        "$WORK/default-report.json" "$WORK/report.json"

    l_secs=NA l_cpu_s=NA
    if [[ -n "$LYCHEE" && -z "$L_failed" ]]; then
        l_secs=$L_secs l_cpu_s=$L_cpu_s
    fi
    whos="A J"
    [[ -n "$BASE" ]] && whos="A J B"
    for who in $whos; do
        secs=${who}_secs rss=${who}_rss_kb cpu=${who}_cpu cpus=${who}_cpu_s failed=${who}_failed found=${who}_found
        name=default
        [[ $who == J ]] && name="--format json"
        [[ $who == B ]] && name="default (BASE)"
        if [[ -n "${!failed}" ]]; then
            ROWS+=("| $n | $mbytes | archive $name | failed (${!failed}) | | | | | | | | | |")
            continue
        fi
        read -r links findings <<<"${!found}"
        ROWS+=("| $n | $mbytes | archive $name | ${!secs} | $(rate "$mbytes" "${!secs}") | $(rate "$n" "${!secs}") | $(mb "${!rss}") | ${!cpu} | ${!cpus} | $links | $findings | $(ratio "$l_secs" "${!secs}") | $(ratio "$l_cpu_s" "${!cpus}") |")
    done
    if [[ -z "$LYCHEE" ]]; then
        ROWS+=("| $n | $mbytes | lychee --dump | lychee not available | | | | | | | | | |")
    elif [[ -n "$L_failed" ]]; then
        ROWS+=("| $n | $mbytes | lychee --dump | failed ($L_failed) | | | | | | | | | |")
    else
        ROWS+=("| $n | $mbytes | lychee --dump | $L_secs | $(rate "$mbytes" "$L_secs") | $(rate "$n" "$L_secs") | $(mb "$L_rss_kb") | $L_cpu | $L_cpu_s | $L_found | - | 1.00 | 1.00 |")
    fi
done

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "archive: $("$ARCHIVE" --version) ($ARCHIVE)"
[[ -n "$BASE" ]] && echo "BASE: $("$BASE" --version) ($BASE)"
if [[ -n "$LYCHEE" ]]; then
    echo "lychee: $("$LYCHEE" --version)"
    mapfile -d '' lcmd < <(lychee_cmd DIR)
    echo "lychee command: ${lcmd[*]}"
else
    echo "lychee: not available"
fi
echo "corpus: archive-gen-corpus --mix $MIX --seed $SEED; best of $REPEAT alternating run(s) per command, page cache warm; MB = 10^6 bytes"
echo "runs started on a busy machine (> 10% CPU busy after waiting ${IDLE_WAIT}s): $BUSY_RUNS of $RUNS"
echo "vs lychee = lychee seconds / archive seconds (> 1: archive faster); CPU s = least user + system seconds of a run; vs lychee CPU = the same ratio of CPU s (what a busy machine distorts least); links and findings: what the run reported (lychee: links dumped)"
echo
echo "| N docs | MB | command | wall s | MB/s | docs/s | peak RSS MiB | CPU % | CPU s | links | findings | vs lychee | vs lychee CPU |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
