//! The shift log's schema and its migrations, in one place. `PRAGMA user_version` holds the
//! number of migrations applied; each runs in its own transaction.

use rusqlite::Connection;

/// Migrations in order; index + 1 is the `user_version` after applying it.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE shifts (
        id          INTEGER PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        cashier     TEXT NOT NULL,
        opened_at   INTEGER NOT NULL,
        closed_at   INTEGER,
        closed_by   TEXT,
        z_number    INTEGER UNIQUE,
        forced      INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1))
    ) STRICT;
    CREATE UNIQUE INDEX one_open_shift_per_terminal ON shifts(terminal_id) WHERE closed_at IS NULL;

    CREATE TABLE orders (
        id               INTEGER PRIMARY KEY,
        out_trade_no     TEXT NOT NULL UNIQUE,
        shift_id         INTEGER NOT NULL REFERENCES shifts(id),
        terminal_id      TEXT NOT NULL,
        cashier          TEXT NOT NULL,
        amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
        description      TEXT NOT NULL,
        code_masked      TEXT NOT NULL,
        code_fingerprint TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('PENDING','USERPAYING','PAID','FAILED','REVERSED',
                                                        'UNRESOLVED','PARTIALLY_REFUNDED','REFUNDED')),
        machine          TEXT NOT NULL,
        transaction_id   TEXT,
        reason_code      TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX orders_by_shift ON orders(shift_id);
    CREATE INDEX orders_by_state ON orders(state);
    CREATE INDEX orders_by_fingerprint ON orders(code_fingerprint);

    CREATE TABLE order_events (
        id          INTEGER PRIMARY KEY,
        order_id    INTEGER NOT NULL REFERENCES orders(id),
        at          INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        detail      TEXT NOT NULL,
        state_after TEXT NOT NULL
    ) STRICT;
    CREATE INDEX events_by_order ON order_events(order_id);

    CREATE TABLE refunds (
        id            INTEGER PRIMARY KEY,
        out_refund_no TEXT NOT NULL UNIQUE,
        order_id      INTEGER NOT NULL REFERENCES orders(id),
        shift_id      INTEGER NOT NULL REFERENCES shifts(id),
        amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
        reason        TEXT NOT NULL,
        status        TEXT NOT NULL,
        approved_by   TEXT,
        refund_id     TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE z_reports (
        z_number  INTEGER PRIMARY KEY,
        shift_id  INTEGER NOT NULL UNIQUE REFERENCES shifts(id),
        closed_at INTEGER NOT NULL,
        report    TEXT NOT NULL
    ) STRICT;

    CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;

    -- Append-only: the log keeps everything.
    CREATE TRIGGER events_append_only_u BEFORE UPDATE ON order_events BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
    CREATE TRIGGER events_append_only_d BEFORE DELETE ON order_events BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
    CREATE TRIGGER orders_keep BEFORE DELETE ON orders BEGIN SELECT RAISE(ABORT, 'orders are never deleted'); END;
    CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER z_immutable_u BEFORE UPDATE ON z_reports BEGIN SELECT RAISE(ABORT, 'Z reports are immutable'); END;
    CREATE TRIGGER z_immutable_d BEFORE DELETE ON z_reports BEGIN SELECT RAISE(ABORT, 'Z reports are immutable'); END;
    "#,
    // 2: refunds keep their flow's snapshot; supervisors and their PIN attempts.
    r#"
    ALTER TABLE refunds ADD COLUMN machine TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX refunds_by_order ON refunds(order_id);
    CREATE INDEX refunds_by_status ON refunds(status);

    CREATE TABLE supervisors (
        id         TEXT PRIMARY KEY,
        pin_hash   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
    ) STRICT;

    CREATE TABLE pin_attempts (
        id         INTEGER PRIMARY KEY,
        supervisor TEXT NOT NULL,
        at         INTEGER NOT NULL,
        ok         INTEGER NOT NULL CHECK (ok IN (0, 1))
    ) STRICT;
    CREATE INDEX pin_attempts_by_supervisor ON pin_attempts(supervisor, at);
    "#,
    // 3: X/Z in one pass over a covering index (no table lookups for a million orders).
    r#"
    CREATE INDEX orders_shift_summary ON orders(shift_id, state, cashier, created_at, amount_fen);
    "#,
    // 4: the duplicate-code guard looks a code up within a shift without reading the shift.
    r#"
    CREATE INDEX orders_shift_fingerprint ON orders(shift_id, code_fingerprint);
    DROP INDEX orders_by_fingerprint;
    "#,
    // 5: an order's reason is a column of its own (JSON of `order::Reason`), so nothing but the
    // engine reads the flow's snapshot. Filled from the snapshots version 1 wrote.
    r#"
    ALTER TABLE orders ADD COLUMN reason TEXT;
    UPDATE orders SET reason = json_extract(machine, '$.reason')
     WHERE json_type(machine, '$.reason') = 'object';
    "#,
    // 6: the demo supervisor is marked, so that a row of it never approves outside simulator
    // mode whatever its id became; rows written before this migration are the demo's when
    // their id is `demo` (the only one scanpay ever created by itself).
    r#"
    ALTER TABLE supervisors ADD COLUMN demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1));
    UPDATE supervisors SET demo = 1 WHERE id = 'demo';
    "#,
    // 7: running totals for X/Z, kept by triggers in the same transaction as every change of an
    // order or a refund, so a shift's summary reads a few rows whatever the shift's or the log's
    // size (`shifts::summary`; checked against `shifts::recount` by a property test). The hour
    // is the Beijing hour of the order's creation, as the summary reports it.
    r#"
    CREATE TABLE shift_totals (
        shift_id INTEGER NOT NULL,
        state    TEXT NOT NULL,
        cashier  TEXT NOT NULL,
        hour     INTEGER NOT NULL,
        count    INTEGER NOT NULL,
        fen      INTEGER NOT NULL,
        PRIMARY KEY (shift_id, state, cashier, hour)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO shift_totals
        SELECT shift_id, state, cashier, ((created_at / 1000 + 28800) / 3600) % 24, COUNT(*), SUM(amount_fen)
          FROM orders GROUP BY 1, 2, 3, 4;
    CREATE TRIGGER shift_totals_order_insert AFTER INSERT ON orders BEGIN
        INSERT INTO shift_totals VALUES (NEW.shift_id, NEW.state, NEW.cashier,
            ((NEW.created_at / 1000 + 28800) / 3600) % 24, 1, NEW.amount_fen)
        ON CONFLICT DO UPDATE SET count = count + 1, fen = fen + excluded.fen;
    END;
    CREATE TRIGGER shift_totals_order_update AFTER UPDATE OF shift_id, state, cashier, created_at, amount_fen ON orders
    WHEN OLD.shift_id IS NOT NEW.shift_id OR OLD.state IS NOT NEW.state OR OLD.cashier IS NOT NEW.cashier
      OR OLD.created_at IS NOT NEW.created_at OR OLD.amount_fen IS NOT NEW.amount_fen
    BEGIN
        UPDATE shift_totals SET count = count - 1, fen = fen - OLD.amount_fen
         WHERE shift_id = OLD.shift_id AND state = OLD.state AND cashier = OLD.cashier
           AND hour = ((OLD.created_at / 1000 + 28800) / 3600) % 24;
        INSERT INTO shift_totals VALUES (NEW.shift_id, NEW.state, NEW.cashier,
            ((NEW.created_at / 1000 + 28800) / 3600) % 24, 1, NEW.amount_fen)
        ON CONFLICT DO UPDATE SET count = count + 1, fen = fen + excluded.fen;
    END;
    CREATE TRIGGER shift_totals_order_delete AFTER DELETE ON orders BEGIN
        UPDATE shift_totals SET count = count - 1, fen = fen - OLD.amount_fen
         WHERE shift_id = OLD.shift_id AND state = OLD.state AND cashier = OLD.cashier
           AND hour = ((OLD.created_at / 1000 + 28800) / 3600) % 24;
    END;

    CREATE TABLE shift_refund_totals (
        shift_id INTEGER NOT NULL,
        status   TEXT NOT NULL,
        count    INTEGER NOT NULL,
        fen      INTEGER NOT NULL,
        PRIMARY KEY (shift_id, status)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO shift_refund_totals
        SELECT shift_id, status, COUNT(*), SUM(amount_fen) FROM refunds GROUP BY 1, 2;
    CREATE TRIGGER shift_refund_totals_insert AFTER INSERT ON refunds BEGIN
        INSERT INTO shift_refund_totals VALUES (NEW.shift_id, NEW.status, 1, NEW.amount_fen)
        ON CONFLICT DO UPDATE SET count = count + 1, fen = fen + excluded.fen;
    END;
    CREATE TRIGGER shift_refund_totals_update AFTER UPDATE OF shift_id, status, amount_fen ON refunds
    WHEN OLD.shift_id IS NOT NEW.shift_id OR OLD.status IS NOT NEW.status OR OLD.amount_fen IS NOT NEW.amount_fen
    BEGIN
        UPDATE shift_refund_totals SET count = count - 1, fen = fen - OLD.amount_fen
         WHERE shift_id = OLD.shift_id AND status = OLD.status;
        INSERT INTO shift_refund_totals VALUES (NEW.shift_id, NEW.status, 1, NEW.amount_fen)
        ON CONFLICT DO UPDATE SET count = count + 1, fen = fen + excluded.fen;
    END;
    CREATE TRIGGER shift_refund_totals_delete AFTER DELETE ON refunds BEGIN
        UPDATE shift_refund_totals SET count = count - 1, fen = fen - OLD.amount_fen
         WHERE shift_id = OLD.shift_id AND status = OLD.status;
    END;
    "#,
    // 8 (issue 15): which
    // WeChat Pay API an order was made over. Recovery queries and reverses it over that one
    // only; its refunds follow it. Every order written before is APIv3's.
    r#"
    ALTER TABLE orders ADD COLUMN protocol TEXT NOT NULL DEFAULT 'v3' CHECK (protocol IN ('v3', 'v2'));
    "#,
    // 9: whom each order was charged for: a directly connected merchant ('direct') or a
    // service provider for one sub-merchant ('service_provider' and its 特约商户号). A folder
    // could only be direct before, so earlier rows are 'direct' with no sub-merchant. A refund
    // belongs to its order's party (no column of its own).
    r#"
    ALTER TABLE orders ADD COLUMN sub_mchid TEXT;
    ALTER TABLE orders ADD COLUMN party TEXT NOT NULL DEFAULT 'direct'
        CHECK ((party = 'direct' AND sub_mchid IS NULL)
            OR (party = 'service_provider' AND sub_mchid IS NOT NULL AND sub_mchid <> ''));
    "#,
    // 10: the head-office outbox. Every insert or change of a row the head office
    // receives (shifts, orders, order_events, refunds, z_reports, audit_log — never
    // supervisors or PIN attempts) appends (table, row id) here, in the same transaction;
    // `seq` is the till's local sequence that the shipper sends and the head office keys on.
    // `meta.sync_acked` is the highest seq the head office acknowledged; `meta.till_id` names
    // this data folder for life (two tills named alike never merge). Rows written before this
    // migration are queued here once, in id order.
    r#"
    CREATE TABLE sync_outbox (
        seq    INTEGER PRIMARY KEY,
        tbl    TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        at     INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
    ) STRICT;
    INSERT OR IGNORE INTO meta(key, value) VALUES ('till_id', lower(hex(randomblob(16))));
    INSERT OR IGNORE INTO meta(key, value) VALUES ('sync_acked', '0');
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'shifts', id FROM shifts ORDER BY id;
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'orders', id FROM orders ORDER BY id;
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'order_events', id FROM order_events ORDER BY id;
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'refunds', id FROM refunds ORDER BY id;
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'z_reports', z_number FROM z_reports ORDER BY z_number;
    INSERT INTO sync_outbox(tbl, row_id) SELECT 'audit_log', id FROM audit_log ORDER BY id;
    CREATE TRIGGER sync_shifts_i AFTER INSERT ON shifts BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('shifts', NEW.id); END;
    CREATE TRIGGER sync_shifts_u AFTER UPDATE ON shifts BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('shifts', NEW.id); END;
    CREATE TRIGGER sync_orders_i AFTER INSERT ON orders BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('orders', NEW.id); END;
    CREATE TRIGGER sync_orders_u AFTER UPDATE ON orders BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('orders', NEW.id); END;
    CREATE TRIGGER sync_order_events_i AFTER INSERT ON order_events BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('order_events', NEW.id); END;
    CREATE TRIGGER sync_refunds_i AFTER INSERT ON refunds BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('refunds', NEW.id); END;
    CREATE TRIGGER sync_refunds_u AFTER UPDATE ON refunds BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('refunds', NEW.id); END;
    CREATE TRIGGER sync_z_reports_i AFTER INSERT ON z_reports BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('z_reports', NEW.z_number); END;
    CREATE TRIGGER sync_audit_log_i AFTER INSERT ON audit_log BEGIN INSERT INTO sync_outbox(tbl, row_id) VALUES ('audit_log', NEW.id); END;
    CREATE TRIGGER sync_outbox_keep BEFORE DELETE ON sync_outbox BEGIN SELECT RAISE(ABORT, 'sync_outbox is append-only'); END;
    "#,
    // 11: X/Z read the running totals (migration 7), so the covering index that made a pass over
    // a shift's orders fast is only upkeep now: every sale and every state change rewrote an
    // entry of it. (`shifts::recount`, the tests' full count, reads the table instead.)
    r#"
    DROP INDEX IF EXISTS orders_shift_summary;
    "#,
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`VERSION`]. Refuses a database from a newer scanpay.
pub fn migrate(conn: &mut Connection) -> Result<(), super::StoreError> {
    migrate_to(conn, VERSION)
}

/// Brings the database to `version` (tests build logs of an earlier version with it).
pub(crate) fn migrate_to(conn: &mut Connection, version: i64) -> Result<(), super::StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(super::StoreError::TooNew {
            found: current,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
        .take(usize::try_from(version - current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
