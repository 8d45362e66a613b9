#!/usr/bin/env bash
# `kie run --batch` of TASKS (200) tasks on the standalone emulator, at the account's
# documented create window (20 per 10 s, the emulator's default too) and -j CONC (20):
# the wall time and the requests the emulator counted, next to the ideal — the last create
# the window admits (kie paces with 5 % slack: the window counts arrivals), plus one task
# (TASK_SECONDS generating + 0.5 s waiting/queuing) seen at the poll policy's next poll,
# and per task 1 create, the policy's polls and 1 download.
#
#   tests/bench/kie-run-batch.sh        # from the workspace root
# Needs cargo, GNU time at /usr/bin/time, bc. Knobs: TASKS, CONC, TASK_SECONDS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TASKS=${TASKS:-200}
CONC=${CONC:-20}
TASK_SECONDS=${TASK_SECONDS:-1}
unset KIE_API_KEY KIE_UPLOAD_BASE_URL KIE_API_BASE_URL

cargo build --release --manifest-path "$ROOT/Cargo.toml" -q \
    -p kie-emulator --bin kie-emulator -p kie-cli --bin kie
WORK=$(mktemp -d)
trap 'kill "${EMU_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$TARGET/release/kie-emulator" --stats --task-seconds "$TASK_SECONDS" --credits 1000000000 \
    >"$WORK/emu.out" 2>"$WORK/emu.err" &
EMU_PID=$!
for _ in $(seq 100); do grep -q KIE_API_KEY "$WORK/emu.out" 2>/dev/null && break; sleep 0.1; done
set -a; . <(grep '^KIE_' "$WORK/emu.out"); set +a

for i in $(seq "$TASKS"); do echo "{\"prompt\":\"task $i\"}"; done >"$WORK/batch.ndjson"
echo "== kie run --batch: $TASKS tasks, -j $CONC, creates paced to 20 per 10 s"
/usr/bin/time -f "%e %M %U %S" -o "$WORK/time" \
    "$TARGET/release/kie" run google/nano-banana --batch "$WORK/batch.ndjson" -j "$CONC" \
    -o "$WORK/out" --json -q >"$WORK/lines" 2>"$WORK/err" || true
kill -INT "$EMU_PID"; wait "$EMU_PID" 2>/dev/null || true
read -r wall rss user sys <"$WORK/time"
stats=$(grep 'requests:' "$WORK/emu.err")
count() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$stats"; }
creates=$(count CreateTask); polls=$(count RecordInfo); downloads=$(count Files)
succeeded=$(grep -c '"state":"success"' "$WORK/lines" || true)
# The ideal: windows of 20 creates 10.5 s apart; the last task's run; its next poll.
windows=$(( (TASKS + 19) / 20 - 1 ))
task=$(echo "$TASK_SECONDS + 0.5" | bc)
# The poll policy for a task created a moment ago: the first poll 2 s after the create,
# then 3 s, 4.5 s … apart (no jitter): the poll that first sees the task finished.
ideal_polls=1; at=2; gap=3
while (( $(echo "$at < $task" | bc) )); do at=$(echo "$at + $gap" | bc); gap=$(echo "$gap * 1.5" | bc); ideal_polls=$((ideal_polls + 1)); done
ideal_wall=$(echo "$windows * 10.5 + $at" | bc)
printf '%s of %s succeeded; wall %.1f s (ideal %.1f s: %d windows of 10.5 s + the last task seen at %.1f s)\n' \
    "$succeeded" "$TASKS" "$wall" "$ideal_wall" "$windows" "$at"
printf 'requests: %d creates, %d polls (%.2f per task; ideal %d), %s downloads; kie peak RSS %.1f MiB, CPU %.2f s\n' \
    "$creates" "$polls" "$(echo "$polls / $TASKS" | bc -l)" "$ideal_polls" "${downloads:-?}" \
    "$(echo "$rss / 1024" | bc -l)" "$(echo "$user + $sys" | bc)"
