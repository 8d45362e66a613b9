#!/usr/bin/env bash
# Uploads against curl into `kie-sink`, an upload host that only counts bytes (so the
# server is never the bottleneck, as the emulator is in drivers.sh), interleaved, RUNS
# rounds; each row prints SDK / curl wall time (< 1: faster), peak RSS and CPU (GNU time),
# and the median ratio of the rounds.
#
#   tests/bench/sink.sh        # from the workspace root; RUNS=5 by default
#
# Cases (SDK first, baseline second):
#   blocking-1g  kie-blocking `upload <1 GiB file>`          vs  curl -F file=@<file>
#   base64-1g    kie-blocking `upload --base64 <1 GiB file>` vs  base64 -w0 <file> in a pipe | curl -T -
#   kie-1g       `kie upload <1 GiB file>` (kie-async)        vs  curl -F file=@<file>
#   kie-j4       `kie upload -j 4` MIB x 1 MiB                vs  one curl --parallel --parallel-max 4
#   many-c32     kie-async `upload_many -c 32` SMALL x 4 KiB  vs  one curl --parallel --parallel-max 32
#   kie-c32      `kie upload -j 32` SMALL x 4 KiB             vs  the same curl
#   dl-blocking  kie-blocking `download_result` 1 GiB to a file vs curl -o <file>
#   dl-async     kie-async `download_many` 1 GiB to a file    vs  curl -o <file>
#   tls-h2       `upload_many -c 32 --http2` SMALL x 4 KiB    vs  the same over HTTP/1.1 (the
#                default), both over TLS to the sink (`--tls`: h2 and http/1.1 by ALPN)
#   rtt-h2       `upload_many --http2` one 256 MiB file       vs  the same over HTTP/1.1, over
#                TLS through `kie-delay` (10 ms each way, a 4 MiB window: a 20 ms round trip)
# Needs cargo, curl (>= 7.66), GNU time at /usr/bin/time, base64, ~3 GB in TMPDIR. Knobs:
# SMALL (how many 4 KiB files, 20000 by default: 2000 take ~0.1 s, too close to GNU time's
# 10 ms resolution for a CPU ratio), MIB (how many 1 MiB files, 200 by default, as the issue
# measured: 0.09 s; 1000 for a CPU ratio), RUNS, CASES (space-separated subset of the names
# above), BEFORE (the release directory of an older build — `kie`, `examples/upload`,
# `examples/upload_many`, … — measured in the same rounds, for a before/after in one run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-5}
SMALL=${SMALL:-20000}
MIB=${MIB:-200}
BEFORE=${BEFORE:-}
CASES=${CASES:-blocking-1g base64-1g kie-1g kie-j4 many-c32 kie-c32 dl-blocking dl-async tls-h2 rtt-h2}
unset KIE_UPLOAD_BASE_URL KIE_API_BASE_URL KIE_UPLOAD_BASE64 KIE_CONCURRENCY KIE_EMULATOR_STORAGE
[ -x /usr/bin/time ] || { echo "sink.sh: GNU time is missing at /usr/bin/time" >&2; exit 1; }

cargo build --release --manifest-path "$ROOT/Cargo.toml" -q -p kie-tests --bin kie-sink \
    --bin kie-delay -p kie-cli --bin kie -p kie-blocking --example upload \
    --example download_result -p kie-async --example upload_many --example download_many
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kie-sink.XXXXXX")
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# serve NAME VAR COMMAND...: starts a helper (killed on exit) and waits for its VAR=...
# line; `served NAME VAR` then prints the value.
serve() {
    "${@:3}" >"$WORK/$1.out" &
    PIDS+=($!)
    for _ in $(seq 50); do grep -q "^$2=" "$WORK/$1.out" && break; sleep 0.1; done
}
served() { sed -n "s/^$2=//p" "$WORK/$1.out"; }
serve sink KIE_UPLOAD_BASE_URL "$TARGET/release/kie-sink" --port 0
serve tls-sink KIE_UPLOAD_BASE_URL "$TARGET/release/kie-sink" --port 0 --tls "$WORK/ca.pem"
SINK=$(served sink KIE_UPLOAD_BASE_URL)
TLS_SINK=$(served tls-sink KIE_UPLOAD_BASE_URL)
serve delay KIE_DELAY_ADDR "$TARGET/release/kie-delay" --upstream "${TLS_SINK#https://}" --delay-ms 10
DELAY=$(served delay KIE_DELAY_ADDR)
[ -n "$SINK" ] && [ -n "$TLS_SINK" ] && [ -n "$DELAY" ] || { echo "sink.sh: a helper did not start" >&2; exit 1; }
export KIE_UPLOAD_BASE_URL=$SINK KIE_API_KEY=sink-key SSL_CERT_FILE=$WORK/ca.pem
URL=$KIE_UPLOAD_BASE_URL/api/file-stream-upload

