//! Bounded primitives for the big-endian encoding of RFC 3652 §2.1.
//!
//! [`Reader`] never allocates in proportion to a length it has read before the bytes are there:
//! every length is checked against what remains in the input first.

use thiserror::Error;

/// Why bytes could not be decoded. Carries only static context, so the error path allocates
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside the named field.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A field had a value outside its allowed range.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A count or length exceeded a protocol limit.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Bytes were left over where the format does not allow any.
    #[error("trailing bytes after {0}")]
    Trailing(&'static str),
}

/// The largest number of elements in any decoded list (CNRI `Common.MAX_ARRAY_SIZE`).
pub const MAX_ARRAY_LEN: usize = 1 << 20;

/// A cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// How many bytes have been consumed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// Fails with [`DecodeError::Trailing`] unless every byte has been read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(what))
        }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated(what))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated(what))?;
        self.pos = end;
        Ok(slice)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// Reads a big-endian `int2`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian `int4`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian `int8`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads `int4 length` followed by that many bytes.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    /// Reads a `UTF8String`, checking that it is valid UTF-8.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecodeError::Invalid(what))
    }

    /// Reads an element count and checks it against `max` and against the bytes remaining, given
    /// that every element takes at least `min_elem_len` bytes.
    pub fn count(
        &mut self,
        max: usize,
        min_elem_len: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(what)? as usize;
        if n > max.min(MAX_ARRAY_LEN) {
            return Err(DecodeError::TooLarge(what));
        }
        if n.saturating_mul(min_elem_len.max(1)) > self.bytes.len() - self.pos && min_elem_len > 0 {
            return Err(DecodeError::Truncated(what));
        }
        Ok(n)
    }
}

/// Appends big-endian primitives to a byte vector.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Appends to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// Appends an `int2`.
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends an `int4`.
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends an `int8`.
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends raw bytes with no length.
    pub fn raw(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }

    /// Appends `int4 length` and the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.out.extend_from_slice(v);
    }

    /// Appends a `UTF8String`.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// The number of bytes in the underlying vector.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether the underlying vector is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Overwrites four bytes at `at` with `v`, for lengths known only after the fact.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_checked_against_remaining_bytes() {
        let data = [0xff, 0xff, 0xff, 0x00];
        let mut r = Reader::new(&data);
        assert!(r.count(usize::MAX, 4, "n").is_err());
        let data = [0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8];
        let mut r = Reader::new(&data);
        assert_eq!(r.count(10, 4, "n"), Ok(2));
    }

    #[test]
    fn bytes_longer_than_input_is_truncated_error() {
        let data = [0, 0, 0, 9, 1];
        assert_eq!(
            Reader::new(&data).bytes("x"),
            Err(DecodeError::Truncated("x"))
        );
    }
}
