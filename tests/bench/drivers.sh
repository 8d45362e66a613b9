#!/usr/bin/env bash
# Driver benchmarks: wall time, peak RSS and CPU of the kie-blocking and kie-async examples
# against the standalone KIE.AI emulator, each next to a named curl baseline measured in the
# same run (interleaved, RUNS rounds; the table shows the median-wall-time round).
#
#   tests/bench/drivers.sh            # from the workspace root; RUNS=3 by default
#
# Cases (content goes to `kie-emulator --storage discard`, a separate process, so each
# client's RSS is the client's alone; the emulator's own peak RSS is a separate column):
#   1 GiB stream  kie-blocking `upload <file>`            vs  curl -F file=@<file> (multipart from disk)
#   1 GiB base64  kie-blocking `upload --base64 <file>`   vs  base64 -w0 <file> in a pipe | curl -T - (streamed, chunked)
#   2000 x 4 KiB  kie-async `upload_many --concurrency 32` vs  one curl process, --parallel --parallel-max 32
#                 (reference row: xargs -P 32 curl, one process and connection per file)
#   2000 x 4 KiB over TLS  kie-async `upload_many --http2`  vs  the same over HTTP/1.1 (the default)
#                 (through `kie-tls-front`, a TLS front offering h2 and http/1.1 by ALPN whose
#                 test CA the client trusts through SSL_CERT_FILE; it forwards each request
#                 to the emulator over a new HTTP/1.1 connection, the same cost in both rows)
#
# Needs: cargo, curl (>= 7.66 for --parallel), GNU time at /usr/bin/time
# (`apt-get install -y time`), base64, ~3.5 GB free in TMPDIR. Builds into CARGO_TARGET_DIR
# (default: <workspace>/target). Knobs: RUNS, BIG_MIB (1024), MANY (2000), MANY_SIZE (4096),
# CONCURRENCY (32), CASES (all: every group; many: only the 2000 x 4 KiB group, which
# skips the 1 GiB input; big: only the two 1 GiB groups). Exits non-zero if a build, an
# upload or a check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-3}
BIG_MIB=${BIG_MIB:-1024}
BIG_BYTES=$(( BIG_MIB * 1024 * 1024 ))
MANY=${MANY:-2000}
MANY_SIZE=${MANY_SIZE:-4096}
CONCURRENCY=${CONCURRENCY:-32}
CASES=${CASES:-all}
case $CASES in
    all | many | big) ;;
    *) echo "drivers.sh: CASES must be all, many or big (got '$CASES')" >&2; exit 1 ;;
esac

fail() { echo "drivers.sh: $*" >&2; exit 1; }

[ -x /usr/bin/time ] || fail "GNU time is missing at /usr/bin/time (apt-get install -y time)"
for tool in cargo curl base64 head split xargs; do
    command -v "$tool" >/dev/null || fail "$tool is missing"
done
# Never talk to the real service, whatever the caller's environment holds.
unset KIE_API_KEY KIE_UPLOAD_BASE_URL KIE_API_BASE_URL KIE_UPLOAD_BASE64 KIE_CONCURRENCY \
    KIE_EMULATOR_STORAGE

# --- 1. Build the release examples and the emulator ---------------------------------------
echo "== building (release)" >&2
cargo build --release --manifest-path "$ROOT/Cargo.toml" \
    -p kie-emulator --bin kie-emulator -p kie-tests --bin kie-tls-front \
    -p kie-blocking --example upload \
    -p kie-async --example upload_many
EMULATOR=$TARGET/release/kie-emulator
TLS_FRONT=$TARGET/release/kie-tls-front
UPLOAD=$TARGET/release/examples/upload
UPLOAD_MANY=$TARGET/release/examples/upload_many
for bin in "$EMULATOR" "$TLS_FRONT" "$UPLOAD" "$UPLOAD_MANY"; do
    [ -x "$bin" ] || fail "not built: $bin (is CARGO_TARGET_DIR right?)"
done

