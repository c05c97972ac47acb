#!/usr/bin/env bash
# Regenerates docs/BENCHMARKS.md: every table in it from one run of this
# script, on one machine, from one build (issue 11, "What must hold").
#
#   bash bench/all.sh                 # writes docs/BENCHMARKS.md
#   QUICK=1 OUT=/tmp/b.md bash bench/all.sh   # smoke run: tiny sizes, 1 repeat
#
# It builds the release binaries once, then runs each benchmark script of
# this folder with the parameters listed in the generated file (the
# scripts' own headers say what they measure and how they check that a
# fast run was also a right one), keeps each script's stdout (Markdown
# tables) and writes them under one header that names the machine, the
# commit, the tool versions and the exact commands. Progress and each
# script's log go to stderr and to $LOGS (default: a temporary folder
# named at the end).
#
# What the numbers mean is not generated: the tables say what was
# measured, the reading of them belongs in the issue notes and in
# docs/BENCHMARKS-history.md, which keeps the earlier measurements and
# what was tried, each with its own date and commit.
#
# Environment:
#   OUT       the file written (default: docs/BENCHMARKS.md)
#   QUICK     1: small sizes and one repeat, to try the script (the file
#             says so at the top)
#   SECTIONS  which sections, in order (default: all of
#             "extract check ingest diagnose sinks big_document s3 warc")
#   IDLE_WAIT passed to the scripts (default: 120; 0 on QUICK)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=${OUT:-docs/BENCHMARKS.md}
QUICK=${QUICK:-0}
SECTIONS=${SECTIONS:-"extract check ingest diagnose sinks big_document s3 warc"}
if [[ $QUICK == 1 ]]; then
    IDLE_WAIT=${IDLE_WAIT:-0}
else
    IDLE_WAIT=${IDLE_WAIT:-120}
fi
export IDLE_WAIT
LOGS=${LOGS:-$(mktemp -d /tmp/archive-bench-all.XXXXXX)}
mkdir -p "$LOGS"

log() { printf '%s\n' "$*" >&2; }

log "building release binaries"
cargo build --release --bins >&2
export ARCHIVE=$PWD/target/release/archive
export BIN=$ARCHIVE

started=$(date -u +%Y-%m-%dT%H:%MZ)
t_start=$(date +%s)
BODY=$LOGS/body.md
: >"$BODY"

# section TITLE COMMAND-AS-TEXT FUNCTION: runs FUNCTION (which runs one
# or more scripts, tables on stdout), appends its tables under TITLE with
# the command shown; a failed script is written down as failed, not left out.
section() {
    local title=$1 shown=$2 fn=$3 rc=0 t0 t1
    log "== $title"
    t0=$(date +%s)
    "$fn" >"$LOGS/$fn.md" 2> >(tee "$LOGS/$fn.log" >&2) || rc=$?
    t1=$(date +%s)
    {
        printf '## %s\n\n' "$title"
        printf '```sh\n%s\n```\n\n' "$shown"
        if ((rc != 0)); then
            printf '**This section failed (exit %d); its log ends:**\n\n```\n' "$rc"
            tail -n 15 "$LOGS/$fn.log"
            printf '```\n\n'
        fi
        cat "$LOGS/$fn.md"
        printf '\n(%d s)\n\n' $((t1 - t0))
    } >>"$BODY"
}

if [[ $QUICK == 1 ]]; then
    EX_SIZES="200 1000" EX_REPEAT=1 CK_SIZES="1000" CK_LINKS="1 100" CK_REPEAT=1
    IN_SETS="small" IN_REPEAT=1 DG_SIZES="1000" SK_N=2000 BD_N=20000
    S3_SETS="small" S3_REPEAT=1 WARC_N=40
else
    EX_SIZES="1000 10000 100000" EX_REPEAT=5 CK_SIZES="10000 100000" CK_LINKS="1 4 100"
    CK_REPEAT=3 IN_SETS="small mixed" IN_REPEAT=3 DG_SIZES="1000 10000 100000"
    SK_N=20000 BD_N=200000 S3_SETS="small large giant" S3_REPEAT=2 WARC_N=400
fi

