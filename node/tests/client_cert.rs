//! TLS client-certificate authentication for the REST API (`handle-rest-api.md` §6.2), over
//! real TLS: a certificate whose subject UID names an identity authenticates requests when its
//! key is an `HS_PUBKEY` value there (with no `Authorization` header, or with pyhandle's
//! `Authorization: Handle clientCert="true"`); a certificate with another key is refused and
//! nothing is written. Clients: rustls with Ed25519 and RSA certificates, and curl.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use idnode_proto::PublicKey;
use serde_json::{Value, json};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

mod support;

use support::*;

const USER: &str = "300:88.118.8/CERTUSER";
/// `userId` (0.9.2342.19200300.100.1.1), as rcgen takes an OID.
const UID: [u64; 7] = [0, 9, 2342, 19_200_300, 100, 1, 1];

/// A self-signed certificate whose subject UID is `identity`, for `key`: (DER, key DER, PEMs).
struct ClientCertificate {
    der: Vec<u8>,
    key_der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
    public: PublicKey,
}

fn certificate(identity: &str, key: rcgen::KeyPair, public: PublicKey) -> ClientCertificate {
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "client");
    params
        .distinguished_name
        .push(rcgen::DnType::CustomDnType(UID.to_vec()), identity);
    let cert = params.self_signed(&key).unwrap();
    ClientCertificate {
        der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        public,
    }
}

fn ed25519(identity: &str) -> ClientCertificate {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let public = PublicKey::Ed25519(key.public_key_raw().try_into().unwrap());
    certificate(identity, key, public)
}

fn rsa(identity: &str) -> ClientCertificate {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let public = PublicKey::Rsa {
        exponent: private.e().to_bytes_be(),
        modulus: private.n().to_bytes_be(),
    };
    let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut made = certificate(identity, key, public);
    // The PKCS#8 text as the rsa crate writes it, which every TLS library reads.
    made.key_pem = pem.to_string();
    made
}

/// One HTTP/1.1 request over TLS to the node, presenting `client` if given.
async fn send(
    node: &Node,
    client: Option<&ClientCertificate>,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&node.cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let builder = ClientConfig::builder_with_provider(idnode_certs::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(client) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(client.der.clone())],
                PrivateKeyDer::try_from(client.key_der.clone()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let stream = tokio::net::TcpStream::connect(node.https_addr)
        .await
        .unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .expect("TLS handshake");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let response = sender
        .send_request(request.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn url(index: u32, text: &str) -> Value {
    json!({"values": [{"index": index, "type": "URL",
                       "data": {"format": "string", "value": text}}]})
}

/// Creates `88.118.8/CERTUSER` with the certificate's key as its `HS_PUBKEY` at index 300,
/// administered by itself.
async fn register(node: &Node, key: &PublicKey) {
    let body = json!({"values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
          "value": {"handle": "88.118.8/CERTUSER", "index": 300, "permissions": "111111111111"}}},
        {"index": 300, "type": "HS_PUBKEY",
         "data": {"format": "base64", "value": STANDARD.encode(key.to_bytes())}},
    ]});
    let reply = node
        .admin()
        .put("/api/handles/88.118.8/CERTUSER", &body)
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
}

async fn indexes(node: &Node) -> Vec<u64> {
    let reply = node.admin().get("/api/handles/88.118.8/CERTUSER").await;
    let mut found: Vec<u64> = reply.json()["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["index"].as_u64())
        .collect();
    found.sort_unstable();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_authenticates_as_its_hs_pubkey_identity() {
    for (name, client) in [("ed25519", ed25519(USER)), ("rsa", rsa(USER))] {
        let node = Node::start().await;
        register(&node, &client.public).await;
        let path = "/api/handles/88.118.8/CERTUSER?index=2&overwrite=false";
        // No Authorization header: the certificate authenticates.
        let (status, reply) = send(
            &node,
            Some(&client),
            "PUT",
            path,
            None,
            Some(&url(2, "https://a.example")),
        )
        .await;
        assert_eq!(status, 201, "{name}: {reply}");
        // pyhandle's header with certificate authentication.
        let (status, reply) = send(
            &node,
            Some(&client),
            "PUT",
            "/api/handles/88.118.8/CERTUSER?index=3&overwrite=false",
            Some("Handle clientCert=\"true\""),
            Some(&url(3, "https://b.example")),
        )
        .await;
        assert_eq!(status, 201, "{name}: {reply}");
        assert_eq!(indexes(&node).await, vec![2, 3, 100, 300], "{name}");
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_with_another_key_or_none_is_refused_and_nothing_is_written() {
    let node = Node::start().await;
    let owner = ed25519(USER);
    register(&node, &owner.public).await;
    let path = "/api/handles/88.118.8/CERTUSER?index=4&overwrite=false";
    // The same UID with another key.
    let impostor = ed25519(USER);
    let (status, _) = send(
        &node,
        Some(&impostor),
        "PUT",
        path,
        None,
        Some(&url(4, "https://x.example")),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(
        &node,
        Some(&impostor),
        "PUT",
        path,
        Some("Handle clientCert=\"true\""),
        Some(&url(4, "https://x.example")),
    )
    .await;
    assert_eq!(status, 401);
    // Asked for, but not presented.
    let (status, _) = send(
        &node,
        None,
        "PUT",
        path,
        Some("Handle clientCert=\"true\""),
        Some(&url(4, "https://x.example")),
    )
    .await;
    assert_eq!(status, 401);
    // A certificate naming an identity that does not exist.
    let stranger = ed25519("300:88.118.8/NOBODY");
    let (status, _) = send(
        &node,
        Some(&stranger),
        "PUT",
        path,
        None,
        Some(&url(4, "https://x.example")),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(indexes(&node).await, vec![100, 300]);
    // Anonymous reads stay anonymous with no certificate.
    let (status, _) = send(
        &node,
        None,
        "GET",
        "/api/handles/88.118.8/CERTUSER",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_authenticates_with_a_client_certificate() {
    let node = Node::start().await;
    // RSA, as most client certificates are (and OpenSSL 3.0 cannot read the PKCS#8 v2 text
    // that ring writes for Ed25519 keys).
    let client = rsa(USER);
    register(&node, &client.public).await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = (
        dir.path().join("ca.pem"),
        dir.path().join("c.pem"),
        dir.path().join("k.pem"),
    );
    std::fs::write(&ca, &node.cert_pem).unwrap();
    std::fs::write(&cert, &client.cert_pem).unwrap();
    std::fs::write(&key, &client.key_pem).unwrap();
    let run = |cert_args: &[&std::path::Path]| {
        let mut command = std::process::Command::new("curl");
        command
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve"])
            .arg(format!("localhost:{}:127.0.0.1", node.https_addr.port()))
            .arg("--cacert")
            .arg(&ca);
        if let [cert, key] = cert_args {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        command
            .args([
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/json",
                "--data",
            ])
            .arg(url(5, "https://curl.example").to_string())
            .arg(format!(
                "https://localhost:{}/api/handles/88.118.8/CERTUSER?index=5&overwrite=false",
                node.https_addr.port()
            ));
        let output = command
            .output()
            .expect("run curl (installed by scripts/test.sh)");
        eprintln!("curl: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(run(&[]), "401", "curl without a certificate");
    assert_eq!(run(&[&cert, &key]), "201", "curl with its certificate");
    node.stop().await;
}