# --- 2. Scratch directory and the emulator (both cleaned up at exit) ----------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kie-bench.XXXXXX")
EMULATOR_PID=
FRONT_PID=
cleanup() {
    if [ -n "$FRONT_PID" ]; then
        kill "$FRONT_PID" 2>/dev/null || true
        wait "$FRONT_PID" 2>/dev/null || true
    fi
    if [ -n "$EMULATOR_PID" ]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# base64 of the big file plus the JSON framing, with room to spare.
JSON_LIMIT=$(( BIG_BYTES / 3 * 4 + (1 << 20) ))
"$EMULATOR" --storage discard --port 0 --json-body-limit "$JSON_LIMIT" \
    >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMULATOR_PID=$!
for _ in $(seq 100); do
    grep -q '^KIE_API_KEY=' "$WORK/emulator.out" && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$WORK/emulator.err" >&2; fail "emulator exited"; }
    sleep 0.1
done
while IFS='=' read -r name value; do
    case $name in
        KIE_UPLOAD_BASE_URL | KIE_API_BASE_URL | KIE_API_KEY) export "$name=$value" ;;
    esac
done <"$WORK/emulator.out"
[ -n "${KIE_API_KEY:-}" ] || fail "the emulator printed no KIE_API_KEY line"
echo "== emulator pid $EMULATOR_PID at $KIE_UPLOAD_BASE_URL" >&2
"$TLS_FRONT" --upstream "${KIE_UPLOAD_BASE_URL#http://}" --ca-out "$WORK/front-ca.pem" \
    >"$WORK/front.out" 2>"$WORK/front.err" &
FRONT_PID=$!
for _ in $(seq 100); do
    grep -q '^KIE_TLS_FRONT_URL=' "$WORK/front.out" && break
    kill -0 "$FRONT_PID" 2>/dev/null || { cat "$WORK/front.err" >&2; fail "TLS front exited"; }
    sleep 0.1
done
FRONT_URL=$(sed -n 's/^KIE_TLS_FRONT_URL=//p' "$WORK/front.out")
[ -n "$FRONT_URL" ] || fail "the TLS front printed no URL"

# --- 3. Inputs ------------------------------------------------------------------------------
echo "== creating inputs in $WORK" >&2
BIG=$WORK/big.bin
[ "$CASES" = many ] || head -c "$BIG_BYTES" /dev/urandom >"$BIG"
mkdir "$WORK/many"
head -c $(( MANY * MANY_SIZE )) /dev/urandom | split -b "$MANY_SIZE" -a 5 -d - "$WORK/many/f"
MANY_BYTES=$(( MANY * MANY_SIZE ))
# One curl process uploading every small file, 32 at a time over reused connections.
: >"$WORK/many.curlrc"
for file in "$WORK"/many/*; do
    [ -s "$WORK/many.curlrc" ] && echo 'next' >>"$WORK/many.curlrc"
    cat >>"$WORK/many.curlrc" <<EOF
url = "$KIE_UPLOAD_BASE_URL/api/file-stream-upload"
header = "Authorization: Bearer $KIE_API_KEY"
form = "file=@$file"
form = "uploadPath=kie-rs/examples/many"
form = "fileName=${file##*/}"
silent
show-error
EOF
done

# --- 4. Measuring ---------------------------------------------------------------------------
# measure ORDER GROUP BASELINE(0|1) BYTES FILES LABEL -- COMMAND...
# Runs COMMAND under GNU time (stdout/stderr to $WORK/<ORDER>.out/.err) and appends one
# tab-separated line to $WORK/results: order, group, baseline flag, label, wall seconds,
# client peak RSS KiB, CPU seconds (user+sys, all processes), emulator peak RSS KiB, bytes,
# files, round. Wall time is taken around GNU time, so it includes its fork (well under 1 ms). The emulator's peak RSS is reset before the command (/proc/PID/clear_refs = 5).
measure() {
    local order=$1 group=$2 baseline=$3 bytes=$4 files=$5 label=$6
    shift 7
    local out=$WORK/$order
    local started ended wall rss cpu emulator_rss
    echo 5 >"/proc/$EMULATOR_PID/clear_refs"
    started=$(date +%s%N)
    if ! /usr/bin/time -v -o "$out.time" "$@" >"$out.out" 2>"$out.err"; then
        tail -n 5 "$out.err" >&2
        fail "$label failed"
    fi
    ended=$(date +%s%N)
    kill -0 "$EMULATOR_PID" 2>/dev/null || fail "the emulator died during: $label"
    # Wall time in ms resolution (GNU time's own "Elapsed" has 10 ms).
    wall=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    rss=$(awk '/Maximum resident set size/ { print $NF }' "$out.time")
    cpu=$(awk '/User time|System time/ { s += $NF } END { print s }' "$out.time")
    emulator_rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EMULATOR_PID/status")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$order" "$group" "$baseline" \
        "$label" "$wall" "$rss" "$cpu" "$emulator_rss" "$bytes" "$files" "$round" >>"$WORK/results"
    printf '   %-44s %7.2f s %9d KiB\n' "$label" "$wall" "$rss" >&2
}

