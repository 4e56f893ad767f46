//! The `[native]` configuration table: where the native Handle protocol is served and its
//! limits.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

/// The default native listen address of `idnode serve` (`hdl-srv`, 2641).
pub const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 2641);

/// A listen setting: an address, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        s.parse()
            .map(|a| Self(Some(a)))
            .map_err(|e| format!("{s:?} is not an address like 127.0.0.1:2641 or off: {e}"))
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which key the node publishes in its site information and signs certified responses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SiteKeyKind {
    /// An RSA-2048 key (`keys/native-rsa.pem`), made on first start: Handle.Net clients can
    /// verify only RSA and DSA site keys.
    #[default]
    Rsa,
    /// The node's Ed25519 key (`keys/node-ed25519.pem`); only idnode's own clients verify it.
    Ed25519,
    /// An SM2 key (`keys/native-sm2.pem`, PKCS#8), made on first start: the national
    /// algorithm; signatures are labelled `SM3` (see `idnode_certs::sm2`).
    Sm2,
}

/// The native Handle protocol listeners (UDP and TCP on one port) and their limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NativeConfig {
    /// Address for UDP and TCP, or `"off"`. When absent, `idnode serve` listens on
    /// 127.0.0.1:2641 and a node started from a library `Config::default()` does not listen.
    pub listen: Option<Listen>,
    /// The key published in the site information and used for certified responses.
    pub site_key: SiteKeyKind,
    /// UDP requests accepted per second from one source address; more are dropped.
    pub udp_requests_per_second: u32,
    /// UDP response bytes per second sent to one source address that has not proven it can
    /// receive (by a TCP or HTTP exchange); the burst is four seconds' worth.
    pub udp_unverified_bytes_per_second: u32,
    /// The most bytes answered over UDP per byte asked, to a source that has not proven it can
    /// receive (3 by default, as DNS response rate limiting); a larger answer goes out
    /// truncated (TC, header only), so the client asks again over TCP, after which the source
    /// counts as proven for ten minutes. Handle.Net 9 clients do not read TC: they retry UDP
    /// for their 3-second schedule and then use TCP. 0 turns the limit off (for networks where
    /// every client is trusted); the byte budget above still bounds amplification then.
    pub udp_max_amplification: u32,
    /// How long a TCP connection may stay idle between requests, in seconds.
    pub tcp_idle_timeout_secs: u64,
    /// How long a challenge may wait for its answer, in seconds (RC 405 after that); 0 makes
    /// every answer late, which only tests want.
    pub challenge_timeout_secs: u64,
    /// The longest session lifetime granted, in seconds.
    pub max_session_secs: u32,
    /// Deprecated: `[limits] daily_request_quota`, which applies to every interface; used when
    /// `[limits]` sets no quota.
    pub daily_request_quota: u64,
    /// Deprecated: `[limits] daily_registration_quota`; used when `[limits]` sets no quota.
    pub daily_registration_quota: u64,
    /// Memory for encoded answers to anonymous resolutions, in bytes; 0 turns the cache off.
    /// Every commit drops what it changed before the writer is answered.
    pub answer_cache_bytes: usize,
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self {
            listen: None,
            site_key: SiteKeyKind::Rsa,
            udp_requests_per_second: 200,
            udp_unverified_bytes_per_second: 16 * 1024,
            udp_max_amplification: 3,
            tcp_idle_timeout_secs: 60,
            challenge_timeout_secs: 60,
            max_session_secs: 24 * 3600,
            daily_request_quota: 0,
            daily_registration_quota: 0,
            answer_cache_bytes: 128 << 20,
        }
    }
}

impl NativeConfig {
    /// The address to listen on, if any.
    pub fn address(&self) -> Option<SocketAddr> {
        self.listen.and_then(|l| l.0)
    }
}
