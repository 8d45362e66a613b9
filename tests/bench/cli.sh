#!/usr/bin/env bash
# CLI benchmarks: wall time and peak RSS of the release `kie` binary against the standalone
# KIE.AI emulator (a separate process, `--storage discard`), next to curl in the same run.
#
#   tests/bench/cli.sh             # from the workspace root; RUNS=3 by default
#
# Cases (every round runs all of them, interleaved; the table shows each case's median round):
#   memory  `kie upload` of a 16 MiB and a 256 MiB file: peak RSS must not grow with the size
#           (next to `curl -F file=@`)
#   many    200 x 1 MiB: `kie upload -j 4 <dir>` vs one `curl --parallel --parallel-max 4`
#           process, and vs a shell loop of `curl -F` (one file after another, as the vendor's
#           snippets do)
#
# Needs: cargo, curl (>= 7.66), GNU time at /usr/bin/time (`apt-get install -y time`), ~600 MB
# free in TMPDIR. Knobs: RUNS (3), BIG_MIB (256), MANY (200), MANY_SIZE (1048576), JOBS (4).
# Exits non-zero if a build, an upload or a check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-3}
BIG_MIB=${BIG_MIB:-256}
MANY=${MANY:-200}
MANY_SIZE=${MANY_SIZE:-1048576}
JOBS=${JOBS:-4}

fail() { echo "cli.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || fail "GNU time is missing at /usr/bin/time (apt-get install -y time)"
for tool in cargo curl head split; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
# Never talk to the real service, whatever the caller's environment holds.
unset KIE_API_KEY KIE_UPLOAD_BASE_URL KIE_API_BASE_URL

echo "== building (release)" >&2
cargo build --release --manifest-path "$ROOT/Cargo.toml" -p kie-cli --bin kie \
    -p kie-emulator --bin kie-emulator
KIE=$TARGET/release/kie
EMULATOR=$TARGET/release/kie-emulator

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kie-cli-bench.XXXXXX")
EMULATOR_PID=
cleanup() {
    if [ -n "$EMULATOR_PID" ]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$EMULATOR" --storage discard --port 0 >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMULATOR_PID=$!
for _ in $(seq 100); do
    grep -q '^KIE_API_KEY=' "$WORK/emulator.out" && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$WORK/emulator.err" >&2; fail "emulator exited"; }
    sleep 0.1
done
while IFS='=' read -r name value; do
    case $name in KIE_UPLOAD_BASE_URL | KIE_API_BASE_URL | KIE_API_KEY) export "$name=$value" ;; esac
done <"$WORK/emulator.out"
[ -n "${KIE_API_KEY:-}" ] || fail "the emulator printed no KIE_API_KEY line"
UPLOAD_URL=$KIE_UPLOAD_BASE_URL/api/file-stream-upload

echo "== creating inputs in $WORK" >&2
head -c $(( 16 << 20 )) /dev/urandom >"$WORK/small.bin"
head -c $(( BIG_MIB << 20 )) /dev/urandom >"$WORK/big.bin"
mkdir "$WORK/many"
head -c $(( MANY * MANY_SIZE )) /dev/urandom | split -b "$MANY_SIZE" -a 4 -d - "$WORK/many/f"
: >"$WORK/many.curlrc"
for file in "$WORK"/many/*; do
    [ -s "$WORK/many.curlrc" ] && echo next >>"$WORK/many.curlrc"
    printf 'url = "%s"\nheader = "Authorization: Bearer %s"\nform = "file=@%s"\nform = "uploadPath=bench"\nform = "fileName=%s"\nsilent\nshow-error\n' \
        "$UPLOAD_URL" "$KIE_API_KEY" "$file" "${file##*/}" >>"$WORK/many.curlrc"
done

# measure ORDER LABEL -- COMMAND...: one tab-separated line in $WORK/results (order, label,
# wall s, peak RSS KiB, CPU s); the command's stdout in $WORK/ORDER.out.
measure() {
    local order=$1 label=$2; shift 3
    local started ended
    started=$(date +%s%N)
    /usr/bin/time -v -o "$WORK/$order.time" "$@" >"$WORK/$order.out" 2>"$WORK/$order.err" ||
        { tail -n 5 "$WORK/$order.err" >&2; fail "$label failed"; }
    ended=$(date +%s%N)
    printf '%s\t%s\t%s\t%s\t%s\n' "$order" "$label" \
        "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
        "$(awk '/Maximum resident set size/ { print $NF }' "$WORK/$order.time")" \
        "$(awk '/User time|System time/ { s += $NF } END { print s }' "$WORK/$order.time")" \
        >>"$WORK/results"
    tail -n 1 "$WORK/results" >&2
}
# expect ORDER PATTERN COUNT: the stdout of run ORDER holds PATTERN COUNT times.
expect() {
    local found
    found=$(grep -o -- "$2" "$WORK/$1.out" | wc -l)
    [ "$found" -eq "$3" ] || fail "run $1: expected $3 x '$2', found $found"
}

for round in $(seq "$RUNS"); do
    echo "== round $round of $RUNS" >&2
    measure 1 "kie upload 16 MiB" -- "$KIE" upload --quiet --json --path bench "$WORK/small.bin"
    expect 1 "\"fileSize\":$(( 16 << 20 ))" 1
    measure 2 "kie upload $BIG_MIB MiB" -- "$KIE" upload --quiet --json --path bench "$WORK/big.bin"
    expect 2 "\"fileSize\":$(( BIG_MIB << 20 ))" 1
    measure 3 "curl -F $BIG_MIB MiB" -- curl -sS --fail-with-body -H "Authorization: Bearer $KIE_API_KEY" \
        -F "file=@$WORK/big.bin" -F uploadPath=bench -F fileName=big.bin "$UPLOAD_URL"
    expect 3 "\"fileSize\":$(( BIG_MIB << 20 ))" 1
    measure 4 "kie upload -j $JOBS, $MANY x 1 MiB" -- "$KIE" upload --quiet --json -j "$JOBS" --path bench "$WORK/many"
    expect 4 '"downloadUrl"' "$MANY"
    measure 5 "curl --parallel-max $JOBS, $MANY x 1 MiB" -- \
        curl --parallel --parallel-max "$JOBS" --config "$WORK/many.curlrc"
    expect 5 '"success":true' "$MANY"
    measure 6 "for f; do curl -F; done, $MANY x 1 MiB" -- bash -c '
        for file in "$1"/many/*; do
            curl -sS --fail-with-body -H "Authorization: Bearer $2" -F "file=@$file" \
                -F uploadPath=bench -F "fileName=${file##*/}" "$3"; echo
        done' _ "$WORK" "$KIE_API_KEY" "$UPLOAD_URL"
    expect 6 '"success":true' "$MANY"
done

echo
echo "CLI benchmarks: $RUNS rounds; $(nproc) cores; $(rustc --version); median round per case"
printf '%-40s %9s %11s %8s  %s\n' case wall "peak RSS" CPU "walls of all rounds (s)"
sort -t $'\t' -k1,1n -k3,3g "$WORK/results" | awk -F '\t' -v runs="$RUNS" '
    { n[$1]++; if (n[$1] == int((runs + 1) / 2)) row[$1] = $0
      walls[$1] = walls[$1] (walls[$1] == "" ? "" : " ") $3 }
    END { for (o = 1; o <= 6; o++) { split(row[o], f, "\t")
        printf "%-40s %8.3fs %7.1f MiB %7.2fs  %s\n", f[2], f[3], f[4] / 1024, f[5], walls[o] } }'
