//! Self-signed certificates and rustls configurations, with ring as the only crypto provider.
//!
//! Every configuration is built with `builder_with_provider` and ring's default provider, so no
//! process-wide provider has to be installed and a second provider in the build could not be
//! picked up by accident. Servers offer TLS 1.3 and TLS 1.2 with rustls' default cipher suites.
//! Certificates and keys come in as PEM text (the node reads the files); PEM is parsed with
//! rustls-pki-types, which accepts PKCS#8, PKCS#1 (RSA) and SEC1 (EC) private keys.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use time::OffsetDateTime;

use crate::client_cert::AnyClientCert;

/// The common name of generated certificates.
pub const SELF_SIGNED_COMMON_NAME: &str = "idnode";

/// How long before `now` a generated certificate becomes valid, to allow for clock skew.
pub const SELF_SIGNED_BACKDATE: Duration = Duration::from_secs(24 * 60 * 60);

/// How long after `now` a generated certificate stays valid: 3650 days, about ten years.
pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 60 * 60);

/// The protocol versions of every configuration built here, most preferred first.
const PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

/// A certificate or TLS configuration that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// rcgen could not generate the key or the certificate (for example, an invalid name).
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// The certificate validity period does not fit the certificate time range.
    #[error("the certificate validity period is out of range")]
    InvalidTime,
    /// The certificate PEM holds no certificate.
    #[error("no certificate in the certificate PEM")]
    NoCertificate,
    /// The key PEM holds no private key.
    #[error("no private key in the key PEM")]
    NoPrivateKey,
    /// The PEM text is malformed.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// rustls rejected the certificate, the key or the settings.
    #[error("rustls rejected the configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A generated certificate and its private key, both PEM encoded.
///
/// Its `Debug` form leaves the private key out.
#[derive(Clone)]
pub struct SelfSigned {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: String,
}

impl fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSigned")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Generates a self-signed server certificate for `subject_alt_names` with a new ECDSA P-256
/// key.
///
/// Names that parse as IP addresses become IP address SANs, the others DNS names. The subject
/// common name is [`SELF_SIGNED_COMMON_NAME`], the certificate is not a CA, and it is valid from
/// `now` − [`SELF_SIGNED_BACKDATE`] to `now` + [`SELF_SIGNED_VALIDITY`]. `now` is the caller's
/// clock reading. The key is drawn from ring's system random source, since ring does not take a
/// caller's generator.
pub fn self_signed(subject_alt_names: &[String], now: SystemTime) -> Result<SelfSigned, TlsError> {
    let mut params = CertificateParams::new(subject_alt_names.to_vec())
        .map_err(|err| TlsError::Generate(err.to_string()))?;
    params
        .distinguished_name
        .push(DnType::CommonName, SELF_SIGNED_COMMON_NAME);
    params.not_before = offset_date_time(now.checked_sub(SELF_SIGNED_BACKDATE))?;
    params.not_after = offset_date_time(now.checked_add(SELF_SIGNED_VALIDITY))?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|err| TlsError::Generate(err.to_string()))?;
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|err| TlsError::Generate(err.to_string()))?;
    Ok(SelfSigned {
        cert_pem: certificate.pem(),
        key_pem: key_pair.serialize_pem(),
    })
}

/// Builds a server configuration from a certificate chain and its private key, both PEM, that
/// offers `alpn` in order of preference (the node passes `h2` and `http/1.1`).
///
/// The chain is every certificate in `cert_pem`, leaf first; the key is the first private key
/// in `key_pem`. Clients are not asked for certificates.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    alpn: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, TlsError> {
    build_server_config(cert_pem, key_pem, alpn, false)
}

/// Builds a server configuration as [`server_config`] does, that also asks every client for an
/// optional certificate ([`AnyClientCert`]): any chain is accepted, and the
/// handshake proves that the client holds the certificate's private key.
pub fn server_config_with_client_certs(
    cert_pem: &[u8],
    key_pem: &[u8],
    alpn: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, TlsError> {
    build_server_config(cert_pem, key_pem, alpn, true)
}

fn build_server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    alpn: &[Vec<u8>],
    client_certs: bool,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| match err {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        other => TlsError::Pem(other.to_string()),
    })?;
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let builder =
        ServerConfig::builder_with_provider(provider).with_protocol_versions(PROTOCOL_VERSIONS)?;
    let builder = if client_certs {
        builder.with_client_cert_verifier(AnyClientCert::new(algorithms))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = alpn.to_vec();
    Ok(Arc::new(config))
}

