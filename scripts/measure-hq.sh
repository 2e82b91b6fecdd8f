#!/usr/bin/env bash
# The head-office figures of docs/multi-till.md and docs/performance.md: rows per second one
# till ships to PostgreSQL, and `hq report` over a month of 100 tills x 1 000 sales a day
# (benches/headoffice.rs, on a throw-away cluster with fsync on). Needs PostgreSQL's
# initdb/pg_ctl, as the tests do; about four minutes on 2 cores after the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench headoffice 2>&1 | grep -E 'headoffice|time:|thrpt:|SKIPPED|panicked'
