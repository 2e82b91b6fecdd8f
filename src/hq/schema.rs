//! The central schema: versioned migrations (like the till's `store::schema`), applied by
//! `scanpay hq init` under a transaction-scoped advisory lock, so that running it twice, or
//! from two machines at once, applies each migration exactly once.
//!
//! Every table the head office receives is keyed by `(till_id, the till's row id)`: a row
//! shipped twice is the same row. Tables whose local rows change (shifts, orders, refunds)
//! keep `seq`, the till's local sequence of the last change they hold, and take a shipped row
//! only when its `seq` is higher; the others take a row once and refuse any update. No
//! central table allows a delete. Each table keeps a few typed columns for the head office's
//! queries and the whole local row as shipped in `row` (jsonb): a new local column reaches
//! the head office in `row` without any change here, and becomes a typed column with one
//! migration below plus one entry in [`TABLES`].

use tokio_postgres::Client;

use super::HqError;

/// A fixed key for `pg_advisory_xact_lock` (ASCII "scanpayH").
const MIGRATION_LOCK: i64 = 0x7363_616e_7061_7948;

/// Central migrations in order; index + 1 is the version after applying it.
const MIGRATIONS: &[&str] = &[
    // 1: tills and their shipped rows.
    r#"
    CREATE TABLE hq_tills (
        till_id     text PRIMARY KEY,
        mode        text NOT NULL,
        mchid       text NOT NULL,
        sub_mchid   text,
        store_id    text NOT NULL,
        terminal_id text NOT NULL,
        first_seen  timestamptz NOT NULL DEFAULT now(),
        last_sync   timestamptz,
        shipped_seq bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE hq_shifts (
        till_id     text NOT NULL REFERENCES hq_tills(till_id),
        id          bigint NOT NULL,
        seq         bigint NOT NULL,
        terminal_id text NOT NULL,
        cashier     text NOT NULL,
        opened_at   bigint NOT NULL,
        closed_at   bigint,
        z_number    bigint,
        forced      bigint NOT NULL DEFAULT 0,
        row         jsonb NOT NULL,
        PRIMARY KEY (till_id, id)
    );
    CREATE TABLE hq_orders (
        till_id        text NOT NULL REFERENCES hq_tills(till_id),
        id             bigint NOT NULL,
        seq            bigint NOT NULL,
        out_trade_no   text NOT NULL,
        shift_id       bigint NOT NULL,
        terminal_id    text NOT NULL,
        cashier        text NOT NULL,
        amount_fen     bigint NOT NULL,
        state          text NOT NULL,
        transaction_id text,
        reason_code    text,
        created_at     bigint NOT NULL,
        updated_at     bigint NOT NULL,
        party          text NOT NULL DEFAULT 'direct',
        sub_mchid      text,
        protocol       text NOT NULL DEFAULT 'v3',
        row            jsonb NOT NULL,
        PRIMARY KEY (till_id, id)
    );
    CREATE INDEX hq_orders_by_day ON hq_orders (created_at);
    CREATE INDEX hq_orders_by_no ON hq_orders (out_trade_no);
    CREATE TABLE hq_order_events (
        till_id     text NOT NULL REFERENCES hq_tills(till_id),
        id          bigint NOT NULL,
        order_id    bigint NOT NULL,
        at          bigint NOT NULL,
        kind        text NOT NULL,
        state_after text NOT NULL,
        row         jsonb NOT NULL,
        PRIMARY KEY (till_id, id)
    );
    CREATE TABLE hq_refunds (
        till_id       text NOT NULL REFERENCES hq_tills(till_id),
        id            bigint NOT NULL,
        seq           bigint NOT NULL,
        out_refund_no text NOT NULL,
        order_id      bigint NOT NULL,
        shift_id      bigint NOT NULL,
        amount_fen    bigint NOT NULL,
        status        text NOT NULL,
        created_at    bigint NOT NULL,
        updated_at    bigint NOT NULL,
        row           jsonb NOT NULL,
        PRIMARY KEY (till_id, id)
    );
    CREATE INDEX hq_refunds_by_day ON hq_refunds (created_at);
    CREATE TABLE hq_z_reports (
        till_id   text NOT NULL REFERENCES hq_tills(till_id),
        z_number  bigint NOT NULL,
        shift_id  bigint NOT NULL,
        closed_at bigint NOT NULL,
        row       jsonb NOT NULL,
        PRIMARY KEY (till_id, z_number)
    );
    CREATE TABLE hq_audit_log (
        till_id text NOT NULL REFERENCES hq_tills(till_id),
        id      bigint NOT NULL,
        at      bigint NOT NULL,
        actor   text NOT NULL,
        action  text NOT NULL,
        row     jsonb NOT NULL,
        PRIMARY KEY (till_id, id)
    );
    CREATE FUNCTION hq_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END
    $$;
    CREATE TRIGGER hq_tills_keep BEFORE DELETE ON hq_tills FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_shifts_keep BEFORE DELETE ON hq_shifts FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_orders_keep BEFORE DELETE ON hq_orders FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_refunds_keep BEFORE DELETE ON hq_refunds FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_order_events_keep BEFORE UPDATE OR DELETE ON hq_order_events FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_z_reports_keep BEFORE UPDATE OR DELETE ON hq_z_reports FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    CREATE TRIGGER hq_audit_log_keep BEFORE UPDATE OR DELETE ON hq_audit_log FOR EACH ROW EXECUTE FUNCTION hq_append_only();
    "#,
];

/// The central schema version this build writes and needs.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// A typed central column: its name (the local column of the same name) and type.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Column name, locally and centrally.
    pub name: &'static str,
    /// `bigint` (else `text`).
    pub int: bool,
    /// The value when the till's log has no such column (an older till).
    pub default: Option<&'static str>,
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        int: true,
        default: None,
    }
}

