//! The simulator over HTTPS, for its APIv2 face: a certificate authority of its own that issues
//! the server certificate and the merchant's client certificate (`apiclient_cert.pem`), a TLS
//! listener that asks for a client certificate at the handshake but does not insist (like the
//! real service's nginx front, which answers `/secapi/*` without a good certificate with an
//! HTTP 400 page rather than a failed handshake), and the check of that certificate.
//! Sources: `docs/protocol.md`, "What the simulator imitates" (APIv2 rows).

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::pem::PemObject;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::cert::{self, der, name};
use crate::wechat::keys::{KeyError, PrivateKey, PublicKey, pem_encode};

/// When the certificates the simulator's authority issues become valid: 2020-01-01 UTC. One
/// fixed window, wide enough for both the system clock (which TLS clients check the server
/// certificate against) and any simulated clock (which `/secapi/*` checks the client's against).
pub const NOT_BEFORE: i64 = 1_577_836_800;
/// When they expire: 2049-12-31 23:59:59 UTC (the last UTCTime year).
pub const NOT_AFTER: i64 = 2_524_607_999;

/// The subject of the simulator's authority.
pub const CA_NAME: &str = "scanpay simulator CA (not WeChat Pay)";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Key generation or signing.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate file that is not the authority's certificate.
    #[error("not a certificate of the simulator's authority: {0}")]
    Certificate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The simulator's certificate authority: it signs the server certificate and the merchant's
/// client certificate, and it is the only issuer `/secapi/*` accepts.
pub struct SimCa {
    key: PrivateKey,
    cert_der: Vec<u8>,
    subject: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for SimCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimCa(…)")
    }
}

/// What a client certificate presented on a connection is worth for `/secapi/*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// No certificate was presented.
    Absent,
    /// A certificate not issued by the simulator's authority for this merchant, or not valid now.
    Refused,
    /// Issued by the authority for this merchant and valid now.
    Accepted,
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut inner = der(0x06, oid);
    if critical {
        inner.extend(der(0x01, &[0xff]));
    }
    inner.extend(der(0x04, value));
    der(0x30, &inner)
}

/// An X.509 v3 certificate for `spki`, named `subject`, signed by `issuer_key` as `issuer`,
/// valid from [`NOT_BEFORE`] to [`NOT_AFTER`].
fn certificate(
    issuer: &[u8],
    issuer_key: &PrivateKey,
    subject: &[u8],
    spki: &[u8],
    extensions: &[Vec<u8>],
) -> Result<Vec<u8>, KeyError> {
    cert::certificate(
        &cert::random_serial::<16>()?,
        (issuer, issuer_key),
        (NOT_BEFORE, NOT_AFTER),
        subject,
        spki,
        extensions,
    )
}

const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// Key usage of an end-entity certificate: digitalSignature and keyEncipherment.
fn leaf_key_usage() -> Vec<u8> {
    extension(KEY_USAGE, true, &der(0x03, &[0x05, 0xa0]))
}

impl SimCa {
    /// A fresh authority (RSA-2048), valid from [`NOT_BEFORE`] to [`NOT_AFTER`].
    pub fn generate() -> Result<SimCa, KeyError> {
        let key = PrivateKey::generate()?;
        let subject = name(CA_NAME);
        let cert_der = certificate(
            &subject,
            &key,
            &subject,
            &key.public_spki_der()?,
            &[
                extension(BASIC_CONSTRAINTS, true, &der(0x30, &der(0x01, &[0xff]))),
                // keyCertSign and cRLSign.
                extension(KEY_USAGE, true, &der(0x03, &[0x01, 0x06])),
            ],
        )?;
        Self::from_parts(key, &cert_der)
    }