run_extract() { SIZES=$EX_SIZES REPEAT=$EX_REPEAT bash bench/extract.sh; }
run_check() {
    local l
    for l in $CK_LINKS; do
        printf '### %s link(s) per document\n\n' "$l"
        LINKS_PER_FILE=$l SIZES=$CK_SIZES REPEAT=$CK_REPEAT bash bench/check.sh
        printf '\n'
    done
}
run_ingest() { SETS=$IN_SETS REPEAT=$IN_REPEAT bash bench/ingest.sh; }
run_diagnose() { SIZES=$DG_SIZES bash bench/diagnose.sh; }
run_sinks() { N=$SK_N bash bench/sinks_rss.sh; }
run_big_document() {
    printf 'Peak memory of one document of %s links checked online while nothing answers (MODE=hole).\n\n' "$BD_N"
    printf '| order | peak RSS KiB | wall s | exit |\n|---|---:|---:|---:|\n'
    N=$BD_N bash bench/big_document.sh | awk 'NF == 4 { printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
}
run_s3() { SETS=$S3_SETS REPEAT=$S3_REPEAT bash bench/s3_ingest.sh; }
run_warc() {
    # The test prints its table on stdout, between cargo's own lines.
    WARC_COST_N=$WARC_N cargo test --lib warc::cost -- --ignored --nocapture --test-threads 1 2>/dev/null |
        sed -n '/objects of/,/^| B/p' | sed 's/^test .* \.\.\. //' | grep . || { log "warc::cost printed no table"; return 1; }
}

for s in $SECTIONS; do
    case $s in
    extract) section "Offline extraction and diagnosis, the default command, beside lychee --dump" \
        "SIZES=\"$EX_SIZES\" REPEAT=$EX_REPEAT bash bench/extract.sh" run_extract ;;
    check) section "HTTP checking against a local nginx, beside lychee" \
        "for l in $CK_LINKS; do LINKS_PER_FILE=\$l SIZES=\"$CK_SIZES\" REPEAT=$CK_REPEAT bash bench/check.sh; done" run_check ;;
    ingest) section "Media store ingest (local store)" \
        "SETS=\"$IN_SETS\" REPEAT=$IN_REPEAT bash bench/ingest.sh" run_ingest ;;
    diagnose) section "Diagnosis of very long exploded runs" \
        "SIZES=\"$DG_SIZES\" bash bench/diagnose.sh" run_diagnose ;;
    sinks) section "Peak memory of the report sinks and the daemon" \
        "N=$SK_N bash bench/sinks_rss.sh" run_sinks ;;
    big_document) section "One huge document checked while nothing answers" \
        "N=$BD_N bash bench/big_document.sh" run_big_document ;;
    s3) section "S3 backend ingest (moto on 127.0.0.1) beside the local store" \
        "SETS=\"$S3_SETS\" REPEAT=$S3_REPEAT bash bench/s3_ingest.sh" run_s3 ;;
    warc) section "WARC output: embed payloads or assemble them at export" \
        "WARC_COST_N=$WARC_N cargo test --lib warc::cost -- --ignored --nocapture" run_warc ;;
    *) log "unknown section $s" && exit 2 ;;
    esac
done

t_end=$(date +%s)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# Benchmarks"
    echo
    echo "Generated by \`bash bench/all.sh\` in one run: every table below comes from"
    echo "that run, on the machine and build named here. Earlier measurements, and"
    echo "what was tried on the way, are in [BENCHMARKS-history.md](BENCHMARKS-history.md)."
    echo
    [[ $QUICK == 1 ]] && echo "**QUICK run (tiny sizes, one repeat): for trying the script, not for reading.**" && echo
    echo "- started $started, took $(((t_end - t_start) / 60)) min"
    echo "- commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
    echo "- $(rustc --version); archive $("$ARCHIVE" --version | awk '{ print $2 }') (release profile)"
    echo "- lychee: $( (command -v lychee >/dev/null && lychee --version) || echo 'not available')"
    echo "- nginx: $( (nginx -v 2>&1 || echo 'not available') | head -n 1)"
    echo "- IDLE_WAIT=$IDLE_WAIT: each timed run waits up to that many seconds for the machine to be idle (< 10% busy); the scripts count runs that started busy anyway"
    echo
    cat "$BODY"
} >"$OUT"
log "wrote $OUT (logs in $LOGS)"
