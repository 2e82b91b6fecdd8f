#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain, by hand (not in CI: CI runs the proptest
# twins). cargo-fuzz drives libFuzzer; with `-s none` (no AddressSanitizer: the code under test
# is safe Rust, a finding is a panic, an overflow, a timeout or running out of memory) it passes
# only stable rustc flags; RUSTC_BOOTSTRAP=1 covers the -Z flags a sanitizer would add.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET[:SECONDS]...]   (default 60 s, every target)
# Seeds: fuzz/corpus/<target>/ (committed); what the fuzzer adds: fuzz/generated/<target>/;
# findings: fuzz/artifacts/<target>/; logs: fuzz/generated/logs/<target>.log.
# Every fuzzer runs under `nice -n 19`, one process, so it only takes idle CPU.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-60}
shift || true
ALL=(answer_json answer_xml v2_xml trade_bill certs scanner_framing amount config)
TARGETS=("$@")
if [ "$#" -eq 0 ]; then TARGETS=("${ALL[@]}"); fi
export RUSTC_BOOTSTRAP=1   # only needed for -Z sanitizer flags; -s none passes stable flags
BUILD=(-s none --codegen-units 16)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
nice -n 10 cargo fuzz build "${BUILD[@]}" || exit 1

dict() {
  case $1 in
    answer_json|certs) echo -dict=dict/json.dict ;;
    answer_xml|v2_xml) echo -dict=dict/xml.dict ;;
    trade_bill) echo -dict=dict/bill.dict ;;
    config) echo -dict=dict/toml.dict ;;
  esac
}
max_len() {
  case $1 in
    trade_bill) echo -max_len=16384 ;;
    config|v2_xml|answer_xml|certs) echo -max_len=8192 ;;
    *) echo -max_len=4096 ;;
  esac
}

mkdir -p generated/logs
printf '%-16s %6s %12s %8s %6s %6s %10s  %s\n' target secs execs exec/s cov ft corpus findings
for spec in "${TARGETS[@]}"; do
  t=${spec%%:*}
  secs=$SECS
  [ "$spec" != "$t" ] && secs=${spec#*:}
  mkdir -p "generated/$t" "artifacts/$t"
  log=generated/logs/$t.log
  before=$(ls "artifacts/$t" | wc -l)
  nice -n 19 cargo fuzz run "${BUILD[@]}" "$t" "generated/$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
    $(dict "$t") $(max_len "$t") >"$log" 2>&1
  last=$(grep -E '^#[0-9]+.*(cov|ft):' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  found=$(($(ls "artifacts/$t" | wc -l) - before))
  printf '%-16s %6s %12s %8s %6s %6s %10s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "$corp" "$found new in artifacts/$t"
done
