//! Shared helpers for the node's integration tests: a node started in-process or as a child
//! process on loopback, and an HTTP/1.1 and HTTP/2 client over real TLS.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri, Version};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use idnode::config::Config;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// The prefix every test node homes.
pub(crate) const PREFIX: &str = "88.118.8";
/// The administrator identity `init` creates.
pub(crate) const ADMIN: &str = "300:88.118.8/ADMIN";
/// The administrator's secret given to `init`.
pub(crate) const ADMIN_SECRET: &str = "admin-secret-pw";
/// PBKDF2 iterations for stored secrets: low, to keep the tests fast.
pub(crate) const ITERATIONS: u32 = 1000;

/// ALPN offers of a client that speaks HTTP/1.1 only.
pub(crate) fn alpn_http1() -> Vec<Vec<u8>> {
    vec![b"http/1.1".to_vec()]
}

/// ALPN offers of a client that prefers HTTP/2.
pub(crate) fn alpn_h2() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// `Authorization: Basic` for `identity` and `secret`, with the username percent-encoded as the
/// reference describes (`%` first, then `:`).
pub(crate) fn basic(identity: &str, secret: &str) -> String {
    let user = identity.replace('%', "%25").replace(':', "%3A");
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// A connection to the node: plain TCP or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain(_) => Connected::new(),
            Self::Tls(s) if s.get_ref().1.alpn_protocol() == Some(b"h2") => {
                Connected::new().negotiated_h2()
            }
            Self::Tls(_) => Connected::new(),
        }
    }
}

/// Connects `http://` URIs over TCP and `https://` URIs over TLS.
#[derive(Clone)]
struct Connector {
    tls: TlsConnector,
}

type ConnectFuture = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<Stream>>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
            let host = uri.host().ok_or_else(|| invalid("no host"))?.to_owned();
            let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            if uri.scheme_str() == Some("https") {
                let name = ServerName::try_from(host).map_err(|_| invalid("bad server name"))?;
                let stream = tls.connect(name, tcp).await?;
                Ok(TokioIo::new(Stream::Tls(Box::new(stream))))
            } else {
                Ok(TokioIo::new(Stream::Plain(tcp)))
            }
        })
    }
}

/// A pooled HTTP client trusting one certificate.
#[derive(Clone)]
pub(crate) struct Client {
    inner: HyperClient<Connector, Full<Bytes>>,
}

impl Client {
    /// A client trusting `cert_pem` and offering `alpn` over TLS.
    pub(crate) fn new(cert_pem: &[u8], alpn: &[Vec<u8>]) -> Self {
        let config = idnode_certs::tls::client_config_trusting(cert_pem, alpn)
            .expect("client TLS configuration");
        let connector = Connector {
            tls: TlsConnector::from(config),
        };
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { inner }
    }

    /// Sends one request; `Err` is a transport failure (no HTTP response).
    pub(crate) async fn try_send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, String> {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    }

    /// Sends one request and panics on a transport failure.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        match self.try_send(method.clone(), url, headers, body).await {
            Ok(reply) => reply,
            Err(e) => panic!("{method} {url} failed: {e}"),
        }
    }
}

/// A complete HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status.
    pub(crate) status: StatusCode,
    /// The HTTP version it came over.
    pub(crate) version: Version,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The whole body.
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as JSON; panics when it is not.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `responseCode` of a JSON body.
    pub(crate) fn rc(&self) -> i64 {
        self.json()["responseCode"]
            .as_i64()
            .unwrap_or_else(|| panic!("no responseCode in {}", self.text()))
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and the response code, returning the JSON body.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16, rc: i64) -> Value {
        assert_eq!(
            (self.status.as_u16(), self.rc()),
            (status, rc),
            "unexpected answer: {}",
            self.text()
        );
        self.json()
    }

    /// The indexes of the `values` of a resolution, in order.
    pub(crate) fn indexes(&self) -> Vec<u64> {
        self.json()["values"]
            .as_array()
            .unwrap_or_else(|| panic!("no values in {}", self.text()))
            .iter()
            .map(|v| v["index"].as_u64().expect("integer index"))
            .collect()
    }
}

/// A way to talk to a node: a base URL and optional credentials.
#[derive(Clone)]
pub(crate) struct Api {
    client: Client,
    base: String,
    auth: Option<String>,
}

