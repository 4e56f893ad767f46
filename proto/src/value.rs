//! Handle values and their binary encoding (RFC 3651 §3.1, with the CNRI errata).
//!
//! The encoding of a value record is also idnode's storage format: a stored [`Record`] is
//! `int4 count` followed by the encoded values, exactly the `Values` field of a resolution
//! response. Resolution therefore filters [`EncodedValue`] views and copies their bytes, and
//! re-encodes nothing.

use crate::admin::ValueRef;
use crate::codec::{DecodeError, Reader, Writer};

/// Names of the reserved value types (RFC 3651 §3.2 and the CNRI additions).
pub mod types {
    /// Administrator of the handle (`AdminRecord`).
    pub const HS_ADMIN: &str = "HS_ADMIN";
    /// Administrator group (`ValueList`).
    pub const HS_VLIST: &str = "HS_VLIST";
    /// Site information of a service (`SiteInfo`).
    pub const HS_SITE: &str = "HS_SITE";
    /// Site information for derived prefixes.
    pub const HS_SITE_PREFIX: &str = "HS_SITE.PREFIX";
    /// Legacy name of `HS_SITE.PREFIX`.
    pub const HS_NA_DELEGATE: &str = "HS_NA_DELEGATE";
    /// A service handle, as UTF-8.
    pub const HS_SERV: &str = "HS_SERV";
    /// A service handle for derived prefixes, as UTF-8.
    pub const HS_SERV_PREFIX: &str = "HS_SERV.PREFIX";
    /// A public key (`PublicKey`).
    pub const HS_PUBKEY: &str = "HS_PUBKEY";
    /// A secret key: opaque bytes, never public.
    pub const HS_SECKEY: &str = "HS_SECKEY";
    /// An alias: another handle, as UTF-8.
    pub const HS_ALIAS: &str = "HS_ALIAS";
    /// A URL.
    pub const URL: &str = "URL";
}

/// The permission byte of a value (RFC 3651 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions(pub u8);

impl Permissions {
    /// Administrators may read the value.
    pub const ADMIN_READ: u8 = 0x08;
    /// Administrators may change the value.
    pub const ADMIN_WRITE: u8 = 0x04;
    /// Anyone may read the value.
    pub const PUBLIC_READ: u8 = 0x02;
    /// Anyone may change the value.
    pub const PUBLIC_WRITE: u8 = 0x01;
    /// The default for new values: admin read and write, public read.
    pub const DEFAULT: Self = Self(0x0E);
    /// The usual permissions of an `HS_SECKEY`: admin read and write only.
    pub const SECRET: Self = Self(0x0C);

    /// Whether anyone may read the value.
    pub fn public_read(self) -> bool {
        self.0 & Self::PUBLIC_READ != 0
    }

    /// Whether administrators may read the value.
    pub fn admin_read(self) -> bool {
        self.0 & Self::ADMIN_READ != 0
    }

    /// Whether administrators may change the value.
    pub fn admin_write(self) -> bool {
        self.0 & Self::ADMIN_WRITE != 0
    }

    /// Whether anyone may change the value.
    pub fn public_write(self) -> bool {
        self.0 & Self::PUBLIC_WRITE != 0
    }
}

impl Default for Permissions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How long a value may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// Seconds after retrieval (TTLType 0).
    Relative(u32),
    /// An absolute expiry in epoch seconds (TTLType 1).
    Absolute(u32),
}

impl Ttl {
    /// The default TTL of the reference server: 86 400 s relative.
    pub const DEFAULT: Self = Self::Relative(86_400);
}

impl Default for Ttl {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One decoded handle value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HandleValue {
    /// The index, unique within the handle and greater than zero.
    pub index: u32,
    /// The value's type, such as `URL` or `HS_ADMIN`.
    pub value_type: String,
    /// The data, whose format the type determines.
    pub data: Vec<u8>,
    /// Epoch seconds of the last change, set by the server.
    pub timestamp: u32,
    /// The caching lifetime.
    pub ttl: Ttl,
    /// Who may read and change the value.
    pub permissions: Permissions,
    /// References to other values; practically always empty.
    pub references: Vec<ValueRef>,
}

impl HandleValue {
    /// A value with default TTL and permissions and no timestamp.
    pub fn new(index: u32, value_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            index,
            value_type: value_type.into(),
            data: data.into(),
            timestamp: 0,
            ttl: Ttl::DEFAULT,
            permissions: Permissions::DEFAULT,
            references: Vec::new(),
        }
    }

    /// Whether the type equals `t`, ignoring ASCII case.
    pub fn has_type(&self, t: &str) -> bool {
        self.value_type.eq_ignore_ascii_case(t)
    }

