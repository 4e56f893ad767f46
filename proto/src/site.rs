//! Site information (`HS_SITE` data and the `GET_SITE_INFO` reply; CNRI
//! `Encoder.encodeSiteInfoRecord`), in binary and in the JSON of the REST API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::codec::{DecodeError, Reader, Writer};
use crate::pubkey::PublicKey;

/// A transport protocol of a server interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// 0.
    Udp,
    /// 1.
    Tcp,
    /// 2.
    Http,
    /// 3.
    Https,
}

impl Protocol {
    fn code(self) -> u8 {
        match self {
            Self::Udp => 0,
            Self::Tcp => 1,
            Self::Http => 2,
            Self::Https => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Udp,
            1 => Self::Tcp,
            2 => Self::Http,
            3 => Self::Https,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

/// One interface of a server: what it serves, over which protocol, on which port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interface {
    /// Answers queries.
    pub query: bool,
    /// Accepts administrative requests.
    pub admin: bool,
    /// The transport.
    pub protocol: Protocol,
    /// The port.
    pub port: u32,
}

/// One server of a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerInfo {
    /// The server's number within the site.
    pub server_id: u32,
    /// The address, IPv4 as 12 zero bytes and the 4 address bytes.
    pub address: [u8; 16],
    /// The server's public key, in `HS_PUBKEY` encoding.
    pub public_key: Vec<u8>,
    /// The interfaces.
    pub interfaces: Vec<Interface>,
}

impl ServerInfo {
    /// The address as an IP address.
    pub fn ip(&self) -> IpAddr {
        if self.address[..12].iter().all(|&b| b == 0) {
            let a = &self.address[12..];
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.address))
        }
    }

    /// Stores an IP address in the site-info form.
    pub fn address_of(ip: IpAddr) -> [u8; 16] {
        match ip {
            IpAddr::V4(v4) => {
                let mut a = [0u8; 16];
                a[12..].copy_from_slice(&v4.octets());
                a
            }
            IpAddr::V6(v6) => v6.octets(),
        }
    }
}

/// A site: one replica of a handle service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteInfo {
    /// Data format version; 1.
    pub data_version: u16,
    /// Protocol version spoken, major and minor.
    pub protocol_version: (u8, u8),
    /// Serial number, echoed by clients.
    pub serial_number: u16,
    /// A primary site.
    pub primary: bool,
    /// One of several primary sites.
    pub multi_primary: bool,
    /// How handles are hashed across servers: 0 prefix, 1 suffix, 2 whole handle.
    pub hash_option: u8,
    /// Hash filter, usually empty.
    pub hash_filter: String,
    /// Name/value attributes such as `desc`.
    pub attributes: Vec<(String, String)>,
    /// The servers.
    pub servers: Vec<ServerInfo>,
}

