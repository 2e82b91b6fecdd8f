#!/usr/bin/env bash
# The head-office figures of docs/multi-till.md and docs/performance.md: rows per second one
# till ships to PostgreSQL, and `hq report` over a month of 100 tills x 1 000 sales a day.
# Needs PostgreSQL's initdb/pg_ctl (as the tests do); takes about two minutes on 2 cores.
#   scripts/measure-hq.sh            # 20 000 sales in the till's log (100 001 changes)
#   MEASURE_ORDERS=100000 scripts/measure-hq.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test hq_sync measure_shipping_and_the_month_report -- --ignored --nocapture 2>&1 \
    | grep -E 'MEASURE|SKIPPED|panicked|test result'
