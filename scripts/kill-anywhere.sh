#!/usr/bin/env bash
# Real SIGKILLs of the release binary at random moments across payments, refunds and shift
# close, on several tills at once, each followed by `scanpay recover` and the ledger check
# (tests/kill_anywhere.rs). By hand, not in CI; results in docs/robustness.md.
# Usage: scripts/kill-anywhere.sh [KILLS] [TILLS] [SEED]   (defaults 1000, 8, $RANDOM)
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-1000}
TILLS=${2:-8}
SEED=${3:-$RANDOM}
echo "== $KILLS random SIGKILLs over $TILLS tills, seed $SEED"
SCANPAY_KILLS=$KILLS SCANPAY_KILL_TILLS=$TILLS SCANPAY_KILL_SEED=$SEED \
  cargo test --release --test kill_anywhere -- --nocapture 2>&1 \
  | grep -E "kill_anywhere:|panicked|disagree|test result"
