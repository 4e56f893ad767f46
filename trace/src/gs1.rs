//! The one table of GS1 application identifiers that idnode knows: the Digital Link short names
//! and the primary keys that start an identifying path. The EPCIS event hash
//! ([`crate::epcis`]) and the identifier forms of captured events ([`crate::ids`]) both read
//! it.

/// The short names of GS1 Digital Link path segments and their application identifiers, in
/// the order the reference replaces them (`/gsrnp/` before `/gsrn/`).
pub(crate) const DL_SHORT_NAMES: [(&str, &str); 17] = [
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
];

/// The application identifiers of GS1 primary keys, as Digital Link path segments: an
/// identifying path starts with one of them.
pub(crate) const PRIMARY_KEYS: [&str; 14] = [
    "/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/", "/8004/",
    "/8006/", "/8010/", "/8017/", "/8018/",
];

/// Whether a bare path segment (`01`) is the application identifier of a primary key.
pub(crate) fn is_primary_key(segment: &str) -> bool {
    PRIMARY_KEYS
        .iter()
        .any(|key| key.trim_matches('/') == segment)
}