impl Api {
    /// The same base URL, authenticating with `identity` and `secret`.
    pub(crate) fn as_user(&self, identity: &str, secret: &str) -> Self {
        self.with_authorization(&basic(identity, secret))
    }

    /// The same base URL with an explicit `Authorization` header.
    pub(crate) fn with_authorization(&self, authorization: &str) -> Self {
        Self {
            client: self.client.clone(),
            base: self.base.clone(),
            auth: Some(authorization.to_owned()),
        }
    }

    /// The URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with any method, headers and body; credentials are added.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &self.auth {
            all.push(("authorization", auth));
        }
        self.client.send(method, &self.url(path), &all, body).await
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[("accept", "application/json")], None)
            .await
    }

    /// `PUT path` with a JSON body.
    pub(crate) async fn put(&self, path: &str, body: &Value) -> Reply {
        self.put_raw(
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// `PUT path` with any content type (or none) and body.
    pub(crate) async fn put_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| vec![("content-type", ct)])
            .unwrap_or_default();
        self.request(Method::PUT, path, &headers, Some(body)).await
    }

    /// `DELETE path`.
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, &[], None).await
    }
}

/// Writes `text` to a new file.
pub(crate) fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A node running in this process on ephemeral loopback ports.
pub(crate) struct Node {
    /// The temporary directory holding the data directory and the secret file.
    pub(crate) dir: tempfile::TempDir,
    /// The data directory.
    pub(crate) data: PathBuf,
    /// The bound plain HTTP address.
    pub(crate) http_addr: SocketAddr,
    /// The bound HTTPS address.
    pub(crate) https_addr: SocketAddr,
    /// The node's self-signed certificate.
    pub(crate) cert_pem: Vec<u8>,
    /// An HTTP/1.1 client trusting the certificate.
    pub(crate) client: Client,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Initialises prefix 88.118.8 with [`ADMIN_SECRET`] and serves HTTP and HTTPS.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// As [`Node::start`], after `edit` has adjusted the configuration.
    pub(crate) async fn start_with(edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        let mut config = Config {
            data: data.clone(),
            ..Config::default()
        };
        config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        // Tests send bursts from one loopback source; `limits.rs` tests the rate itself.
        config.limits.requests_per_second_per_source = 0;
        config.https.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.auth.secret_iterations = ITERATIONS;
        edit(&mut config);
        let secret_file = dir.path().join("admin-secret");
        write_file(&secret_file, ADMIN_SECRET);
        idnode::cli::init::run(config.clone(), PREFIX, Some(&secret_file))
            .await
            .expect("idnode init");
        let (shutdown, rx) = watch::channel(false);
        let running = idnode::server::start(config, rx)
            .await
            .expect("idnode serve");
        let cert_pem = std::fs::read(data.join("tls").join("cert.pem")).expect("certificate");
        let client = Client::new(&cert_pem, &alpn_http1());
        Self {
            dir,
            data,
            http_addr: running.bound.http.expect("http bound"),
            https_addr: running.bound.https.expect("https bound"),
            cert_pem,
            client,
            shutdown,
            tasks: running.tasks,
        }
    }

    /// Anonymous requests over HTTPS.
    pub(crate) fn https(&self) -> Api {
        Api {
            client: self.client.clone(),
            base: format!("https://{}", self.https_addr),
            auth: None,
        }
    }

    /// Anonymous requests over plain HTTP.
    pub(crate) fn http(&self) -> Api {
        Api {
            client: self.client.clone(),
            base: format!("http://{}", self.http_addr),
            auth: None,
        }
    }

    /// Requests over HTTPS as the prefix administrator.
    pub(crate) fn admin(&self) -> Api {
        self.https().as_user(ADMIN, ADMIN_SECRET)
    }

    /// Requests over HTTPS with a client offering `alpn`.
    pub(crate) fn https_with_alpn(&self, alpn: &[Vec<u8>]) -> Api {
        Api {
            client: Client::new(&self.cert_pem, alpn),
            base: format!("https://{}", self.https_addr),
            auth: None,
        }
    }

    /// Signals shutdown and waits for the listeners to finish.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            task.await.expect("listener task");
        }
    }
}

/// The `idnode` binary built for these tests.
pub(crate) fn idnode_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idnode"))
}

