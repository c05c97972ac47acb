#!/usr/bin/env bash
# X_* are set by run_once() through `printf -v`.
# shellcheck disable=SC2154
#
# Diagnosis cost of very long exploded runs (issue 8, "Bad input").
#
#   bash bench/diagnose.sh
#
# Writes Markdown articles of N image links on N lines and times the
# default offline check on each (`archive --check --offline --config
# /dev/null FILE`, text summary on stdout, the report written to its
# default file in a scratch folder), beside a baseline article of N
# ordinary image links (distinct multi-character names), measured in the
# same run. The shapes:
#
#   ordinary   N distinct images `…/img/photo_<i>.jpg` (the baseline)
#   images     exploded images (~70 characters each) back to back, forwards
#   backwards  the same, read backwards
#   long       one exploded URL N characters long (N <= 10000 only: each
#              member link repeats the URL in the report, issue 11)
#   noise      N one-character links that spell nothing URL-like
#   pages      one-character links whose folder changes every 7 links
#              (many short runs from different pages)
#
# Diagnosis is linear when every shape's time per link stays flat as N
# grows and its ratio to `ordinary` stays put. Prints a Markdown table on
# stdout; progress on stderr.
#
# Environment:
#   SIZES      links per article   (default: "1000 10000 100000")
#   REPEAT     timed runs per cell; the fastest is reported (default: 3)
#   IDLE_WAIT  wait up to this many seconds for an idle machine (default: 60)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES=${SIZES:-"1000 10000 100000"}
REPEAT=${REPEAT:-3}
IDLE_WAIT=${IDLE_WAIT:-60}

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    apt-get update >&2 && apt-get install -y time >&2
fi

log "building the release binary"
cargo build --release --bin archive >&2
ARCHIVE=$PWD/target/release/archive

WORK=$(mktemp -d /tmp/archive-diagnose.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# article SHAPE N FILE: writes one Markdown article.
article() {
    python3 - "$1" "$2" "$3" <<'EOF'
import random, sys
shape, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(8)
page = "http://news.nankai.edu.cn/ywsd/system/2022/03/25/030050717.shtml"
folder = page.rsplit("/", 1)[0] + "/"
root = "http://news.nankai.edu.cn/"
def join(c, folder=folder):
    return {"/": root, ".": folder}.get(c, folder + c)
if shape == "ordinary":
    links = [f"{folder}img/photo_{i}.jpg" for i in range(n)]
elif shape in ("images", "backwards"):
    # An article with many images, each exploded, back to back.
    links = []
    while len(links) < n:
        url = f"http://news.nankai.edu.cn/pic/003/{rnd.randrange(10**3):03d}/{rnd.randrange(10**11):011d}_{rnd.randrange(16**8):08x}.jpg"
        links += [join(c) for c in url]
    links = links[:n]
    if shape == "backwards":
        links.reverse()
elif shape == "long":
    # One URL n characters long: dated folders, then a file name.
    url = "http://news.nankai.edu.cn/pic/"
    while len(url) < n - 20:
        url += f"{rnd.randrange(10**7):07d}/"
    url = (url + "x" * n)[: n - 4] + ".jpg"
    links = [join(c) for c in url]
elif shape == "noise":
    links = [join(rnd.choice("bcdfgkmqvwxz")) for _ in range(n)]
else:
    links = [join(rnd.choice("abcdefg"), f"{root}p{i // 7}/") for i in range(n)]
with open(path, "w") as f:
    f.write("---\ntitle: bench\n---\n")
    for u in links:
        f.write(f"![图]({u})\n")
    f.write(f"\n[转入文章首发地址]({page})\n")
EOF
}

SHAPES_ALL="ordinary images backwards long noise pages"
printf '| links | shape | wall (s) | µs per link | vs ordinary | peak RSS (MiB) |\n'
printf '|---:|---|---:|---:|---:|---:|\n'
for n in $SIZES; do
    SHAPES=$SHAPES_ALL
    ((n > 10000)) && SHAPES=${SHAPES_ALL/ long/}
    for shape in $SHAPES; do
        mkdir -p "$WORK/$shape-$n"
        article "$shape" "$n" "$WORK/$shape-$n/article.md"
    done
    declare -A secs=()
    declare -A rss=()
    for shape in $SHAPES; do
        run_init X
        log "N=$n $shape"
        for ((r = 0; r < REPEAT; r++)); do
            # The default command: text summary, report to its default file.
            cd "$WORK/$shape-$n"
            run_once X "$shape" "0 1" "$ARCHIVE" --check --offline --config /dev/null article.md
            cd - >/dev/null
        done
        secs[$shape]=$X_secs
        rss[$shape]=$X_rss_kb
    done
    for shape in $SHAPES; do
        awk -v n="$n" -v s="$shape" -v t="${secs[$shape]}" -v b="${secs[ordinary]}" \
            -v r="${rss[$shape]}" 'BEGIN {
            printf "| %d | %s | %.3f | %.2f | %.2f× | %.1f |\n", n, s, t, 1e6 * t / n, t / b, r / 1024 }'
    done
done
