#!/usr/bin/env bash
# Uploads against curl into `kie-sink`, an upload host that only counts bytes (so the
# server is never the bottleneck, as the emulator is in drivers.sh), interleaved, RUNS
# rounds; each row prints SDK / curl wall time (< 1: faster), peak RSS and CPU (GNU time),
# and the median ratio of the rounds.
#
#   tests/bench/sink.sh        # from the workspace root; RUNS=5 by default
#
# Cases:
#   blocking-1g  kie-blocking `upload <1 GiB file>`        vs  curl -F file=@<file>
#   kie-1g       `kie upload <1 GiB file>` (kie-async)      vs  curl -F file=@<file>
#   kie-j4       `kie upload -j 4` 200 x 1 MiB              vs  one curl --parallel --parallel-max 4
#   many-c32     kie-async `upload_many -c 32` 2000 x 4 KiB vs  one curl --parallel --parallel-max 32
# Needs cargo, curl (>= 7.66), GNU time at /usr/bin/time, ~1.3 GB in TMPDIR. Knobs: RUNS,
# CASES (space-separated subset of the names above), BEFORE (the release directory of an
# older build — `kie`, `examples/upload`, `examples/upload_many` — measured in the same
# rounds, for a before/after in one run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-5}
BEFORE=${BEFORE:-}
CASES=${CASES:-blocking-1g kie-1g kie-j4 many-c32}
unset KIE_UPLOAD_BASE_URL KIE_API_BASE_URL KIE_UPLOAD_BASE64 KIE_CONCURRENCY KIE_EMULATOR_STORAGE
[ -x /usr/bin/time ] || { echo "sink.sh: GNU time is missing at /usr/bin/time" >&2; exit 1; }

cargo build --release --manifest-path "$ROOT/Cargo.toml" -q -p kie-tests --bin kie-sink \
    -p kie-cli --bin kie -p kie-blocking --example upload -p kie-async --example upload_many
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kie-sink.XXXXXX")
trap 'kill "${SINK_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$TARGET/release/kie-sink" --port 0 >"$WORK/sink.out" &
SINK_PID=$!
for _ in $(seq 50); do grep -q KIE_UPLOAD_BASE_URL "$WORK/sink.out" && break; sleep 0.1; done
export KIE_UPLOAD_BASE_URL=$(sed -n 's/^KIE_UPLOAD_BASE_URL=//p' "$WORK/sink.out")
export KIE_API_KEY=sink-key
URL=$KIE_UPLOAD_BASE_URL/api/file-stream-upload

head -c $((1024 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
mkdir "$WORK/mib" "$WORK/small"
head -c $((200 * 1024 * 1024)) /dev/urandom | split -b 1048576 -a 3 -d - "$WORK/mib/f"
head -c $((2000 * 4096)) /dev/urandom | split -b 4096 -a 4 -d - "$WORK/small/f"
curlrc() { # DIR OUT: one curl config uploading every file of DIR
    : >"$2"
    for file in "$1"/*; do
        [ -s "$2" ] && echo next >>"$2"
        printf 'url = "%s"\nform = "uploadPath=bench"\nform = "file=@%s"\nsilent\nshow-error\noutput = "/dev/null"\n' \
            "$URL" "$file" >>"$2"
    done
}
curlrc "$WORK/mib" "$WORK/mib.curlrc"
curlrc "$WORK/small" "$WORK/small.curlrc"

# run LABEL COMMAND...: prints "wall rss_kib cpu_s" of one run (stdout of the command dropped).
run() {
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "${@:2}" >/dev/null 2>"$WORK/err" \
        || { cat "$WORK/err" >&2; echo "sink.sh: $1 failed" >&2; exit 1; }
    read -r wall rss user sys <"$WORK/time"
    echo "$wall $rss $(echo "$user + $sys" | bc)"
}

# bench NAME -- SDK COMMAND... -- CURL COMMAND... ({bin} in SDK COMMAND is the release
# directory: this build's, and BEFORE's when given).
bench() {
    local name=$1; shift 2
    local sdk=() curl=()
    while [ "$1" != "--" ]; do sdk+=("$1"); shift; done
    shift
    curl=("$@")
    local ratios=() before_ratios=()
    echo "== $name"
    for round in $(seq "$RUNS"); do
        read -r sw sr sc < <(run "$name sdk" "${sdk[@]//\{bin\}/$TARGET/release}")
        read -r cw cr cc < <(run "$name curl" "${curl[@]}")
        ratio=$(echo "scale=3; $sw / $cw" | bc)
        ratios+=("$ratio")
        printf '  round %d: sdk %6.2f s %7.1f MiB cpu %6.2f s | curl %6.2f s %7.1f MiB cpu %6.2f s | wall %sx cpu %sx\n' \
            "$round" "$sw" "$(echo "$sr/1024" | bc -l)" "$sc" "$cw" "$(echo "$cr/1024" | bc -l)" "$cc" \
            "$ratio" "$(echo "scale=2; $sc / $cc" | bc)"
        if [ -n "$BEFORE" ]; then
            read -r bw br bc_ < <(run "$name before" "${sdk[@]//\{bin\}/$BEFORE}")
            before_ratios+=("$(echo "scale=3; $bw / $cw" | bc)")
            printf '           before %6.2f s %7.1f MiB cpu %6.2f s | wall %sx of curl, cpu %sx\n' \
                "$bw" "$(echo "$br/1024" | bc -l)" "$bc_" "${before_ratios[-1]}" "$(echo "scale=2; $bc_ / $cc" | bc)"
        fi
    done
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
    printf '  median wall ratio: %sx' "$(median "${ratios[@]}")"
    [ -n "$BEFORE" ] && printf ' (before: %sx)' "$(median "${before_ratios[@]}")"
    echo
}

for name in $CASES; do
    case $name in
        blocking-1g) bench "$name" -- "{bin}/examples/upload" "$WORK/big.bin" \
            -- curl -sS -o /dev/null -F uploadPath=bench -F "file=@$WORK/big.bin" "$URL" ;;
        kie-1g) bench "$name" -- "{bin}/kie" upload -q "$WORK/big.bin" \
            -- curl -sS -o /dev/null -F uploadPath=bench -F "file=@$WORK/big.bin" "$URL" ;;
        kie-j4) bench "$name" -- "{bin}/kie" upload -q -j 4 "$WORK/mib" \
            -- curl --parallel --parallel-max 4 -K "$WORK/mib.curlrc" ;;
        many-c32) bench "$name" -- "{bin}/examples/upload_many" --concurrency 32 "$WORK/small" \
            -- curl --parallel --parallel-max 32 -K "$WORK/small.curlrc" ;;
        *) echo "sink.sh: unknown case $name" >&2; exit 1 ;;
    esac
done