# expect ORDER PATTERN COUNT FILE: FILE of the last ORDER run holds PATTERN at least COUNT times.
expect() {
    local found
    found=$(grep -o -- "$2" "$WORK/$1.$4" | wc -l)
    [ "$found" -ge "$3" ] || fail "run $1: expected $3 x '$2' in its $4, found $found"
}

for round in $(seq "$RUNS"); do
    echo "== round $round of $RUNS" >&2

    if [ "$CASES" != many ]; then
        measure 1 "$BIG_MIB MiB stream" 0 "$BIG_BYTES" 1 "kie-blocking upload (stream)" -- \
            "$UPLOAD" "$BIG"
        expect 1 "uploaded $BIG_BYTES bytes" 1 err
        measure 2 "$BIG_MIB MiB stream" 1 "$BIG_BYTES" 1 "baseline: curl -F file=@" -- \
            curl -sS --fail-with-body -H "Authorization: Bearer $KIE_API_KEY" \
            -F "file=@$BIG" -F "uploadPath=kie-rs/examples" -F "fileName=big.bin" \
            "$KIE_UPLOAD_BASE_URL/api/file-stream-upload"
        expect 2 "\"fileSize\":$BIG_BYTES" 1 out

        measure 3 "$BIG_MIB MiB base64" 0 "$BIG_BYTES" 1 "kie-blocking upload --base64" -- \
            "$UPLOAD" --base64 "$BIG"
        expect 3 "uploaded $BIG_BYTES bytes" 1 err
        # The same data-URL JSON the SDK sends, encoded on the fly and streamed (chunked).
        measure 4 "$BIG_MIB MiB base64" 1 "$BIG_BYTES" 1 "baseline: base64 -w0 | curl -T -" -- \
            bash -c 'set -o pipefail
                { printf "%s" "{\"base64Data\":\"data:application/octet-stream;base64,"
                  base64 -w0 "$1"
                  printf "%s" "\",\"uploadPath\":\"kie-rs/examples\",\"fileName\":\"big.b64\"}"
                } | curl -sS --fail-with-body -X POST -T - \
                    -H "Authorization: Bearer $2" -H "Content-Type: application/json" "$3"' \
            _ "$BIG" "$KIE_API_KEY" "$KIE_UPLOAD_BASE_URL/api/file-base64-upload"
        expect 4 "\"fileSize\":$BIG_BYTES" 1 out
    fi

    [ "$CASES" = big ] && continue
    measure 5 "$MANY x $MANY_SIZE B" 0 "$MANY_BYTES" "$MANY" \
        "kie-async upload_many -c $CONCURRENCY" -- \
        "$UPLOAD_MANY" --concurrency "$CONCURRENCY" "$WORK/many"
    expect 5 "^$MANY uploaded" 1 err
    measure 6 "$MANY x $MANY_SIZE B" 1 "$MANY_BYTES" "$MANY" \
        "baseline: curl --parallel-max $CONCURRENCY" -- \
        curl --parallel --parallel-max "$CONCURRENCY" --config "$WORK/many.curlrc"
    expect 6 '"success":true' "$MANY" out
    measure 7 "$MANY x $MANY_SIZE B" 2 "$MANY_BYTES" "$MANY" \
        "reference: xargs -P $CONCURRENCY curl" -- \
        bash -c 'cd "$1/many" && ls | xargs -P "$2" -I{} curl -sS --fail-with-body \
            -H "Authorization: Bearer $3" -F "file=@{}" \
            -F "uploadPath=kie-rs/examples/many" -F "fileName={}" "$4"' \
        _ "$WORK" "$CONCURRENCY" "$KIE_API_KEY" "$KIE_UPLOAD_BASE_URL/api/file-stream-upload"
    expect 7 '"success":true' "$MANY" out

    measure 8 "$MANY x $MANY_SIZE B TLS" 0 "$MANY_BYTES" "$MANY" \
        "kie-async upload_many -c $CONCURRENCY, --http2" -- \
        env SSL_CERT_FILE="$WORK/front-ca.pem" KIE_UPLOAD_BASE_URL="$FRONT_URL" \
        "$UPLOAD_MANY" --http2 --concurrency "$CONCURRENCY" "$WORK/many"
    expect 8 "^$MANY uploaded" 1 err
    measure 9 "$MANY x $MANY_SIZE B TLS" 1 "$MANY_BYTES" "$MANY" \
        "baseline: the same over HTTP/1.1" -- \
        env SSL_CERT_FILE="$WORK/front-ca.pem" KIE_UPLOAD_BASE_URL="$FRONT_URL" \
        "$UPLOAD_MANY" --concurrency "$CONCURRENCY" "$WORK/many"
    expect 9 "^$MANY uploaded" 1 err
