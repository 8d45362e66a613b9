#!/usr/bin/env bash
# Task benchmarks against the standalone emulator (a separate process, so the client's RSS
# is its own), each case measured with GNU time:
#   1. kie-async `run_many` of TASKS tasks (1000) at concurrency CONC (64), tasks of
#      TASK_SECONDS (1 s generating + 0.5 s waiting/queuing): client peak RSS, CPU per task,
#      and requests per task (the emulator's count on exit) next to the poll policy's ideal.
#   2. A RESULT_MIB (1024) MiB result downloaded by kie-blocking's `download_result`
#      (download_result_to) next to `curl -s -o` of the same URL, interleaved, RUNS rounds.
#
#   tests/bench/jobs.sh        # from the workspace root
# Needs cargo, curl, GNU time at /usr/bin/time. Knobs: TASKS, CONC, TASK_SECONDS,
# RESULT_MIB, RUNS (3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TASKS=${TASKS:-1000}
CONC=${CONC:-64}
TASK_SECONDS=${TASK_SECONDS:-1}
RESULT_MIB=${RESULT_MIB:-1024}
RUNS=${RUNS:-3}
unset KIE_API_KEY KIE_UPLOAD_BASE_URL KIE_API_BASE_URL

cargo build --release --manifest-path "$ROOT/Cargo.toml" -q \
    -p kie-emulator --bin kie-emulator \
    -p kie-async --example run_many -p kie-blocking --example download_result
EMULATOR=$TARGET/release/kie-emulator
WORK=$(mktemp -d)
trap 'kill "${EMU_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_emulator() { # args: extra flags; sets EMU_PID and the KIE_* variables
    "$EMULATOR" "$@" >"$WORK/emu.out" 2>"$WORK/emu.err" &
    EMU_PID=$!
    for _ in $(seq 100); do grep -q KIE_API_KEY "$WORK/emu.out" 2>/dev/null && break; sleep 0.1; done
    set -a; . <(grep '^KIE_' "$WORK/emu.out"); set +a
}
stop_emulator() { kill -INT "$EMU_PID"; wait "$EMU_PID" 2>/dev/null || true; }
measure() { # label, command...: prints wall, RSS, CPU from GNU time
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "${@:2}" >"$WORK/out" 2>"$WORK/err"
    read -r wall rss user sys <"$WORK/time"
    echo "$1 $wall $rss $(echo "$user + $sys" | bc)"
}

echo "== run_many: $TASKS tasks, concurrency $CONC, ${TASK_SECONDS} s generating"
start_emulator --stats --task-seconds "$TASK_SECONDS" --create-limit 100000000 --credits 1000000000
read -r _ wall rss cpu < <(measure run_many "$TARGET/release/examples/run_many" "$TASKS" "$CONC" "$(echo "$TASK_SECONDS + 0.5" | bc)")
cat "$WORK/out"
stop_emulator
stats=$(grep 'requests:' "$WORK/emu.err")
creates=$(sed -n 's/.*CreateTask=\([0-9]*\).*/\1/p' <<<"$stats")
polls=$(sed -n 's/.*RecordInfo=\([0-9]*\).*/\1/p' <<<"$stats")
ideal=$(sed -n 's/ideal_polls_per_task=//p' "$WORK/out")
printf 'wall %.2f s, client peak RSS %.1f MiB, CPU %.2f s (%.2f ms per task)\n' "$wall" "$(echo "$rss / 1024" | bc -l)" "$cpu" "$(echo "$cpu * 1000 / $TASKS" | bc -l)"
printf 'requests per task: %.2f creates + %.2f polls (ideal for the policy: 1 + %s)\n' \
    "$(echo "$creates / $TASKS" | bc -l)" "$(echo "$polls / $TASKS" | bc -l)" "$ideal"

echo "== result download: $RESULT_MIB MiB, $RUNS rounds"
head -c $((RESULT_MIB * 1024 * 1024)) /dev/urandom >"$WORK/result.mp4"
start_emulator --generated-file "$WORK/result.mp4"
URL=$(sed -n 's/^KIE_GENERATED_URL=//p' "$WORK/emu.out")
for round in $(seq "$RUNS"); do
    measure "sdk" "$TARGET/release/examples/download_result" "$URL" "$WORK/sdk.out"
    cmp -s "$WORK/sdk.out" "$WORK/result.mp4" || { echo "sdk download differs" >&2; exit 1; }
    measure "curl" curl -s -o "$WORK/curl.out" "$URL"
    cmp -s "$WORK/curl.out" "$WORK/result.mp4" || { echo "curl download differs" >&2; exit 1; }
done | awk '{printf "%-5s wall %6.2f s  peak RSS %7.1f MiB  CPU %5.2f s\n", $1, $2, $3/1024, $4}'
stop_emulator
