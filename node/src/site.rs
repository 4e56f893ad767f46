//! This node's site information (`HS_SITE` data, the `/api/site` answer and the native
//! `GET_SITE_INFO` reply), built from the configuration and the node's keys.
//!
//! With the native listener on, the site lists TCP (query and admin) and UDP (query only) on
//! the handle port, and publishes the native site key (RSA by default, see
//! `crate::keys`); otherwise it publishes the node's Ed25519 key.

use std::net::{IpAddr, Ipv4Addr};

use idnode_proto::{Interface, Protocol, ServerInfo, SiteInfo};

use crate::core::Core;

/// The site information of this node: one primary site with one server.
pub(crate) fn site_info(core: &Core) -> SiteInfo {
    let config = &core.config;
    let address = config
        .site
        .public_address
        .or_else(|| config.http.listen.map(|a| a.ip()))
        .or_else(|| config.https.listen.map(|a| a.ip()))
        .or_else(|| config.native.address().map(|a| a.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut interfaces = Vec::new();
    if let Some(addr) = config.native.address() {
        interfaces.push(Interface {
            query: true,
            admin: true,
            protocol: Protocol::Tcp,
            port: u32::from(addr.port()),
        });
        interfaces.push(Interface {
            query: true,
            admin: false,
            protocol: Protocol::Udp,
            port: u32::from(addr.port()),
        });
    }
    if let Some(addr) = config.http.listen {
        interfaces.push(Interface {
            query: true,
            admin: true,
            protocol: Protocol::Http,
            port: u32::from(addr.port()),
        });
    }
    if let Some(addr) = config.https.listen {
        interfaces.push(Interface {
            query: true,
            admin: true,
            protocol: Protocol::Https,
            port: u32::from(addr.port()),
        });
    }
    SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: 1,
        primary: true,
        multi_primary: false,
        hash_option: 2,
        hash_filter: String::new(),
        attributes: vec![("desc".into(), config.site.description.clone())],
        servers: vec![ServerInfo {
            server_id: 1,
            address: ServerInfo::address_of(address),
            public_key: core.published_key().to_bytes(),
            interfaces,
        }],
    }
}