    /// Appends the RFC 3651 encoding of this value to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u32(self.index);
        w.u32(self.timestamp);
        match self.ttl {
            Ttl::Relative(s) => {
                w.u8(0);
                w.u32(s);
            }
            Ttl::Absolute(s) => {
                w.u8(1);
                w.u32(s);
            }
        }
        w.u8(self.permissions.0);
        w.str(&self.value_type);
        w.bytes(&self.data);
        w.u32(self.references.len() as u32);
        for r in &self.references {
            r.encode(&mut w);
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.value_type.len() + self.data.len());
        self.encode(&mut out);
        out
    }

    /// Decodes one value from the reader.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let index = r.u32("value index")?;
        let timestamp = r.u32("value timestamp")?;
        let ttl = match r.u8("ttl type")? {
            0 => Ttl::Relative(r.u32("ttl")?),
            1 => Ttl::Absolute(r.u32("ttl")?),
            _ => return Err(DecodeError::Invalid("ttl type")),
        };
        let permissions = Permissions(r.u8("permissions")?);
        let value_type = r.str("value type")?.to_owned();
        let data = r.bytes("value data")?.to_vec();
        let n_refs = r.count(usize::MAX, 8, "value references")?;
        let mut references = Vec::with_capacity(n_refs);
        for _ in 0..n_refs {
            references.push(ValueRef::decode(r)?);
        }
        Ok(Self {
            index,
            value_type,
            data,
            timestamp,
            ttl,
            permissions,
            references,
        })
    }

    /// Decodes exactly one value from `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        r.finish("value")?;
        Ok(v)
    }
}

/// A view of one encoded value inside a larger buffer, read without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedValue<'a> {
    bytes: &'a [u8],
    type_len: usize,
}

impl<'a> EncodedValue<'a> {
    /// Splits the first encoded value off `bytes`, checking its structure (but not UTF-8).
    pub fn split(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let mut r = Reader::new(bytes);
        r.take(8, "value header")?;
        if r.u8("ttl type")? > 1 {
            return Err(DecodeError::Invalid("ttl type"));
        }
        r.take(5, "value header")?;
        let type_len = r.bytes("value type")?.len();
        r.bytes("value data")?;
        let n_refs = r.count(usize::MAX, 8, "value references")?;
        for _ in 0..n_refs {
            r.bytes("reference handle")?;
            r.u32("reference index")?;
        }
        let len = r.position();
        Ok((
            Self {
                bytes: &bytes[..len],
                type_len,
            },
            &bytes[len..],
        ))
    }

    /// The whole encoding.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The value's index.
    pub fn index(&self) -> u32 {
        u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }

    /// The value's permissions.
    pub fn permissions(&self) -> Permissions {
        Permissions(self.bytes[13])
    }

    /// The value's type as raw bytes.
    pub fn value_type(&self) -> &'a [u8] {
        &self.bytes[18..18 + self.type_len]
    }

    /// The value's data.
    pub fn data(&self) -> &'a [u8] {
        let at = 18 + self.type_len;
        let len = u32::from_be_bytes([
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ]) as usize;
        &self.bytes[at + 4..at + 4 + len]
    }

    /// The value's timestamp in epoch seconds.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]])
    }

    /// The value's TTL.
    pub fn ttl(&self) -> Ttl {
        let secs = u32::from_be_bytes([
            self.bytes[9],
            self.bytes[10],
            self.bytes[11],
            self.bytes[12],
        ]);
        if self.bytes[8] == 1 {
            Ttl::Absolute(secs)
        } else {
            Ttl::Relative(secs)
        }
    }

    /// Whether the value carries references to other values.
    pub fn has_references(&self) -> bool {
        let at = 18 + self.type_len + 4 + self.data().len();
        self.bytes[at..at + 4] != [0, 0, 0, 0]
    }

    /// Decodes the full value.
    pub fn decode(&self) -> Result<HandleValue, DecodeError> {
        HandleValue::from_bytes(self.bytes)
    }
}

/// The stored form of a handle's values: `int4 count` and the encoded values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    count: usize,
    values: &'a [u8],
}

impl<'a> Record<'a> {
    /// Checks the structure of a stored or received record.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let count = r.count(MAX_VALUES, 22, "value count")?;
        let values = r.rest();
        let mut rest = values;
        for _ in 0..count {
            rest = EncodedValue::split(rest)?.1;
        }
        if !rest.is_empty() {
            return Err(DecodeError::Trailing("values"));
        }
        Ok(Self { count, values })
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded values, in stored order.
    pub fn iter(&self) -> RecordValues<'a> {
        RecordValues {
            rest: self.values,
            left: self.count,
        }
    }

    /// Decodes every value.
    pub fn decode_all(&self) -> Result<Vec<HandleValue>, DecodeError> {
        self.iter().map(|v| v.decode()).collect()
    }

    /// Encodes values as a record.
    pub fn encode(values: &[HandleValue]) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + values.len() * 64);
        Writer::new(&mut out).u32(values.len() as u32);
        for v in values {
            v.encode(&mut out);
        }
        out
    }
}

/// The largest number of values in a handle or message (CNRI `Common.MAX_HANDLE_VALUES`).
pub const MAX_VALUES: usize = 2048;

/// Iterator over the values of a [`Record`].
#[derive(Debug, Clone)]
pub struct RecordValues<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for RecordValues<'a> {
    type Item = EncodedValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // The record was checked by `Record::parse`, so splitting cannot fail here.
        let (v, rest) = EncodedValue::split(self.rest).ok()?;
        self.rest = rest;
        self.left -= 1;
        Some(v)
    }
}