const fn text(name: &'static str) -> Column {
    Column {
        name,
        int: false,
        default: None,
    }
}

const fn text_or(name: &'static str, default: &'static str) -> Column {
    Column {
        name,
        int: false,
        default: Some(default),
    }
}

/// One local table the head office receives.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// The till's table.
    pub local: &'static str,
    /// The central table.
    pub central: &'static str,
    /// The key column (the till's row id).
    pub key: &'static str,
    /// Whether local rows change after they are written (then `seq` decides which version
    /// the head office keeps).
    pub changes: bool,
    /// The typed columns besides the key (the whole row is in `row`).
    pub columns: &'static [Column],
}

/// Every table a till ships, in the order a shipment writes them.
pub const TABLES: &[Table] = &[
    Table {
        local: "shifts",
        central: "hq_shifts",
        key: "id",
        changes: true,
        columns: &[
            text("terminal_id"),
            text("cashier"),
            int("opened_at"),
            int("closed_at"),
            int("z_number"),
            int("forced"),
        ],
    },
    Table {
        local: "orders",
        central: "hq_orders",
        key: "id",
        changes: true,
        columns: &[
            text("out_trade_no"),
            int("shift_id"),
            text("terminal_id"),
            text("cashier"),
            int("amount_fen"),
            text("state"),
            text("transaction_id"),
            text("reason_code"),
            int("created_at"),
            int("updated_at"),
            text_or("party", "direct"),
            text("sub_mchid"),
            text_or("protocol", "v3"),
        ],
    },
    Table {
        local: "order_events",
        central: "hq_order_events",
        key: "id",
        changes: false,
        columns: &[
            int("order_id"),
            int("at"),
            text("kind"),
            text("state_after"),
        ],
    },
    Table {
        local: "refunds",
        central: "hq_refunds",
        key: "id",
        changes: true,
        columns: &[
            text("out_refund_no"),
            int("order_id"),
            int("shift_id"),
            int("amount_fen"),
            text("status"),
            int("created_at"),
            int("updated_at"),
        ],
    },
    Table {
        local: "z_reports",
        central: "hq_z_reports",
        key: "z_number",
        changes: false,
        columns: &[int("shift_id"), int("closed_at")],
    },
    Table {
        local: "audit_log",
        central: "hq_audit_log",
        key: "id",
        changes: false,
        columns: &[int("at"), text("actor"), text("action")],
    },
];

/// The table a local table name ships to.
pub fn table(local: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.local == local)
}

impl Table {
    /// The one statement that writes a batch of this table's rows for a till: `$1` the
    /// till id, `$2` a JSON array of the rows (each with its `_seq`). Idempotent: a row
    /// already there is kept, or (for a changing table) replaced only by a higher `seq`.
    pub fn upsert_sql(&self) -> String {
        let mut cols = vec!["till_id".to_string(), self.key.to_string()];
        let mut vals = vec!["$1".to_string(), format!("(r->>'{}')::bigint", self.key)];
        if self.changes {
            cols.push("seq".into());
            vals.push("(r->>'_seq')::bigint".into());
        }
        for c in self.columns {
            cols.push(c.name.into());
            let v = if c.int {
                format!("(r->>'{}')::bigint", c.name)
            } else {
                format!("r->>'{}'", c.name)
            };
            vals.push(match c.default {
                Some(d) => format!("COALESCE({v}, '{d}')"),
                None => v,
            });
        }
        cols.push("row".into());
        vals.push("r - '_seq'".into());
        let mut sql = format!(
            "INSERT INTO {} AS t ({}) SELECT {} FROM jsonb_array_elements($2::text::jsonb) AS r \
             ON CONFLICT (till_id, {}) DO ",
            self.central,
            cols.join(", "),
            vals.join(", "),
            self.key
        );
        if self.changes {
            let set: Vec<String> = cols[2..]
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            sql.push_str(&format!(
                "UPDATE SET {} WHERE t.seq < excluded.seq",
                set.join(", ")
            ));
        } else {
            sql.push_str("NOTHING");
        }
        sql
    }
}

/// Creates or migrates the central schema; returns `(version before, version after)`. Safe
/// to run concurrently: one transaction holds an advisory lock while it reads the version
/// and applies what is missing, so a second run waits, then finds nothing to do.
pub async fn init(client: &mut Client) -> Result<(i32, i32), HqError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS hq_schema (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM hq_schema", &[])
        .await?
        .get(0);
    if found > VERSION {
        return Err(HqError::TooNew {
            found,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.batch_execute(sql).await?;
        let v = i as i32 + 1;
        tx.execute("INSERT INTO hq_schema(version) VALUES ($1)", &[&v])
            .await?;
    }
    tx.commit().await?;
    Ok((found, VERSION))
}

/// Refuses a database whose schema is not this build's (`scanpay hq init` first).
pub async fn check(client: &Client) -> Result<(), HqError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('hq_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    let found: i32 = if exists {
        client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM hq_schema", &[])
            .await?
            .get(0)
    } else {
        0
    };
    match found {
        f if f == VERSION => Ok(()),
        f if f > VERSION => Err(HqError::TooNew {
            found: f,
            supported: VERSION,
        }),
        f => Err(HqError::Schema {
            found: f,
            needed: VERSION,
        }),
    }
}
