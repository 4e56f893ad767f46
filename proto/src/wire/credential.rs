//! The credential section after the body (RFC 3652 §2.2.4; CNRI `AbstractMessage.signMessage`).

use crate::admin::ValueRef;
use crate::codec::{DecodeError, Reader, Writer};

/// Credential type of a public-key signature.
pub const HS_SIGNED: &str = "HS_SIGNED";
/// Credential type of a session MAC.
pub const HS_MAC: &str = "HS_MAC";

/// A message credential: a signature (`HS_SIGNED`) or a session MAC (`HS_MAC`).
///
/// On the wire: `u8 version`, `u8 reserved`, `int2 flags`, `UTF8String signerHandle`,
/// `int4 signerIndex`, `UTF8String type`, `int4 signedInfoLength`, then the signed info:
/// `bytes digestAlg` + `bytes signature`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    /// Version, 0.
    pub version: u8,
    /// Reserved, 0.
    pub reserved: u8,
    /// Flags, 0.
    pub flags: u16,
    /// The signer: the handle is empty in practice, and since 2.5 the index carries the
    /// session counter (replay defence).
    pub signer: ValueRef,
    /// `HS_SIGNED`, `HS_MAC` or the legacy `HS_DSAPUBKEY`.
    pub credential_type: String,
    /// The digest or MAC algorithm: `SHA-256`, `SHA1`, `HMAC-SHA256`, or below 2.6 for
    /// `HS_MAC` the single byte `0x02`. Kept as bytes for that reason.
    pub digest_alg: Vec<u8>,
    /// The signature or MAC.
    pub signature: Vec<u8>,
}

impl Credential {
    /// The session counter, carried in the signer index since 2.5.
    pub fn session_counter(&self) -> u32 {
        self.signer.index
    }

    /// Decodes a credential that fills `bytes` exactly (the bytes after `CredentialLength`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("credential version")?;
        let reserved = r.u8("credential reserved")?;
        let flags = r.u16("credential flags")?;
        let handle = r.str("credential signer")?.to_owned();
        let index = r.u32("credential signer index")?;
        let credential_type = r.str("credential type")?.to_owned();
        let signed_info = r.bytes("credential signed info")?;
        r.finish("credential")?;
        let mut info = Reader::new(signed_info);
        let digest_alg = info.bytes("credential digest algorithm")?.to_vec();
        let signature = info.bytes("credential signature")?.to_vec();
        info.finish("credential signed info")?;
        Ok(Self {
            version,
            reserved,
            flags,
            signer: ValueRef { handle, index },
            credential_type,
            digest_alg,
            signature,
        })
    }

    /// Appends the credential without its `CredentialLength` prefix.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u8(self.version);
        w.u8(self.reserved);
        w.u16(self.flags);
        self.signer.encode(&mut w);
        w.str(&self.credential_type);
        w.u32((8 + self.digest_alg.len() + self.signature.len()) as u32);
        w.bytes(&self.digest_alg);
        w.bytes(&self.signature);
    }

    /// The encoding without the `CredentialLength` prefix.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_credential_layout() {
        let cred = Credential {
            version: 0,
            reserved: 0,
            flags: 0,
            signer: ValueRef {
                handle: String::new(),
                index: 1,
            },
            credential_type: HS_MAC.into(),
            digest_alg: b"HMAC-SHA256".to_vec(),
            signature: vec![0xAA; 32],
        };
        let bytes = cred.to_bytes();
        // The HS_MAC credentials of the captured session exchanges are 77 bytes long.
        assert_eq!(bytes.len(), 77);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 6]);
        assert_eq!(Credential::from_bytes(&bytes).unwrap(), cred);
        assert_eq!(cred.session_counter(), 1);
        for cut in 0..bytes.len() {
            assert!(Credential::from_bytes(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Credential::from_bytes(&longer).is_err());
    }
}