/// Runs `idnode` with `args` to completion, returning (success, stdout, stderr).
pub(crate) fn run_idnode(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(idnode_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run idnode");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A free loopback port: bound, then released for the child to take.
pub(crate) fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A data directory prepared with `idnode init`, with a config file of low PBKDF2 cost.
pub(crate) struct DataDir {
    /// The temporary directory holding everything.
    pub(crate) dir: tempfile::TempDir,
    /// The data directory.
    pub(crate) data: PathBuf,
    /// The configuration file.
    pub(crate) config: PathBuf,
}

impl DataDir {
    /// Runs `idnode init` with the known admin secret.
    pub(crate) fn init() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        let config = dir.path().join("idnode.toml");
        write_file(
            &config,
            &format!("[auth]\nsecret_iterations = {ITERATIONS}\n"),
        );
        let secret = dir.path().join("admin-secret");
        write_file(&secret, ADMIN_SECRET);
        let (ok, stdout, stderr) = run_idnode(&[
            "init",
            "--data",
            &data.to_string_lossy(),
            "--config",
            &config.to_string_lossy(),
            "--prefix",
            PREFIX,
            "--admin-secret-file",
            &secret.to_string_lossy(),
        ]);
        assert!(ok, "idnode init failed:\n{stdout}\n{stderr}");
        Self { dir, data, config }
    }
}

/// An `idnode serve` child process.
pub(crate) struct Served {
    /// The child.
    pub(crate) child: Child,
    /// Its plain HTTP address.
    pub(crate) http_addr: SocketAddr,
    /// Its HTTPS address.
    pub(crate) https_addr: SocketAddr,
    /// Where its log goes.
    pub(crate) log: PathBuf,
}

impl Served {
    /// Starts `idnode serve` on `data` with free ports and waits until `/healthz` answers.
    pub(crate) async fn start(data: &Path, config: &Path, log: PathBuf) -> Self {
        Self::start_limited(data, config, log, None).await
    }

    /// Starts `idnode serve` as [`Self::start`] does, with at most `fd_limit` open files when
    /// given (through the shell's `ulimit -n`, soft and hard).
    pub(crate) async fn start_limited(
        data: &Path,
        config: &Path,
        log: PathBuf,
        fd_limit: Option<u32>,
    ) -> Self {
        let http_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let https_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = match fd_limit {
            None => Command::new(idnode_bin()),
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(idnode_bin());
                shell
            }
        };
        let child = command
            .args([
                "serve",
                "--data",
                &data.to_string_lossy(),
                "--config",
                &config.to_string_lossy(),
                "--http",
                &http_addr.to_string(),
                "--https",
                &https_addr.to_string(),
                // The native listener would default to 127.0.0.1:2641, shared by every node.
                "--handle",
                "off",
            ])
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn idnode serve");
        let mut served = Self {
            child,
            http_addr,
            https_addr,
            log,
        };
        served.wait_healthy(data).await;
        served
    }

    /// Polls `/healthz` over plain HTTP until it answers 200, failing if the child exits.
    async fn wait_healthy(&mut self, data: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        // The certificate is made at start-up; plain HTTP needs none, so any client works.
        let client = Client::new(&placeholder_cert(data), &alpn_http1());
        let url = format!("http://{}/healthz", self.http_addr);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!(
                    "idnode serve exited with {status}:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(reply) = client.try_send(Method::GET, &url, &[], None).await
                && reply.status == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "idnode serve did not become healthy:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            // Back off briefly between connection attempts while the child starts.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGKILL and reaps the child.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("kill idnode");
        self.child.wait().expect("reap idnode");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A certificate for building a client before the node has made its own: the node's one if it
/// exists, otherwise a throwaway self-signed one (used only for plain HTTP).
fn placeholder_cert(data: &Path) -> Vec<u8> {
    std::fs::read(data.join("tls").join("cert.pem")).unwrap_or_else(|_| {
        idnode_certs::tls::self_signed(&["localhost".to_owned()], std::time::SystemTime::now())
            .expect("self-signed certificate")
            .cert_pem
            .into_bytes()
    })
}

/// The node's certificate in `data`.
pub(crate) fn node_cert(data: &Path) -> Vec<u8> {
    std::fs::read(data.join("tls").join("cert.pem")).expect("node certificate")
}

/// Shares a value between tasks.
pub(crate) type Shared<T> = Arc<std::sync::Mutex<T>>;