    /// The authority from its key and certificate (PEM), as saved in the keys folder.
    pub fn from_pem(key: PrivateKey, cert_pem: &[u8]) -> Result<SimCa, TlsError> {
        let cert = CertificateDer::from_pem_slice(cert_pem)
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        let ca = Self::from_parts(key, cert.as_ref())?;
        // The certificate must be this key's.
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca.cert_der)
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if parsed.public_key().raw != ca.key.public_spki_der()?.as_slice() {
            return Err(TlsError::Certificate(
                "the certificate is not the key's".into(),
            ));
        }
        Ok(ca)
    }

    fn from_parts(key: PrivateKey, cert_der: &[u8]) -> Result<SimCa, KeyError> {
        let (_, parsed) =
            x509_parser::parse_x509_certificate(cert_der).map_err(|_| KeyError::Generate)?;
        let subject = parsed.subject().as_raw().to_vec();
        let public =
            PublicKey::from_spki_der(parsed.public_key().raw).map_err(|_| KeyError::Generate)?;
        Ok(SimCa {
            cert_der: cert_der.to_vec(),
            subject,
            public,
            key,
        })
    }

    /// The authority's certificate, PEM (`sim_ca.pem`: the till's `tls_root_certificate`).
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// The authority's private key, PKCS#8 PEM (kept 0600 in the keys folder).
    pub fn key_pem(&self) -> Result<String, KeyError> {
        self.key.to_pkcs8_pem()
    }

    /// A server certificate for `127.0.0.1`, `::1` and `localhost`, with a fresh key; DER.
    pub fn issue_server(&self) -> Result<(Vec<u8>, PrivateKey), KeyError> {
        let key = PrivateKey::generate()?;
        let san = der(
            0x30,
            &[
                der(0x87, &[127, 0, 0, 1]),
                der(0x87, &std::net::Ipv6Addr::LOCALHOST.octets()),
                der(0x82, b"localhost"),
            ]
            .concat(),
        );
        let cert = certificate(
            &self.subject,
            &self.key,
            &name("127.0.0.1 (scanpay simulator)"),
            &key.public_spki_der()?,
            &[
                leaf_key_usage(),
                extension(EXT_KEY_USAGE, false, &der(0x30, &der(0x06, SERVER_AUTH))),
                extension(SUBJECT_ALT_NAME, false, &san),
            ],
        )?;
        Ok((cert, key))
    }

    /// The merchant's API certificate (`apiclient_cert.pem`) for `key`: common name `mchid`,
    /// as WeChat Pay's merchant certificates name the merchant number; PEM.
    pub fn issue_client(&self, key: &PrivateKey, mchid: &str) -> Result<String, KeyError> {
        let cert = certificate(
            &self.subject,
            &self.key,
            &name(mchid),
            &key.public_spki_der()?,
            &[
                leaf_key_usage(),
                extension(EXT_KEY_USAGE, false, &der(0x30, &der(0x06, CLIENT_AUTH))),
            ],
        )?;
        Ok(pem_encode("CERTIFICATE", &cert))
    }

    /// What the certificate a connection presented (DER, the end entity) is worth for
    /// `mchid` at `now` (Unix seconds): issued and signed by this authority, valid now, with
    /// the merchant number as its common name.
    pub fn check_client(&self, cert: Option<&[u8]>, mchid: &str, now: i64) -> ClientCert {
        let Some(der) = cert else {
            return ClientCert::Absent;
        };
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der) else {
            return ClientCert::Refused;
        };
        if parsed.issuer().as_raw() != self.subject.as_slice() {
            return ClientCert::Refused;
        }
        let signature =
            base64::engine::general_purpose::STANDARD.encode(&parsed.signature_value.data);
        if !self
            .public
            .verify_base64(parsed.tbs_certificate.as_ref(), &signature)
        {
            return ClientCert::Refused;
        }
        let v = parsed.validity();
        if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
            return ClientCert::Refused;
        }
        let cn = parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok());
        if cn != Some(mchid) {
            return ClientCert::Refused;
        }
        ClientCert::Accepted
    }

    /// The rustls server configuration: a fresh server certificate from this authority, client
    /// certificates asked for but optional (checked per request by [`SimCa::check_client`]).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (cert, key) = self.issue_server()?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(key.to_pkcs8_pem()?.as_bytes())
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        let verifier = Arc::new(AnyClientCert {
            provider: provider.clone(),
            hints: vec![DistinguishedName::from(self.subject.clone())],
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![
                    CertificateDer::from(cert),
                    CertificateDer::from(self.cert_der.clone()),
                ],
                PrivateKeyDer::Pkcs8(key_der),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Asks for a client certificate, accepts any at the handshake (the possession of its key is
/// still proven by the handshake signature), and leaves the chain to [`SimCa::check_client`].
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    hints: Vec<DistinguishedName>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Who is at the other end of a TLS connection: its address and the client certificate it
/// presented (end entity, DER), if any. Handlers read it as `ConnectInfo<TlsPeer>`.
#[derive(Clone, Debug)]
pub struct TlsPeer {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The end-entity certificate the client presented (not yet checked).
    pub client_cert: Option<Vec<u8>>,
}

/// A listener that completes TLS handshakes in the background (one task per connection, so a
/// slow client holds up no one) and hands axum the finished streams.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, TlsPeer)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on an already bound listener.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "simulator: accept failed");
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                // Answers go out at once (as nginx's `tcp_nodelay on`): with Nagle's algorithm
                // the answer written right after TLS 1.3's session tickets waited for the
                // client's delayed ACK of them (up to 40 ms), and on tokio's paused clock a
                // client's timeout fired first (docs/robustness.md, fault matrix).
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "simulator: TCP_NODELAY not set");
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            let client_cert = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|c| c.as_ref().to_vec());
                            let _ = tx.send((stream, TlsPeer { addr, client_cert })).await;
                        }
                        Err(e) => tracing::debug!(error = %e, "simulator: TLS handshake failed"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local, task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = TlsPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task ended (aborted): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(TlsPeer {
            addr: self.local,
            client_cert: None,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for TlsPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_are_checked_against_issuer_signature_validity_and_merchant() {
        let now = 1_790_000_000;
        let ca = SimCa::generate().unwrap();
        let merchant = PrivateKey::generate().unwrap();
        let pem = ca.issue_client(&merchant, "1900000001").unwrap();
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(
            ca.check_client(Some(der.as_ref()), "1900000001", now),
            ClientCert::Accepted
        );
        assert_eq!(
            ca.check_client(Some(der.as_ref()), "1900000002", now),
            ClientCert::Refused
        );
        assert_eq!(
            ca.check_client(Some(der.as_ref()), "1900000001", NOT_AFTER + 1),
            ClientCert::Refused
        );
        assert_eq!(ca.check_client(None, "1900000001", now), ClientCert::Absent);
        // Another authority with the same name: the signature does not verify.
        let other = SimCa::generate().unwrap();
        let foreign = other.issue_client(&merchant, "1900000001").unwrap();
        let foreign = CertificateDer::from_pem_slice(foreign.as_bytes()).unwrap();
        assert_eq!(
            ca.check_client(Some(foreign.as_ref()), "1900000001", now),
            ClientCert::Refused
        );
        // Saved and loaded, the authority is the same.
        let again = SimCa::from_pem(
            PrivateKey::from_pem(ca.key_pem().unwrap().as_bytes(), std::path::Path::new("k"))
                .unwrap(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap();
        assert_eq!(
            again.check_client(Some(der.as_ref()), "1900000001", now),
            ClientCert::Accepted
        );
        assert!(SimCa::from_pem(merchant, ca.cert_pem().as_bytes()).is_err());
        assert!(ca.server_config().is_ok());
    }
}