done

# --- 5. Report --------------------------------------------------------------------------------
# Per case, the round with the median wall time (its wall, RSS, CPU, throughput). "time x" is
# the median over rounds of wall / the group baseline's wall *in the same round* (robust to
# load that changes between rounds); "RSS x" compares the median rounds' peak RSS.
# x > 1 = slower / more memory than the baseline.
awk -F '\t' '
    NR == FNR { if ($3 == 1) base[$2 SUBSEP $11] = $5; next }
    { printf "%s\t%.6f\n", $1, $5 / base[$2 SUBSEP $11] }' "$WORK/results" "$WORK/results" |
    sort -t $'\t' -k1,1n -k2,2g >"$WORK/ratios"
echo
echo "Driver benchmarks: $RUNS rounds; $(nproc) cores; $(rustc --version)"
sort -t $'\t' -k1,1n -k5,5g "$WORK/results" | awk -F '\t' -v runs="$RUNS" -v ratios="$WORK/ratios" '
    BEGIN {
        mid = int((runs + 1) / 2)
        while ((getline line < ratios) > 0) {
            split(line, r, "\t"); k[r[1]]++
            if (k[r[1]] == mid) time_x[r[1]] = r[2]
        }
    }
    { n[$1]++; if (n[$1] == mid) row[$1] = $0
      walls[$1] = walls[$1] (walls[$1] == "" ? "" : " ") sprintf("%.2f", $5) }
    END {
        for (o = 1; o <= 9; o++) {
            if (!(o in row)) continue
            split(row[o], f, "\t")
            if (f[3] == 1) base_rss[f[2]] = f[6]
        }
        printf "%-16s %-36s %8s %10s %7s %16s %7s %6s %11s  %s\n", "group", "case", "wall",
            "peak RSS", "CPU", "throughput", "time x", "RSS x", "emulator", "walls of all rounds (s)"
        for (o = 1; o <= 9; o++) {
            if (!(o in row)) continue
            split(row[o], f, "\t")
            mib = f[9] / 1048576 / f[5]
            tput = f[10] > 1 ? sprintf("%.0f files/s", f[10] / f[5]) : sprintf("%.0f MiB/s", mib)
            printf "%-16s %-36s %7.3fs %6.1f MiB %6.2fs %16s %6.2fx %5.2fx %7.1f MiB  %s\n",
                f[2], f[4], f[5], f[6] / 1024, f[7], tput, time_x[o], f[6] / base_rss[f[2]],
                f[8] / 1024, walls[o]
        }
    }'