/// Which values a resolution asks for: a value matches when its index is listed or its type
/// matches a listed type. Empty lists ask for everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFilter {
    /// Requested indexes.
    pub indexes: Vec<u32>,
    /// Requested types. A type ending in `.` also matches its sub-types (`URL.` matches `URL`
    /// and `URL.mobile`).
    pub types: Vec<String>,
}

impl TypeFilter {
    /// Whether nothing is filtered.
    pub fn is_all(&self) -> bool {
        self.indexes.is_empty() && self.types.is_empty()
    }

    /// Whether the value with this index and type is asked for.
    pub fn matches(&self, index: u32, value_type: &[u8]) -> bool {
        if self.is_all() {
            return true;
        }
        self.indexes.contains(&index) || self.types.iter().any(|t| type_matches(t, value_type))
    }
}

/// Type selection of the reference server: equal ignoring ASCII case, or, for a requested type
/// ending in `.`, the value's type is that type or one of its sub-types.
fn type_matches(requested: &str, value_type: &[u8]) -> bool {
    let req = requested.as_bytes();
    if let Some(base) = req.strip_suffix(b".") {
        value_type.eq_ignore_ascii_case(base)
            || (value_type.len() > req.len() && value_type[..req.len()].eq_ignore_ascii_case(req))
    } else {
        value_type.eq_ignore_ascii_case(req)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> HandleValue {
        HandleValue {
            index: 1,
            value_type: "URL".into(),
            data: b"https://example.org/x".to_vec(),
            timestamp: 1_700_000_000,
            ttl: Ttl::Relative(86_400),
            permissions: Permissions::DEFAULT,
            references: vec![ValueRef {
                handle: "88/x".into(),
                index: 2,
            }],
        }
    }

    #[test]
    fn value_layout_matches_rfc3651() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[0..4], &[0, 0, 0, 1]);
        assert_eq!(bytes[8], 0);
        assert_eq!(&bytes[9..13], &86_400u32.to_be_bytes());
        assert_eq!(bytes[13], 0x0E);
        assert_eq!(&bytes[14..18], &3u32.to_be_bytes());
        assert_eq!(&bytes[18..21], b"URL");
        let (view, rest) = EncodedValue::split(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(view.index(), 1);
        assert_eq!(view.value_type(), b"URL");
        assert_eq!(view.data(), b"https://example.org/x");
    }

    #[test]
    fn type_filter_subtypes() {
        let f = TypeFilter {
            indexes: vec![],
            types: vec!["URL.".into()],
        };
        assert!(f.matches(9, b"URL"));
        assert!(f.matches(9, b"url.mobile"));
        assert!(!f.matches(9, b"URLX"));
        let f = TypeFilter {
            indexes: vec![4],
            types: vec!["email".into()],
        };
        assert!(f.matches(4, b"URL"));
        assert!(f.matches(3, b"EMAIL"));
        assert!(!f.matches(3, b"EMAIL.x"));
    }

    #[test]
    fn truncated_record_is_an_error() {
        let rec = Record::encode(&[sample(), sample()]);
        for cut in 0..rec.len() {
            assert!(Record::parse(&rec[..cut]).is_err());
        }
        assert_eq!(Record::parse(&rec).unwrap().len(), 2);
    }

    pub(crate) fn arb_value() -> impl Strategy<Value = HandleValue> {
        (
            1u32..=i32::MAX as u32,
            "[A-Z_.]{1,12}",
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<u32>(),
            prop_oneof![
                any::<u32>().prop_map(Ttl::Relative),
                any::<u32>().prop_map(Ttl::Absolute)
            ],
            0u8..16,
            proptest::collection::vec(("[a-z0-9./]{1,12}", 0..=i32::MAX as u32), 0..3),
        )
            .prop_map(|(index, value_type, data, timestamp, ttl, perm, refs)| {
                HandleValue {
                    index,
                    value_type,
                    data,
                    timestamp,
                    ttl,
                    permissions: Permissions(perm),
                    references: refs
                        .into_iter()
                        .map(|(handle, index)| ValueRef { handle, index })
                        .collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn value_round_trip(v in arb_value()) {
            let bytes = v.to_bytes();
            prop_assert_eq!(HandleValue::from_bytes(&bytes).unwrap(), v.clone());
            let (view, rest) = EncodedValue::split(&bytes).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(view.index(), v.index);
            prop_assert_eq!(view.timestamp(), v.timestamp);
            prop_assert_eq!(view.ttl(), v.ttl);
            prop_assert_eq!(view.has_references(), !v.references.is_empty());
            prop_assert_eq!(view.value_type(), v.value_type.as_bytes());
            prop_assert_eq!(view.data(), &v.data[..]);
        }

        #[test]
        fn record_round_trip(vs in proptest::collection::vec(arb_value(), 0..6)) {
            let bytes = Record::encode(&vs);
            prop_assert_eq!(Record::parse(&bytes).unwrap().decode_all().unwrap(), vs);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = HandleValue::from_bytes(&bytes);
            let _ = Record::parse(&bytes);
        }
    }
}
