//! The `[federation]` configuration table: this node's place in the identifier hierarchy
//! (`docs/federation.md`).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

use anyhow::Context as _;
use serde::Deserialize;

/// What the node is in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A secondary node (二级节点): it homes its prefixes and the enterprise prefixes derived
    /// from them, and keeps their prefix handles current at its top-level node.
    #[default]
    Secondary,
    /// A top-level node (国家顶级节点): it holds prefix handles and refers clients to the
    /// service of every prefix it delegates; it homes an ordinary handle `P/x` only when it
    /// homes `P` itself.
    TopLevel,
}

/// The `[federation]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// `"secondary"` (the default) or `"top-level"`.
    pub role: Role,
    /// The native addresses (`HOST:PORT`) of the top-level node: where resolution of handles
    /// that live elsewhere starts (the roots of the client algorithm).
    pub top_level: Vec<String>,
    /// Whether to resolve handles that live elsewhere for clients that ask (native REC, or an
    /// HTTP GET). Unset: on for a secondary node that names its top-level node.
    pub recursion: Option<bool>,
    /// The sources that may ask for recursion, as addresses or CIDR blocks. Default: loopback
    /// only, since a recursive resolver open to anyone is an amplifier for anyone.
    pub recursion_from: Vec<String>,
    /// Seconds a "not found" answer from elsewhere is remembered.
    pub negative_ttl: u64,
    /// Answers from elsewhere kept in memory, each for its values' TTL (at most two days);
    /// 0 keeps none, and prefix lookups are then not cached either.
    pub cache_entries: usize,
    /// This node's identity at the top-level node, `300:0.NA/88.118`: the administrator of
    /// its delegation. With `identity_key` and `top_level`, the node keeps its prefix handles
    /// there current (docking).
    pub identity: Option<String>,
    /// The identity's key: a PKCS#8 PEM private key (SM2, RSA or Ed25519, as `idnode keygen`
    /// writes them) or a file holding the `HS_SECKEY` secret.
    pub identity_key: Option<std::path::PathBuf>,
    /// Seconds between two checks of the prefix handles at the top-level node, when nothing
    /// here changed meanwhile. Failures are retried sooner, with backoff.
    pub sync_interval: u64,
    /// Seconds between two operation reports to the top-level node (运行监测), when the node
    /// docks.
    pub report_interval: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            role: Role::Secondary,
            top_level: Vec::new(),
            recursion: None,
            recursion_from: vec!["127.0.0.0/8".into(), "::1/128".into()],
            negative_ttl: 30,
            cache_entries: 100_000,
            identity: None,
            identity_key: None,
            sync_interval: 300,
            report_interval: 3600,
        }
    }
}

impl FederationConfig {
    /// Whether the node recurses.
    pub fn recurses(&self) -> bool {
        self.recursion
            .unwrap_or_else(|| self.role == Role::Secondary && !self.top_level.is_empty())
    }

    /// The top-level node's addresses, looked up now.
    pub fn top_level_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let mut out = Vec::new();
        for entry in &self.top_level {
            let addrs = entry
                .to_socket_addrs()
                .with_context(|| format!("[federation] top_level: cannot resolve {entry:?}"))?;
            out.extend(addrs);
        }
        Ok(out)
    }

    /// The sources that may ask for recursion.
    pub fn recursion_sources(&self) -> anyhow::Result<Vec<Cidr>> {
        self.recursion_from
            .iter()
            .map(|s| {
                Cidr::parse(s).with_context(|| {
                    format!("[federation] recursion_from: {s:?} is not an address or CIDR block")
                })
            })
            .collect()
    }
}

/// An address block, such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/BITS`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = match text.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Self { network, bits })
    }

    /// Whether `ip` is in the block. An IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks() {
        let lo = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains("127.1.2.3".parse().unwrap()));
        assert!(lo.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!lo.contains("10.0.0.1".parse().unwrap()));
        let any = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any.contains("203.0.113.9".parse().unwrap()));
        let one = Cidr::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
    }

    #[test]
    fn recursion_defaults_to_secondaries_with_a_top_level() {
        let mut config = FederationConfig::default();
        assert!(!config.recurses());
        config.top_level = vec!["127.0.0.1:2641".into()];
        assert!(config.recurses());
        config.role = Role::TopLevel;
        assert!(!config.recurses());
        config.recursion = Some(true);
        assert!(config.recurses());
    }
}
