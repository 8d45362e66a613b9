#!/usr/bin/env bash
# Build cost for a user of one driver (BENCHMARKS.md, "Build cost for a user of one
# driver"): makes a throwaway crate outside the workspace for PROGRAM, then prints its
# distinct crates (without, then with build dependencies) and duplicate versions and,
# unless COUNT_ONLY=1, the CPU time (user + sys) of a cold build in PROFILE and the size
# of the stripped binary.
#
#   tests/bench/build-cost.sh kie-blocking|kie-async|bare-ureq|bare-reqwest [debug|release]
#
# CRYPTO=ring builds the driver with its `ring` crypto provider instead of the default
# aws-lc-rs (`default-features = false, features = ["tracing", "ring"]`).
#
# Each build starts from an empty target directory (under $TMPDIR); note the load average
# it prints, as CPU time grows with contention on a shared machine.
set -euo pipefail
program=${1:?program: kie-blocking, kie-async, bare-ureq or bare-reqwest}
profile=${2:-debug}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/src"
tokio='tokio = { version = "1", features = ["rt", "macros"] }'
features=
case ${CRYPTO:-aws-lc-rs} in
aws-lc-rs) ;;
ring) features=', default-features = false, features = ["tracing", "ring"]' ;;
*) echo "unknown CRYPTO $CRYPTO: aws-lc-rs or ring" >&2; exit 2 ;;
esac
case $program in
kie-blocking)
    deps="kie-blocking = { path = \"$root/kie-blocking\"$features }"
    main='fn main() { let client = kie_blocking::Client::from_env().expect("KIE_API_KEY"); println!("{}", client.credits().expect("credits")); }' ;;
kie-async)
    deps="kie-async = { path = \"$root/kie-async\"$features }"$'\n'"$tokio"
    main='#[tokio::main(flavor = "current_thread")] async fn main() { let client = kie_async::Client::from_env().expect("KIE_API_KEY"); println!("{}", client.credits().await.expect("credits")); }' ;;
bare-ureq)
    deps='ureq = "3"'
    main='fn main() { let body = ureq::get("https://api.kie.ai/api/v1/chat/credit").call().expect("call").body_mut().read_to_string().expect("body"); println!("{body}"); }' ;;
bare-reqwest)
    deps='reqwest = { version = "0.13", default-features = false, features = ["rustls", "stream"] }'$'\n'"$tokio"
    main='#[tokio::main(flavor = "current_thread")] async fn main() { let body = reqwest::get("https://api.kie.ai/api/v1/chat/credit").await.expect("call").text().await.expect("body"); println!("{body}"); }' ;;
*) echo "unknown program $program" >&2; exit 2 ;;
esac
printf '[package]\nname = "cost"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\n%s\n\n[workspace]\n' "$deps" >"$dir/Cargo.toml"
echo "$main" >"$dir/src/main.rs"
cp "$root/Cargo.lock" "$dir/" # the workspace's versions (cargo drops the rest)
cd "$dir"
crates=$(cargo tree -e normal --prefix none | sed 's/ (\*)//; s/ (proc-macro)//' | sort -u | wc -l)
with_build=$(cargo tree -e normal,build --prefix none | sed 's/ (\*)//; s/ (proc-macro)//' | sort -u | wc -l)
duplicates=$(cargo tree -d -e normal 2>/dev/null | grep -c '^[a-z]' || true)
echo "$program${features:+ (CRYPTO=$CRYPTO)}: $crates distinct crates ($with_build with build dependencies), $duplicates duplicated"
[ "${COUNT_ONLY:-0}" = 1 ] && exit 0
flag=; [ "$profile" = release ] && flag=--release
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "%U %S" -o "$dir/time" cargo build -q $flag --target-dir "$dir/target"
read -r user sys <"$dir/time"
strip -o "$dir/stripped" "$dir/target/$profile/cost"
echo "$program $profile: CPU $(echo "$user + $sys" | bc) s (user $user, sys $sys), stripped binary $(stat -c %s "$dir/stripped") bytes, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
