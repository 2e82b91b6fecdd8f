//! Reaching a host without moving money: one unsigned `GET`, for `scanpay check`. The answer
//! is not trusted for anything but "a server answered" and its `Date` header (the service's
//! clock, which decides whether our request timestamps are accepted: five minutes, see
//! `docs/protocol.md` "Unsigned 401").

use std::time::{Duration, Instant};

use reqwest::Url;

use super::client::USER_AGENT;

/// What a host answered to the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAnswer {
    /// The HTTP status (any status proves the host is reachable; an unsigned probe normally
    /// gets 401).
    pub status: u16,
    /// The `Date` header as Unix seconds, when present and readable.
    pub date_unix: Option<i64>,
    /// Round-trip time.
    pub elapsed: Duration,
}

/// Why a host could not be reached.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// The path probed: an APIv3 path that needs a signature, so the service answers without
/// doing anything.
pub const PROBE_PATH: &str = "/v3/certificates";

/// Sends one unsigned `GET {base}{PROBE_PATH}` and reports the status and the `Date` header.
/// `extra_roots` (PEM) are trusted besides the built-in roots, as the client trusts them
/// (`Settings::extra_roots`, from `tls_root_certificate`).
pub async fn reach(
    base: &Url,
    connect_timeout: Duration,
    request_timeout: Duration,
    extra_roots: &[Vec<u8>],
) -> Result<HostAnswer, Unreachable> {
    let mut roots = Vec::new();
    for pem in extra_roots {
        roots.extend(
            reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Unreachable(format!("extra trusted root: {e}")))?,
        );
    }
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none());
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    let http = builder.build().map_err(|e| Unreachable(e.to_string()))?;
    let url = format!("{}{PROBE_PATH}", base.as_str().trim_end_matches('/'));
    let started = Instant::now();
    let resp = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            let mut detail = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                detail.push_str(": ");
                detail.push_str(&s.to_string());
                src = s.source();
            }
            Unreachable(detail)
        })?;
    let elapsed = started.elapsed();
    let date_unix = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date_unix);
    Ok(HostAnswer {
        status: resp.status().as_u16(),
        date_unix,
        elapsed,
    })
}

/// An HTTP `Date` (IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds.
pub fn http_date_unix(s: &str) -> Option<i64> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(s.trim())
        .ok()
        .map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            http_date_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date_unix("yesterday"), None);
    }
}
