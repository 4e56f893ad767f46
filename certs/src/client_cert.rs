//! TLS client certificates as the handle.net REST API uses them (`handle-rest-api.md` §6.2):
//! the identity `index:handle` sits in the subject's UID (or CN when there is no UID), and the
//! certificate's public key must equal an `HS_PUBKEY` value at that identity. Any issuer is
//! accepted, self-signed included: the TLS handshake proves that the client holds the private
//! key, and the `HS_PUBKEY` comparison (the resolver's) decides who it is.
//!
//! [`ClientCertVerifier`] asks every client for an optional certificate, accepts any chain, and
//! checks the handshake signature with ring's algorithms; [`client_certificate`] reads the
//! identity and key out of the leaf.

use std::sync::Arc;

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Tag, Tagged as _};
use idnode_proto::PublicKey;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use x509_cert::Certificate;

/// `userId` (RFC 4519, 0.9.2342.19200300.100.1.1).
const UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
/// `commonName` (2.5.4.3).
const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-Ed25519` (1.3.101.112).
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Why a client certificate names no usable identity or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientCertError {
    /// The certificate is not DER X.509.
    #[error("the client certificate does not decode: {0}")]
    Malformed(String),
    /// The subject has neither a UID nor a CN that is text.
    #[error("the client certificate's subject names no identity (UID or CN)")]
    NoIdentity,
    /// The key is neither RSA nor Ed25519, which is all `HS_PUBKEY` holds here.
    #[error("the client certificate's key is neither RSA nor Ed25519")]
    UnsupportedKey,
}

/// What a client certificate presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The identity text, `index:handle` as written in the subject (not yet parsed).
    pub identity: String,
    /// The subject public key, in the form `HS_PUBKEY` values take.
    pub key: PublicKey,
}

/// Reads the identity and public key of a DER certificate.
pub fn client_certificate(der: &[u8]) -> Result<ClientCertificate, ClientCertError> {
    let certificate =
        Certificate::from_der(der).map_err(|e| ClientCertError::Malformed(e.to_string()))?;
    let tbs = &certificate.tbs_certificate;
    let text_of = |wanted: ObjectIdentifier| {
        tbs.subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|attribute| attribute.oid == wanted)
            .and_then(|attribute| {
                let value = &attribute.value;
                let text_tag = matches!(
                    value.tag(),
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
                );
                text_tag
                    .then(|| std::str::from_utf8(value.value()).ok())
                    .flatten()
                    .map(str::to_owned)
            })
    };
    let identity = text_of(UID)
        .or_else(|| text_of(CN))
        .filter(|text| !text.trim().is_empty())
        .ok_or(ClientCertError::NoIdentity)?;
    let spki = &tbs.subject_public_key_info;
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or(ClientCertError::UnsupportedKey)?;
    let key = match spki.algorithm.oid {
        RSA => {
            let rsa = pkcs1::RsaPublicKey::from_der(bits)
                .map_err(|e| ClientCertError::Malformed(e.to_string()))?;
            PublicKey::Rsa {
                exponent: rsa.public_exponent.as_bytes().to_vec(),
                modulus: rsa.modulus.as_bytes().to_vec(),
            }
        }
        ED25519 => PublicKey::Ed25519(bits.try_into().map_err(|_| {
            ClientCertError::Malformed("an Ed25519 key of the wrong length".into())
        })?),
        _ => return Err(ClientCertError::UnsupportedKey),
    };
    Ok(ClientCertificate { identity, key })
}

/// Asks every TLS client for a certificate without requiring one, accepts any chain (the
/// identity is decided by `HS_PUBKEY`, not by an issuer), and verifies the handshake signature
/// that proves the client holds the certificate's private key.
#[derive(Debug)]
pub struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    /// The verifier, checking handshake signatures with `algorithms` (the provider's).
    pub fn new(algorithms: WebPkiSupportedAlgorithms) -> Arc<Self> {
        Arc::new(Self { algorithms })
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
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
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(params: rcgen::CertificateParams, key: &rcgen::KeyPair) -> Vec<u8> {
        params.self_signed(key).unwrap().der().to_vec()
    }

    #[test]
    fn the_identity_is_the_uid_or_else_the_cn() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "300:88.118.8/CN-ONLY");
        let read = client_certificate(&certificate(params.clone(), &key)).unwrap();
        assert_eq!(read.identity, "300:88.118.8/CN-ONLY");
        assert_eq!(
            read.key,
            PublicKey::Ed25519(key.public_key_raw().try_into().unwrap())
        );
        params.distinguished_name.push(
            rcgen::DnType::CustomDnType(vec![0, 9, 2342, 19_200_300, 100, 1, 1]),
            "300:88.118.8/ADMIN",
        );
        let read = client_certificate(&certificate(params, &key)).unwrap();
        assert_eq!(read.identity, "300:88.118.8/ADMIN");
    }

    #[test]
    fn garbage_and_nameless_certificates_are_refused() {
        assert!(matches!(
            client_certificate(b"not a certificate"),
            Err(ClientCertError::Malformed(_))
        ));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        assert_eq!(
            client_certificate(&certificate(params, &key)),
            Err(ClientCertError::NoIdentity)
        );
    }
}
