#!/usr/bin/env bash
# Long runs by hand (not in CI):
#   1. the fault matrix with many rounds (every scenario × every fault × random kills);
#   2. thousands of payments through the real CLI against a standalone simulator, watching the
#      simulator's RSS and open file descriptors, which must stay flat.
# Usage: scripts/soak.sh [ROUNDS] [PAYMENTS]   (defaults 20 and 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
PAYMENTS=${2:-2000}

echo "== fault matrix, $ROUNDS rounds"
SCANPAY_FAULT_ROUNDS=$ROUNDS SCANPAY_FAULT_SEED=${SCANPAY_FAULT_SEED:-$RANDOM} \
  cargo test --release --test fault_matrix -- --nocapture 2>&1 | grep -E "fault matrix|test result|MISMATCH"

echo "== $PAYMENTS payments through the CLI"
cargo build --release --quiet
BIN=target/release/scanpay
WORK=$(mktemp -d)
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
$BIN sim --listen 127.0.0.1:0 --keys "$WORK/keys" > "$WORK/sim.out" &
SIM=$!
until grep -q "Ctrl-C" "$WORK/sim.out" 2>/dev/null; do sleep 0.1; done
CFG="$WORK/keys/scanpay.toml"
sed -i "s#data_dir = \"scanpay-data\"#data_dir = \"$WORK/data\"#" "$CFG"
$BIN --config "$CFG" shift open --cashier soak > /dev/null
sample() { echo "$(grep VmRSS /proc/$SIM/status | awk '{print $2}') kB, $(ls /proc/$SIM/fd | wc -l) fds"; }
echo "simulator at start: $(sample)"
codes=(11 12 13 14 15 16 17 18 19 20 04 05 06 10)
paid=0; other=0
for i in $(seq 1 "$PAYMENTS"); do
  suffix=${codes[$((RANDOM % ${#codes[@]}))]}
  code=$(printf "13%014d%s" "$i" "$suffix")
  if $BIN --config "$CFG" pay --amount "0.$((RANDOM % 89 + 10))" --code "$code" --json > /dev/null 2>&1; then
    paid=$((paid + 1)); else other=$((other + 1)); fi
  if (( i % 500 == 0 )); then echo "after $i payments: $(sample)"; fi
done
echo "paid $paid, not charged $other"
echo "simulator at end: $(sample)"
$BIN --config "$CFG" report x
