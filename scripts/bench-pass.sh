#!/usr/bin/env bash
# One pass of every benchmark, in the order docs/performance.md gives them, on a machine doing
# nothing else: the load average is printed before each bench, and the pass ends with every
# median (and its 95 % interval) and the ratios the table of docs/performance.md shows.
#   scripts/bench-pass.sh              # ~20 min on 2 cores after the release build; ~8 GB in TMPDIR
#   BENCHES="payment crypto" scripts/bench-pass.sh
# The head-office rows (`payment/*shipping*`, `headoffice/*`) need PostgreSQL (initdb, pg_ctl), as
# the tests do; without it they say SKIPPED. Nothing here needs jq or Python.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
benches=${BENCHES:-crypto screen payment reports headoffice}
log=${BENCH_LOG:-$target/bench-pass.log}
mkdir -p "$target"
: >"$log"
cargo bench --no-run >/dev/null 2>&1 || cargo bench --no-run
for b in $benches; do
    echo "== $b: $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
    cargo bench --bench "$b" 2>&1 | grep -E 'SKIPPED|panicked|shipments|written in' | tee -a "$log" || true
done
echo "== end: $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"

# The median of one bench, in ns (criterion's estimates.json; sed, so no jq).
median() {
    local f="$target/criterion/$1/new/estimates.json"
    [ -f "$f" ] || { echo nan; return; }
    sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.e+-]+).*/\1/' "$f"
}
interval() {
    local f="$target/criterion/$1/new/estimates.json"
    [ -f "$f" ] || { echo "-"; return; }
    sed -E 's/.*"median":\{"confidence_interval":\{[^}]*"lower_bound":([0-9.e+-]+),"upper_bound":([0-9.e+-]+)\}.*/\1 \2/' "$f"
}
echo
echo "median (95 % interval of the median), per bench:"
for b in $benches; do
    for d in "$target"/criterion/"$b"/*/; do
        id="$b/$(basename "$d")"
        [ -f "$d/new/estimates.json" ] || continue
        read -r lo hi <<<"$(interval "$id")"
        awk -v id="$id" -v m="$(median "$id")" -v lo="$lo" -v hi="$hi" 'function h(x) {
                if (x >= 1e9) return sprintf("%.3f s", x / 1e9);
                if (x >= 1e6) return sprintf("%.3f ms", x / 1e6);
                if (x >= 1e3) return sprintf("%.1f µs", x / 1e3);
                return sprintf("%.0f ns", x) }
            BEGIN { printf "  %-58s %12s  (%s – %s)\n", id, h(m), h(lo), h(hi) }'
    done
done
ratio() { awk -v a="$(median "$2")" -v b="$(median "$3")" -v n="$1" 'BEGIN { if (b > 0) printf "  %-58s %.2f×\n", n, a / b }'; }
echo
echo "ratios:"
ratio "payment FULL / its floor" payment/payment_sync_full payment/floor_payment_full
ratio "payment NORMAL / its floor" payment/payment_sync_normal payment/floor_payment_normal
ratio "pay call / NORMAL floor" payment/part_pay_call payment/floor_payment_normal
ratio "paced sale, shipping every 1 s / alone (before)" payment/payment_paced_10ms_shipping_every_1s payment/payment_paced_10ms
ratio "paced sale, shipping every 1 s / alone (after)" payment/payment_paced_10ms_shipping_every_1s payment/payment_paced_10ms_again
ratio "back-to-back sales, shipping every 10 s / alone" payment/payment_sync_full_shipping_every_10s payment/payment_sync_full
ratio "X/Z 1M-order shift / read one row" reports/summary_1m_orders_in_shift reports/floor_read_one_row
ratio "X/Z 2k shift in the big log / read one row" reports/summary_2k_shift_in_big_log reports/floor_read_one_row
ratio "start-up, big log / open + blank frame" reports/startup_first_frame_big_log reports/floor_open_and_blank_frame_big_log
ratio "store part, 1M log / 10k log" reports/store_part_sale_1m_log reports/store_part_sale_10k_log
ratio "store part, big log / 10k log" reports/store_part_sale_big_log reports/store_part_sale_10k_log
ratio "sign request / RSA sign" crypto/sign_request crypto/floor_rsa2048_sign
ratio "verify answer / RSA verify" crypto/verify_answer crypto/floor_rsa2048_verify
ratio "sale frame / empty frame" screen/sale_frame_100k_orders screen/floor_empty_frame_80x24
ratio "history frame / empty frame" screen/history_frame_100k_orders screen/floor_empty_frame_80x24
