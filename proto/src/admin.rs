//! `HS_ADMIN` and `HS_VLIST` data (RFC 3651 §3.2.2 and §3.2.3, with the CNRI permission masks).

use crate::codec::{DecodeError, Reader, Writer};

/// A reference to one value of a handle: `index:handle`. Identities are value references to an
/// `HS_SECKEY` or `HS_PUBKEY` value; index 0 means "any index".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueRef {
    /// The handle, as UTF-8 text.
    pub handle: String,
    /// The value index.
    pub index: u32,
}

impl ValueRef {
    /// Encodes `UTF8String handle` + `int4 index`.
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.str(&self.handle);
        w.u32(self.index);
    }

    /// Decodes a value reference.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let handle = r.str("reference handle")?.to_owned();
        let index = r.u32("reference index")?;
        Ok(Self { handle, index })
    }

    /// Parses the text form `index:handle`.
    pub fn parse(text: &str) -> Option<Self> {
        let (index, handle) = text.split_once(':')?;
        let index = index.parse().ok()?;
        if handle.is_empty() {
            return None;
        }
        Some(Self {
            handle: handle.to_owned(),
            index,
        })
    }
}

impl std::fmt::Display for ValueRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.index, self.handle)
    }
}

/// The twelve administrative permission bits of an `HS_ADMIN` value (CNRI `Encoder.PERM_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AdminPerms(pub u16);

impl AdminPerms {
    /// Create handles under the prefix (on a prefix handle).
    pub const ADD_HANDLE: u16 = 0x0001;
    /// Delete this handle.
    pub const DELETE_HANDLE: u16 = 0x0002;
    /// Create derived prefixes.
    pub const ADD_DERIVED_PREFIX: u16 = 0x0004;
    /// Delete derived prefixes.
    pub const DELETE_DERIVED_PREFIX: u16 = 0x0008;
    /// Change values.
    pub const MODIFY_VALUE: u16 = 0x0010;
    /// Remove values.
    pub const REMOVE_VALUE: u16 = 0x0020;
    /// Add values.
    pub const ADD_VALUE: u16 = 0x0040;
    /// Change `HS_ADMIN` values.
    pub const MODIFY_ADMIN: u16 = 0x0080;
    /// Remove `HS_ADMIN` values.
    pub const REMOVE_ADMIN: u16 = 0x0100;
    /// Add `HS_ADMIN` values.
    pub const ADD_ADMIN: u16 = 0x0200;
    /// Read values that are not public.
    pub const READ_VALUE: u16 = 0x0400;
    /// List the handles under the prefix.
    pub const LIST_HANDLES: u16 = 0x0800;
    /// All twelve bits.
    pub const ALL: Self = Self(0x0FFF);

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }

    /// The REST text form: twelve `0`/`1` characters, bit 11 (LIST_HANDLES) first.
    pub fn to_bit_string(self) -> String {
        (0..12)
            .rev()
            .map(|bit| if self.0 & (1 << bit) != 0 { '1' } else { '0' })
            .collect()
    }

    /// Parses the REST text form: up to twelve `0`/`1` characters, right-aligned, or `*` for
    /// all.
    pub fn from_bit_string(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::ALL);
        }
        if text.is_empty() || text.len() > 12 {
            return None;
        }
        let mut bits = 0u16;
        for c in text.chars() {
            bits = (bits << 1)
                | match c {
                    '0' => 0,
                    '1' => 1,
                    _ => return None,
                };
        }
        Some(Self(bits))
    }
}

/// `HS_ADMIN` data: who administers a handle, with which permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdminRecord {
    /// The granted permissions.
    pub perms: AdminPerms,
    /// The identity or group that is granted them.
    pub admin: ValueRef,
}

impl AdminRecord {
    /// Encodes `int2 permissions` + `ValueRef`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.admin.handle.len());
        let mut w = Writer::new(&mut out);
        w.u16(self.perms.0);
        self.admin.encode(&mut w);
        out
    }

    /// Decodes `HS_ADMIN` data. Records written by Handle.Net 7.3 and earlier end in two extra
    /// zero bytes, which are accepted.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let perms = AdminPerms(r.u16("admin permissions")?);
        let admin = ValueRef::decode(&mut r)?;
        match r.rest() {
            [] | [0, 0] => Ok(Self { perms, admin }),
            _ => Err(DecodeError::Trailing("admin record")),
        }
    }
}

/// `HS_VLIST` data: a group of identities or further groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ValueList(pub Vec<ValueRef>);

impl ValueList {
    /// Encodes `int4 n` + n × `ValueRef`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.u32(self.0.len() as u32);
        for r in &self.0 {
            r.encode(&mut w);
        }
        out
    }

    /// Decodes `HS_VLIST` data.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.count(usize::MAX, 8, "value list")?;
        let mut refs = Vec::with_capacity(n);
        for _ in 0..n {
            refs.push(ValueRef::decode(&mut r)?);
        }
        r.finish("value list")?;
        Ok(Self(refs))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bit_string_is_msb_first() {
        assert_eq!(AdminPerms(0x0FFF).to_bit_string(), "111111111111");
        assert_eq!(AdminPerms(0x07FF).to_bit_string(), "011111111111");
        assert_eq!(
            AdminPerms::from_bit_string("011111110011"),
            Some(AdminPerms(0x07F3))
        );
        assert_eq!(AdminPerms::from_bit_string("11"), Some(AdminPerms(3)));
        assert_eq!(AdminPerms::from_bit_string("*"), Some(AdminPerms::ALL));
        assert_eq!(AdminPerms::from_bit_string("12"), None);
    }

    #[test]
    fn legacy_admin_padding_is_accepted() {
        let rec = AdminRecord {
            perms: AdminPerms::ALL,
            admin: ValueRef {
                handle: "88.118.8/ADMIN".into(),
                index: 300,
            },
        };
        let mut bytes = rec.to_bytes();
        assert_eq!(AdminRecord::from_bytes(&bytes).unwrap(), rec);
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(AdminRecord::from_bytes(&bytes).unwrap(), rec);
        bytes.push(0);
        assert!(AdminRecord::from_bytes(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn admin_round_trip(perms in 0u16..0x1000, handle in "\\PC{0,20}", index in any::<u32>()) {
            let rec = AdminRecord { perms: AdminPerms(perms), admin: ValueRef { handle, index } };
            prop_assert_eq!(AdminRecord::from_bytes(&rec.to_bytes()).unwrap(), rec.clone());
            prop_assert_eq!(
                AdminPerms::from_bit_string(&rec.perms.to_bit_string()), Some(rec.perms)
            );
        }

        #[test]
        fn vlist_round_trip(refs in proptest::collection::vec(("\\PC{0,10}", any::<u32>()), 0..5)) {
            let list = ValueList(refs.into_iter().map(|(handle, index)| ValueRef { handle, index }).collect());
            prop_assert_eq!(ValueList::from_bytes(&list.to_bytes()).unwrap(), list);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AdminRecord::from_bytes(&bytes);
            let _ = ValueList::from_bytes(&bytes);
        }
    }
}
