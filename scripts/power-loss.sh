#!/usr/bin/env bash
# Power loss, by hand (not in CI): the shift log on a "disk" that drops every write not yet
# fsynced (the preload shim tests/powerloss/shim.c), cut at every kill point and then at N random
# moments of random customers' payments; after each cut `scanpay recover` must keep every
# acknowledged sale and agree with the simulator's ledger. docs/robustness.md, "Power loss".
# Usage: scripts/power-loss.sh [CUTS] [SEED]   (defaults 200 and $RANDOM)
set -euo pipefail
cd "$(dirname "$0")/.."
CUTS=${1:-200}
SEED=${2:-$RANDOM}
echo "== power loss: every kill point, then $CUTS random cuts, seed $SEED"
SCANPAY_POWERLOSS_ALL=1 SCANPAY_POWERLOSS_CUTS=$CUTS SCANPAY_POWERLOSS_SEED=$SEED \
  cargo test --release --test power_loss -- --nocapture --test-threads=1 2>&1 \
  | grep -E "power_cuts|panicked|lost|test result"
