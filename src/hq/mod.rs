//! The head office: one PostgreSQL that every till ships its log to (`crate::sync`), and what
//! the head office does with it — the central schema and its migrations ([`schema`]), the day's
//! report over all stores and tills ([`report`]) and the reconciliation of the merchant's trade
//! bill against every till's orders ([`reconcile`]). `docs/multi-till.md` is the guide.
//!
//! The connection string is a secret (it may hold a password): it comes in as a
//! [`crate::config::SyncUrl`], and no error of this module repeats it.

pub mod reconcile;
pub mod report;
pub mod schema;
pub mod tls;

use tokio_postgres::config::SslMode;

use crate::config;

/// What went wrong with the head office's database.
#[derive(Debug, thiserror::Error)]
pub enum HqError {
    /// No `[sync]` section and no `SCANPAY_SYNC_URL`.
    #[error("no head-office database configured: add [sync] postgres_url or set SCANPAY_SYNC_URL")]
    NotConfigured,
    /// The server could not be reached or refused the login.
    #[error("head-office database: cannot connect: {0}")]
    Connect(String),
    /// TLS could not be set up (trust store, CA file).
    #[error("head-office database: TLS: {0}")]
    Tls(String),
    /// A statement failed.
    #[error("head-office database: {0}")]
    Db(String),
    /// The central schema is missing or older than this build (`scanpay hq init`).
    #[error(
        "the head-office schema is at version {found}, this build needs {needed}: run `scanpay hq init`"
    )]
    Schema {
        /// Found version (0: none).
        found: i32,
        /// Needed version.
        needed: i32,
    },
    /// The central schema is newer than this build.
    #[error(
        "the head-office schema is at version {found}, newer than this build ({supported}): update scanpay"
    )]
    TooNew {
        /// Found.
        found: i32,
        /// Newest this build knows.
        supported: i32,
    },
    /// The till's log is behind what the head office already acknowledged for it (a data
    /// folder restored from an older backup): its new rows would reuse row ids the head office
    /// holds with other contents, so nothing is shipped.
    #[error(
        "the head office already has this till's log up to change #{central}, but the log here ends at #{local} (restored from an older backup?): nothing was shipped; see docs/multi-till.md, \"A restored backup\""
    )]
    Diverged {
        /// The head office's acknowledged seq for this till.
        central: i64,
        /// The last seq in the till's log.
        local: i64,
    },
    /// A date that is not `YYYY-MM-DD`.
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    /// A shipped row the head office cannot read.
    #[error("head-office database: a shipped row cannot be read: {0}")]
    BadRow(String),
}

impl From<tokio_postgres::Error> for HqError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's own message (code and text) when there is one; never the URL.
        // A server going away (shut down, restarted) or a network dropping mid-statement is a
        // connection problem: the next attempt may succeed.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        match e.as_db_error() {
            Some(db)
                if db.code().code().starts_with("57P") || db.code().code().starts_with("08") =>
            {
                HqError::Connect(format!("{} ({})", db.message(), db.code().code()))
            }
            Some(db) => HqError::Db(format!("{} ({})", db.message(), db.code().code())),
            None if e.is_closed() || io => HqError::Connect(connect_error(&e)),
            None => HqError::Db(crate::config::redact_passwords(&e.to_string())),
        }
    }
}

impl HqError {
    /// Whether trying again later may succeed (the server is down or the network dropped),
    /// as opposed to a problem a person must fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, HqError::Connect(_))
    }
}

/// The `[sync]` section, or [`HqError::NotConfigured`].
pub fn settings(cfg: &config::Config) -> Result<&config::Sync, HqError> {
    cfg.sync.as_ref().ok_or(HqError::NotConfigured)
}

fn tls_config(sync: &config::Sync) -> Result<rustls::ClientConfig, HqError> {
    match &sync.ca_file {
        None => {
            use rustls_platform_verifier::ConfigVerifierExt;
            rustls::ClientConfig::with_platform_verifier().map_err(|e| HqError::Tls(e.to_string()))
        }
        Some(path) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| HqError::Tls(format!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| HqError::Tls(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| HqError::Tls(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(HqError::Tls(format!(
                    "{}: no certificate in the file",
                    path.display()
                )));
            }
            Ok(rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth())
        }
    }
}

/// Connects to the head office's database (TLS unless the URL says `sslmode=disable`); the
/// connection runs on its own task until the client is dropped.
pub async fn connect(sync: &config::Sync) -> Result<tokio_postgres::Client, HqError> {
    let mut pg: tokio_postgres::Config = sync
        .postgres_url
        .secret()
        .parse()
        .map_err(|_| HqError::Connect("the URL is not a valid PostgreSQL URL".into()))?;
    if pg.get_application_name().is_none() {
        pg.application_name("scanpay");
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(std::time::Duration::from_secs(10));
    }
    let client = if pg.get_ssl_mode() == SslMode::Disable {
        let (client, conn) = pg
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| HqError::Connect(connect_error(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    } else {
        let (client, conn) = pg
            .connect(tls::RustlsConnect::new(tls_config(sync)?))
            .await
            .map_err(|e| HqError::Connect(connect_error(&e)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    };
    Ok(client)
}

fn connect_error(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::config::redact_passwords(&text)
}

/// The Beijing day `YYYY-MM-DD` as `[start, end)` in epoch milliseconds (the bill's day; the
/// till's `created_at` is in milliseconds).
pub fn beijing_day(date: &str) -> Result<(i64, i64), HqError> {
    let day: jiff::civil::Date = date.parse().map_err(|_| HqError::BadDate(date.into()))?;
    let start = day
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .map_err(|_| HqError::BadDate(date.into()))?
        .timestamp()
        .as_millisecond();
    Ok((start, start + 24 * 3600 * 1000))
}
