#!/usr/bin/env bash
# A till selling continuously through its cashier screen (pseudo-terminal, release binary,
# standalone simulator) for SECS seconds, its RSS and open descriptors sampled every SAMPLE
# seconds (tests/soak_screen.rs). By hand, not in CI; results in docs/robustness.md, "Soak".
# Usage: scripts/soak-screen.sh [SECS] [SAMPLE]   (defaults 3600 and 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SCANPAY_SOAK_SECS=${1:-3600} SCANPAY_SOAK_SAMPLE_SECS=${2:-60} \
  cargo test --release --test soak_screen -- --nocapture 2>&1 | grep -E "soak:|panicked|grew|test result"