/// Builds a client configuration that trusts exactly the certificates in `cert_pem` (typically
/// one self-signed certificate) and offers `alpn`. It is meant for tests and for talking to a
/// node whose self-signed certificate was pinned out of band.
pub fn client_config_trusting(
    cert_pem: &[u8],
    alpn: &[Vec<u8>],
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(cert_pem)? {
        roots.add(certificate)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.to_vec();
    Ok(Arc::new(config))
}

/// Returns ring's default provider, the only one this workspace builds.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(cert_pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Pem(err.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(chain)
}

fn offset_date_time(instant: Option<SystemTime>) -> Result<OffsetDateTime, TlsError> {
    let seconds = match instant.map(|at| at.duration_since(SystemTime::UNIX_EPOCH)) {
        Some(Ok(after)) => i64::try_from(after.as_secs()).map_err(|_| TlsError::InvalidTime)?,
        Some(Err(before)) => {
            let seconds =
                i64::try_from(before.duration().as_secs()).map_err(|_| TlsError::InvalidTime)?;
            -seconds
        }
        None => return Err(TlsError::InvalidTime),
    };
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| TlsError::InvalidTime)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::{CertificateError, ProtocolVersion};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::*;

    /// 2026-05-01T00:00:00Z, a fixed clock reading for tests that do not talk to rustls' clock.
    const FIXED_NOW_SECS: u64 = 1_777_593_600;

    fn fixed_now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_NOW_SECS)
    }

    /// The real time: a handshake's certificate check reads the system clock inside rustls, so
    /// a certificate for a handshake test has to be valid now, not at a fixed instant.
    #[allow(clippy::disallowed_methods)]
    fn real_now() -> SystemTime {
        SystemTime::now()
    }

    fn names() -> Vec<String> {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    }

    fn alpn() -> Vec<Vec<u8>> {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    }

    /// Runs one handshake over loopback, echoes a message, and returns what the client saw.
    async fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<(Option<Vec<u8>>, Option<ProtocolVersion>), std::io::Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let serve = async {
            let (stream, _) = listener.accept().await?;
            let mut tls = TlsAcceptor::from(server).accept(stream).await?;
            let mut message = [0u8; 5];
            tls.read_exact(&mut message).await?;
            tls.write_all(&message).await?;
            tls.shutdown().await?;
            Ok::<_, std::io::Error>(())
        };
        let connect = async {
            let stream = TcpStream::connect(address).await?;
            let mut tls = TlsConnector::from(client)
                .connect(server_name, stream)
                .await?;
            tls.write_all(b"hello").await?;
            let mut echo = Vec::new();
            tls.read_to_end(&mut echo).await?;
            assert_eq!(echo, b"hello");
            let (_, session) = tls.get_ref();
            Ok::<_, std::io::Error>((
                session.alpn_protocol().map(<[u8]>::to_vec),
                session.protocol_version(),
            ))
        };
        let (served, connected) = tokio::join!(serve, connect);
        let outcome = connected?;
        served?;
        Ok(outcome)
    }

    #[tokio::test]
    async fn handshake_with_generated_certificate() {
        let generated = self_signed(&names(), real_now()).unwrap();
        let server = server_config(
            generated.cert_pem.as_bytes(),
            generated.key_pem.as_bytes(),
            &alpn(),
        )
        .unwrap();
        let client = client_config_trusting(generated.cert_pem.as_bytes(), &alpn()).unwrap();
        let by_name = ServerName::try_from("localhost").unwrap();
        let (alpn, version) = handshake(server.clone(), client.clone(), by_name)
            .await
            .unwrap();
        assert_eq!(alpn.as_deref(), Some(b"h2".as_slice()));
        assert_eq!(version, Some(ProtocolVersion::TLSv1_3));

        // The IP address SAN works too, and a client offering only HTTP/1.1 gets it.
        let client_http1 =
            client_config_trusting(generated.cert_pem.as_bytes(), &[b"http/1.1".to_vec()]).unwrap();
        let by_address = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
        let (alpn, _) = handshake(server, client_http1, by_address).await.unwrap();
        assert_eq!(alpn.as_deref(), Some(b"http/1.1".as_slice()));
    }

    #[tokio::test]
    async fn handshake_over_tls12() {
        let generated = self_signed(&names(), real_now()).unwrap();
        let server = server_config(
            generated.cert_pem.as_bytes(),
            generated.key_pem.as_bytes(),
            &alpn(),
        )
        .unwrap();
        let mut roots = RootCertStore::empty();
        roots
            .add(
                certificates(generated.cert_pem.as_bytes())
                    .unwrap()
                    .remove(0),
            )
            .unwrap();
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let by_name = ServerName::try_from("localhost").unwrap();
        let (alpn, version) = handshake(server, Arc::new(client), by_name).await.unwrap();
        assert_eq!(alpn, None);
        assert_eq!(version, Some(ProtocolVersion::TLSv1_2));
    }

    #[tokio::test]
    async fn handshake_fails_for_another_certificate_or_name() {
        let generated = self_signed(&names(), real_now()).unwrap();
        let other = self_signed(&names(), real_now()).unwrap();
        let server = server_config(
            generated.cert_pem.as_bytes(),
            generated.key_pem.as_bytes(),
            &alpn(),
        )
        .unwrap();
        let wrong_trust = client_config_trusting(other.cert_pem.as_bytes(), &alpn()).unwrap();
        let by_name = ServerName::try_from("localhost").unwrap();
        assert!(
            handshake(server.clone(), wrong_trust, by_name)
                .await
                .is_err()
        );
        let client = client_config_trusting(generated.cert_pem.as_bytes(), &alpn()).unwrap();
        let wrong_name = ServerName::try_from("example.org").unwrap();
        assert!(handshake(server, client, wrong_name).await.is_err());
    }

    #[test]
    fn validity_window_is_about_ten_years() {
        let generated = self_signed(&names(), fixed_now()).unwrap();
        let certificate = certificates(generated.cert_pem.as_bytes())
            .unwrap()
            .remove(0);
        let mut roots = RootCertStore::empty();
        roots.add(certificate.clone()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let check = |at_secs: u64| {
            let at = UnixTime::since_unix_epoch(Duration::from_secs(at_secs));
            verifier.verify_server_cert(&certificate, &[], &name, &[], at)
        };
        let day = 24 * 60 * 60;
        assert!(check(FIXED_NOW_SECS).is_ok());
        assert!(check(FIXED_NOW_SECS - day + 60).is_ok());
        assert!(check(FIXED_NOW_SECS + 3649 * day).is_ok());
        assert!(matches!(
            check(FIXED_NOW_SECS - 2 * day),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
            ))
        ));
        assert!(matches!(
            check(FIXED_NOW_SECS + 3651 * day),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ))
        ));
    }

    #[test]
    fn generated_pem_shapes() {
        let generated = self_signed(&names(), fixed_now()).unwrap();
        assert!(
            generated
                .cert_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(generated.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let debug = format!("{generated:?}");
        assert!(!debug.contains("PRIVATE KEY"));
        // Two generations give two different keys.
        let again = self_signed(&names(), fixed_now()).unwrap();
        assert_ne!(generated.key_pem, again.key_pem);
    }

    #[test]
    fn server_config_sets_alpn() {
        let generated = self_signed(&names(), fixed_now()).unwrap();
        let config = server_config(
            generated.cert_pem.as_bytes(),
            generated.key_pem.as_bytes(),
            &alpn(),
        )
        .unwrap();
        assert_eq!(config.alpn_protocols, alpn());
    }

    #[test]
    fn bad_pem_inputs_are_errors() {
        let generated = self_signed(&names(), fixed_now()).unwrap();
        let (cert, key) = (generated.cert_pem.as_bytes(), generated.key_pem.as_bytes());
        assert!(matches!(
            server_config(b"", key, &[]),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            server_config(key, key, &[]),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            server_config(cert, b"", &[]),
            Err(TlsError::NoPrivateKey)
        ));
        assert!(matches!(
            server_config(cert, cert, &[]),
            Err(TlsError::NoPrivateKey)
        ));
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            server_config(broken, key, &[]),
            Err(TlsError::Pem(_))
        ));
        // A key that does not match the certificate is rejected by rustls.
        let other = self_signed(&names(), fixed_now()).unwrap();
        assert!(matches!(
            server_config(cert, other.key_pem.as_bytes(), &[]),
            Err(TlsError::Rustls(_))
        ));
        assert!(matches!(
            client_config_trusting(b"", &[]),
            Err(TlsError::NoCertificate)
        ));
    }

    #[test]
    fn invalid_names_and_times_are_errors() {
        assert!(matches!(
            self_signed(&["m\u{fc}nchen.example".to_owned()], fixed_now()),
            Err(TlsError::Generate(_))
        ));
        assert!(matches!(
            self_signed(
                &names(),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40)
            ),
            Err(TlsError::InvalidTime)
        ));
    }
}