head -c $((1024 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
mkdir "$WORK/mib" "$WORK/small"
head -c $((MIB * 1024 * 1024)) /dev/urandom | split -b 1048576 -a 4 -d - "$WORK/mib/f"
head -c $((SMALL * 4096)) /dev/urandom | split -b 4096 -a 6 -d - "$WORK/small/f"
mkdir "$WORK/rtt" && head -c $((256 * 1024 * 1024)) "$WORK/big.bin" >"$WORK/rtt/big.bin"
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
    # Each run starts without the last download's file, and with nothing of it left to
    # write back to disk (which would land on whichever command runs next).
    rm -f "$WORK/out.bin"
    sync
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "${@:2}" >/dev/null 2>"$WORK/err" \
        || { cat "$WORK/err" >&2; echo "sink.sh: $1 failed" >&2; exit 1; }
    read -r wall rss user sys <"$WORK/time"
    echo "$wall $rss $(echo "$user + $sys" | bc)"
}

# base64-curl FILE: the base64 endpoint's JSON body, the content encoded by base64(1) in a
# pipe, streamed by curl (chunked).
cat >"$WORK/base64-curl" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
{ printf '{"uploadPath":"bench","fileName":"big.bin","base64Data":"'; base64 -w0 "$1"; printf '"}'; } |
    curl -sS --fail -o /dev/null -X POST -H 'Content-Type: application/json' -T - \
        "$KIE_UPLOAD_BASE_URL/api/file-base64-upload"
EOF
chmod +x "$WORK/base64-curl"

# bench NAME [BASELINE] -- SDK COMMAND... -- BASELINE COMMAND... ({bin} in SDK COMMAND is
# the release directory: this build's, and BEFORE's when given and it has that program).
# BASELINE names the second command in the report (curl unless given).
bench() {
    local name=$1 base=curl; shift
    if [ "$1" != "--" ]; then base=$1; shift; fi
    shift
    local sdk=() curl=()
    while [ "$1" != "--" ]; do sdk+=("$1"); shift; done
    shift
    curl=("$@")
    local ratios=() cpu_ratios=() before_ratios=() before=$BEFORE program
    program=$(printf '%s\n' "${sdk[@]}" | grep -m1 '{bin}')
    if [ -n "$before" ] && [ ! -x "${program//\{bin\}/$before}" ]; then
        echo "  (no ${program//\{bin\}/BEFORE} in the older build: no before figures)"
        before=
    fi
    echo "== $name"
    for round in $(seq "$RUNS"); do
        read -r sw sr sc < <(run "$name sdk" "${sdk[@]//\{bin\}/$TARGET/release}")
        read -r cw cr cc < <(run "$name $base" "${curl[@]}")
        ratio=$(echo "scale=3; $sw / $cw" | bc)
        ratios+=("$ratio")
        cpu_ratios+=("$(echo "scale=3; $sc / $cc" | bc)")
        printf '  round %d: sdk %6.2f s %7.1f MiB cpu %6.2f s | %s %6.2f s %7.1f MiB cpu %6.2f s | wall %sx cpu %sx\n' \
            "$round" "$sw" "$(echo "$sr/1024" | bc -l)" "$sc" "$base" "$cw" "$(echo "$cr/1024" | bc -l)" "$cc" \
            "$ratio" "$(echo "scale=2; $sc / $cc" | bc)"
        if [ -n "$before" ]; then
            read -r bw br bc_ < <(run "$name before" "${sdk[@]//\{bin\}/$before}")
            before_ratios+=("$(echo "scale=3; $bw / $cw" | bc)")
            printf '           before %6.2f s %7.1f MiB cpu %6.2f s | wall %sx of the baseline, cpu %sx\n' \
                "$bw" "$(echo "$br/1024" | bc -l)" "$bc_" "${before_ratios[-1]}" "$(echo "scale=2; $bc_ / $cc" | bc)"
        fi
    done
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
    printf '  median wall ratio: %sx, cpu ratio: %sx' "$(median "${ratios[@]}")" "$(median "${cpu_ratios[@]}")"
    [ -n "$before" ] && printf ' (before: %sx)' "$(median "${before_ratios[@]}")"
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
        kie-c32) bench "$name" -- "{bin}/kie" upload -q -j 32 "$WORK/small" \
            -- curl --parallel --parallel-max 32 -K "$WORK/small.curlrc" ;;
        base64-1g) bench "$name" -- env KIE_UPLOAD_BASE64=1 "{bin}/examples/upload" "$WORK/big.bin" \
            -- "$WORK/base64-curl" "$WORK/big.bin" ;;
        dl-blocking) bench "$name" -- "{bin}/examples/download_result" "$SINK/bytes/1073741824" "$WORK/out.bin" \
            -- curl -sS -o "$WORK/out.bin" "$SINK/bytes/1073741824" ;;
        dl-async) bench "$name" -- "{bin}/examples/download_many" "$SINK/bytes/1073741824" "$WORK/out.bin" \
            -- curl -sS -o "$WORK/out.bin" "$SINK/bytes/1073741824" ;;
        tls-h2) BEFORE='' bench "$name" "http/1.1" -- env KIE_UPLOAD_BASE_URL="$TLS_SINK" \
            "{bin}/examples/upload_many" --http2 --concurrency 32 "$WORK/small" \
            -- env KIE_UPLOAD_BASE_URL="$TLS_SINK" "$TARGET/release/examples/upload_many" --concurrency 32 "$WORK/small" ;;
        rtt-h2) BEFORE='' bench "$name" "http/1.1" -- env KIE_UPLOAD_BASE_URL="https://$DELAY" \
            "{bin}/examples/upload_many" --http2 --concurrency 1 "$WORK/rtt" \
            -- env KIE_UPLOAD_BASE_URL="https://$DELAY" "$TARGET/release/examples/upload_many" --concurrency 1 "$WORK/rtt" ;;
        *) echo "sink.sh: unknown case $name" >&2; exit 1 ;;
    esac
done