impl SiteInfo {
    /// Encodes the binary site-info record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.u16(self.data_version);
        w.u8(self.protocol_version.0);
        w.u8(self.protocol_version.1);
        w.u16(self.serial_number);
        w.u8(u8::from(self.primary) << 7 | u8::from(self.multi_primary) << 6);
        w.u8(self.hash_option);
        w.str(&self.hash_filter);
        w.u32(self.attributes.len() as u32);
        for (name, value) in &self.attributes {
            w.str(name);
            w.str(value);
        }
        w.u32(self.servers.len() as u32);
        for s in &self.servers {
            w.u32(s.server_id);
            w.raw(&s.address);
            w.bytes(&s.public_key);
            w.u32(s.interfaces.len() as u32);
            for i in &s.interfaces {
                w.u8(u8::from(i.admin) | u8::from(i.query) << 1);
                w.u8(i.protocol.code());
                w.u32(i.port);
            }
        }
        out
    }

    /// Decodes a binary site-info record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let site = Self::decode(&mut r)?;
        r.finish("site info")?;
        Ok(site)
    }

    /// Decodes a site-info record from a reader, leaving what follows it.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let data_version = r.u16("site data version")?;
        let protocol_version = (r.u8("site protocol major")?, r.u8("site protocol minor")?);
        let serial_number = r.u16("site serial number")?;
        let mask = r.u8("site primary mask")?;
        let hash_option = r.u8("site hash option")?;
        let hash_filter = r.str("site hash filter")?.to_owned();
        let n_attrs = r.count(4096, 8, "site attributes")?;
        let mut attributes = Vec::with_capacity(n_attrs);
        for _ in 0..n_attrs {
            attributes.push((
                r.str("attribute name")?.to_owned(),
                r.str("attribute value")?.to_owned(),
            ));
        }
        let n_servers = r.count(4096, 28, "site servers")?;
        let mut servers = Vec::with_capacity(n_servers);
        for _ in 0..n_servers {
            let server_id = r.u32("server id")?;
            let mut address = [0u8; 16];
            address.copy_from_slice(r.take(16, "server address")?);
            let public_key = r.bytes("server public key")?.to_vec();
            let n_ifaces = r.count(256, 6, "server interfaces")?;
            let mut interfaces = Vec::with_capacity(n_ifaces);
            for _ in 0..n_ifaces {
                let service = r.u8("interface type")?;
                let protocol = Protocol::from_code(r.u8("interface protocol")?)
                    .ok_or(DecodeError::Invalid("interface protocol"))?;
                let port = r.u32("interface port")?;
                interfaces.push(Interface {
                    query: service & 2 != 0,
                    admin: service & 1 != 0,
                    protocol,
                    port,
                });
            }
            servers.push(ServerInfo {
                server_id,
                address,
                public_key,
                interfaces,
            });
        }
        Ok(Self {
            data_version,
            protocol_version,
            serial_number,
            primary: mask & 0x80 != 0,
            multi_primary: mask & 0x40 != 0,
            hash_option,
            hash_filter,
            attributes,
            servers,
        })
    }

    /// The JSON form of the REST API (CNRI `SiteInfoGsonTypeAdapter`).
    pub fn to_json(&self) -> Value {
        let mut site = Map::new();
        site.insert("version".into(), json!(self.data_version));
        site.insert(
            "protocolVersion".into(),
            json!(format!(
                "{}.{}",
                self.protocol_version.0, self.protocol_version.1
            )),
        );
        site.insert("serialNumber".into(), json!(self.serial_number));
        site.insert("primarySite".into(), json!(self.primary));
        site.insert("multiPrimary".into(), json!(self.multi_primary));
        if self.hash_option != 2 {
            site.insert("hashOption".into(), json!(self.hash_option));
        }
        if !self.hash_filter.is_empty() {
            site.insert("hashFilter".into(), json!(self.hash_filter));
        }
        site.insert(
            "attributes".into(),
            Value::Array(
                self.attributes
                    .iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect(),
            ),
        );
        let servers = self
            .servers
            .iter()
            .map(|s| {
                let key = match PublicKey::from_bytes(&s.public_key)
                    .ok()
                    .and_then(|k| k.to_jwk())
                {
                    Some(jwk) => json!({"format": "key", "value": jwk}),
                    None => json!({"format": "base64", "value": STANDARD.encode(&s.public_key)}),
                };
                json!({
                    "serverId": s.server_id,
                    "address": s.ip().to_string(),
                    "publicKey": key,
                    "interfaces": s.interfaces.iter().map(|i| json!({
                        "query": i.query, "admin": i.admin,
                        "protocol": i.protocol.name(), "port": i.port,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        site.insert("servers".into(), Value::Array(servers));
        Value::Object(site)
    }

    /// Reads the JSON form, tolerating the legacy spellings the reference accepts.
    pub fn from_json(v: &Value) -> Option<Self> {
        let get = |names: &[&str]| names.iter().find_map(|n| v.get(*n));
        let protocol_version = match get(&["protocolVersion"]) {
            Some(Value::String(s)) => {
                let (a, b) = s.split_once('.')?;
                (a.parse().ok()?, b.parse().ok()?)
            }
            None => (2, 11),
            _ => return None,
        };
        let attributes = match get(&["attributes"]) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| {
                    Some((
                        a.get("name")?.as_str()?.to_owned(),
                        a.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect::<Option<Vec<_>>>()?,
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect::<Option<Vec<_>>>()?,
            None => Vec::new(),
            _ => return None,
        };
        let servers = match get(&["servers", "serverList", "ServerList"]) {
            Some(Value::Array(items)) => {
                items.iter().map(server_from_json).collect::<Option<_>>()?
            }
            None => Vec::new(),
            _ => return None,
        };
        Some(Self {
            data_version: get(&["version"]).and_then(Value::as_u64).unwrap_or(1) as u16,
            protocol_version,
            serial_number: get(&["serialNumber"]).and_then(Value::as_u64).unwrap_or(1) as u16,
            primary: get(&["primarySite"])
                .and_then(Value::as_bool)
                .unwrap_or(true),
            multi_primary: get(&["multiPrimary"])
                .and_then(Value::as_bool)
                .unwrap_or(false),
            hash_option: get(&["hashOption"]).and_then(Value::as_u64).unwrap_or(2) as u8,
            hash_filter: get(&["hashFilter"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            attributes,
            servers,
        })
    }
}

fn server_from_json(v: &Value) -> Option<ServerInfo> {
    let get = |names: &[&str]| names.iter().find_map(|n| v.get(*n));
    let ip: IpAddr = get(&["address", "Address"])?.as_str()?.parse().ok()?;
    let public_key = match get(&["publicKey", "PublicKey"]) {
        Some(k) => match (k.get("format").and_then(Value::as_str), k.get("value")) {
            (Some("key"), Some(jwk)) => PublicKey::from_jwk(jwk)?.to_bytes(),
            (Some("base64"), Some(Value::String(s))) => STANDARD.decode(s).ok()?,
            (Some("hex"), Some(Value::String(s))) => decode_hex(s)?,
            _ => match k {
                Value::String(s) => decode_hex(s)?,
                _ => return None,
            },
        },
        None => Vec::new(),
    };
    let interfaces = match get(&["interfaces", "interfaceList", "InterfaceList"]) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let protocol = match i.get("protocol")? {
                    Value::String(s) => match s.to_ascii_uppercase().as_str() {
                        "UDP" => Protocol::Udp,
                        "TCP" => Protocol::Tcp,
                        "HTTP" => Protocol::Http,
                        "HTTPS" => Protocol::Https,
                        _ => return None,
                    },
                    Value::Number(n) => Protocol::from_code(u8::try_from(n.as_u64()?).ok()?)?,
                    _ => return None,
                };
                Some(Interface {
                    query: i.get("query").and_then(Value::as_bool).unwrap_or(true),
                    admin: i.get("admin").and_then(Value::as_bool).unwrap_or(false),
                    protocol,
                    port: u32::try_from(i.get("port").or_else(|| i.get("Port"))?.as_u64()?).ok()?,
                })
            })
            .collect::<Option<_>>()?,
        None => Vec::new(),
        _ => return None,
    };
    Some(ServerInfo {
        server_id: get(&["serverId"]).and_then(Value::as_u64).unwrap_or(1) as u32,
        address: ServerInfo::address_of(ip),
        public_key,
        interfaces,
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a handle cannot be assigned to a server of a site (handle-protocol.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SiteHashError {
    /// The site lists no server.
    #[error("the site lists no server")]
    NoServer,
    /// The site's hash option is none of 0 (prefix), 1 (suffix), 2 (whole handle).
    #[error("unknown hash option {0}")]
    UnknownOption(u8),
    /// The hash is `i32::MIN`, whose absolute value Java cannot take (the reference server
    /// fails there too); such a handle has no server in a site of several.
    #[error("the handle hashes to no server")]
    Unhashable,
}

impl SiteInfo {
    /// The index of the server that answers for `handle` within this site, by the rule of
    /// RFC 3651 with its errata (CNRI `SiteInfo.determineServerNum`): the part of the handle
    /// that the hash option names (the prefix, `0.NA` for a handle without a slash; the
    /// suffix, the whole handle without a slash; or the whole handle), upper-cased in ASCII,
    /// hashed with MD5; the last four bytes of the digest as a big-endian `i32`, its absolute
    /// value modulo the number of servers. A site of one server needs no hash.
    pub fn server_index(&self, handle: &[u8]) -> Result<usize, SiteHashError> {
        use md5::{Digest as _, Md5};
        match self.servers.len() {
            0 => return Err(SiteHashError::NoServer),
            1 => return Ok(0),
            _ => {}
        }
        let slash = handle.iter().position(|&b| b == b'/');
        let part: &[u8] = match (self.hash_option, slash) {
            (0, Some(at)) => &handle[..at],
            (0, None) => b"0.NA",
            (1, Some(at)) => &handle[at + 1..],
            (1, None) | (2, _) => handle,
            (other, _) => return Err(SiteHashError::UnknownOption(other)),
        };
        let digest = Md5::digest(part.to_ascii_uppercase());
        let h = i32::from_be_bytes([digest[12], digest[13], digest[14], digest[15]]);
        let magnitude = h.checked_abs().ok_or(SiteHashError::Unhashable)?;
        Ok(magnitude as usize % self.servers.len())
    }

    /// The server that answers for `handle` within this site (see [`SiteInfo::server_index`]).
    pub fn server_for(&self, handle: &[u8]) -> Result<&ServerInfo, SiteHashError> {
        self.server_index(handle).map(|i| &self.servers[i])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> SiteInfo {
        SiteInfo {
            data_version: 1,
            protocol_version: (2, 11),
            serial_number: 1,
            primary: true,
            multi_primary: false,
            hash_option: 2,
            hash_filter: String::new(),
            attributes: vec![("desc".into(), "idnode".into())],
            servers: vec![ServerInfo {
                server_id: 1,
                address: ServerInfo::address_of("127.0.0.1".parse().unwrap()),
                public_key: PublicKey::Ed25519([7; 32]).to_bytes(),
                interfaces: vec![
                    Interface {
                        query: true,
                        admin: true,
                        protocol: Protocol::Tcp,
                        port: 2641,
                    },
                    Interface {
                        query: true,
                        admin: false,
                        protocol: Protocol::Udp,
                        port: 2641,
                    },
                ],
            }],
        }
    }

    #[test]
    fn binary_and_json_round_trip() {
        let site = sample();
        assert_eq!(SiteInfo::from_bytes(&site.to_bytes()).unwrap(), site);
        let j = site.to_json();
        assert_eq!(j["servers"][0]["address"], "127.0.0.1");
        assert_eq!(j["protocolVersion"], "2.11");
        assert_eq!(SiteInfo::from_json(&j).unwrap(), site);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = SiteInfo::from_bytes(&bytes);
        }
    }

    fn servers(n: u32, hash_option: u8) -> SiteInfo {
        let server = |id| ServerInfo {
            server_id: id,
            address: [0; 16],
            public_key: Vec::new(),
            interfaces: Vec::new(),
        };
        SiteInfo {
            data_version: 1,
            protocol_version: (2, 11),
            serial_number: 1,
            primary: true,
            multi_primary: false,
            hash_option,
            hash_filter: String::new(),
            attributes: Vec::new(),
            servers: (1..=n).map(server).collect(),
        }
    }

    #[test]
    fn handles_hash_to_servers_as_in_the_reference() {
        // handle-protocol.md §8.3: MD5("88.118.8/ABC") = 3703df565bde0db3d399429e6c41e45f, the
        // last four bytes 0x6c41e45f = 1 816 257 631, with three servers index 1.
        let site = servers(3, 2);
        assert_eq!(site.server_index(b"88.118.8/abc"), Ok(1));
        assert_eq!(site.server_index(b"88.118.8/ABC"), Ok(1));
        assert_eq!(site.server_for(b"88.118.8/abc").unwrap().server_id, 2);
        // 1 816 257 631 % 4 = 3, % 5 = 1, % 7 = 6.
        assert_eq!(servers(4, 2).server_index(b"88.118.8/abc"), Ok(3));
        assert_eq!(servers(5, 2).server_index(b"88.118.8/abc"), Ok(1));
        assert_eq!(servers(7, 2).server_index(b"88.118.8/abc"), Ok(6));
        // By prefix, MD5("88.118.8") ends in 0x892bcebb = -1 993 617 733; by suffix, MD5("ABC")
        // ends in 0x3525e932 = 891 676 978.
        assert_eq!(
            servers(4, 0).server_index(b"88.118.8/x"),
            Ok(1_993_617_733 % 4)
        );
        assert_eq!(
            servers(4, 1).server_index(b"88.118.8/abc"),
            Ok(891_676_978 % 4)
        );
        assert_eq!(servers(4, 1).server_index(b"abc"), Ok(891_676_978 % 4));
        assert_eq!(servers(1, 9).server_index(b"x/y"), Ok(0));
        assert_eq!(
            servers(0, 2).server_index(b"x/y"),
            Err(SiteHashError::NoServer)
        );
        assert_eq!(
            servers(2, 9).server_index(b"x/y"),
            Err(SiteHashError::UnknownOption(9))
        );
    }

    proptest::proptest! {
        #[test]
        fn every_handle_gets_a_server_in_range(handle in proptest::collection::vec(any::<u8>(), 0..64), n in 1u32..9, option in 0u8..3) {
            let site = servers(n, option);
            if let Ok(i) = site.server_index(&handle) {
                proptest::prop_assert!(i < n as usize);
            }
        }
    }
}
