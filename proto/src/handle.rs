//! Handle names: `prefix/suffix`, validated once and then carried as a [`Handle`].
//!
//! RFC 3650 §3: a handle is a naming-authority prefix and a local name joined by `/`, in UTF-8.
//! The prefix is a dot-separated list of labels (`88.118.8`). idnode compares handles ASCII
//! case-insensitively, as the reference server does by default (`case_sensitive = no`), so the
//! storage key of a handle is its ASCII upper-cased form; responses echo the caller's spelling.

use std::fmt;

use thiserror::Error;

/// The prefix of every prefix handle: `0.NA/88.118.8` is the prefix handle of `88.118.8`.
pub const PREFIX_HANDLE_PREFIX: &str = "0.NA";

/// Limits applied when a handle name is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleRules {
    /// The largest accepted length of a whole handle in bytes.
    pub max_len: usize,
}

impl Default for HandleRules {
    fn default() -> Self {
        Self { max_len: 255 }
    }
}

/// Why a string is not a valid handle. Every variant maps to RC 102 (INVALID_HANDLE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The handle is the empty string.
    #[error("Empty handle invalid")]
    Empty,
    /// There is no `/` between prefix and suffix.
    #[error("Handle has no '/' between prefix and suffix")]
    NoSlash,
    /// The prefix is empty.
    #[error("Handle prefix is empty")]
    EmptyPrefix,
    /// The suffix is empty.
    #[error("Handle suffix is empty")]
    EmptySuffix,
    /// A label of the prefix is empty (`88..8`, `.88`, `88.`).
    #[error("Handle prefix has an empty label")]
    EmptyLabel,
    /// The handle contains a control character.
    #[error("Handle contains a control character")]
    ControlCharacter,
    /// The handle is longer than the configured limit.
    #[error("Handle is too long")]
    TooLong,
    /// The bytes are not UTF-8.
    #[error("Handle is not valid UTF-8")]
    NotUtf8,
}

/// A validated handle name, kept in the caller's spelling.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    text: Box<str>,
    slash: usize,
}

impl Handle {
    /// Parses `prefix/suffix` with the default rules.
    pub fn parse(text: &str) -> Result<Self, HandleError> {
        Self::parse_with(text, HandleRules::default())
    }

    /// Parses `prefix/suffix` with the given rules.
    pub fn parse_with(text: &str, rules: HandleRules) -> Result<Self, HandleError> {
        if text.is_empty() {
            return Err(HandleError::Empty);
        }
        if text.len() > rules.max_len {
            return Err(HandleError::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(HandleError::ControlCharacter);
        }
        let slash = text.find('/').ok_or(HandleError::NoSlash)?;
        let (prefix, suffix) = (&text[..slash], &text[slash + 1..]);
        if prefix.is_empty() {
            return Err(HandleError::EmptyPrefix);
        }
        if suffix.is_empty() {
            return Err(HandleError::EmptySuffix);
        }
        if prefix.split('.').any(str::is_empty) {
            return Err(HandleError::EmptyLabel);
        }
        Ok(Self {
            text: text.into(),
            slash,
        })
    }

    /// Parses UTF-8 bytes from the wire.
    pub fn parse_bytes(bytes: &[u8], rules: HandleRules) -> Result<Self, HandleError> {
        let text = std::str::from_utf8(bytes).map_err(|_| HandleError::NotUtf8)?;
        Self::parse_with(text, rules)
    }

    /// The prefix handle `0.NA/{prefix}` of a prefix, validated like any handle.
    pub fn prefix_handle(prefix: &str) -> Result<Self, HandleError> {
        Self::parse_with(
            &format!("{PREFIX_HANDLE_PREFIX}/{prefix}"),
            HandleRules {
                max_len: usize::MAX,
            },
        )
    }

    /// The whole handle as the caller spelled it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The part before the first `/`.
    pub fn prefix(&self) -> &str {
        &self.text[..self.slash]
    }

    /// The part after the first `/`.
    pub fn suffix(&self) -> &str {
        &self.text[self.slash + 1..]
    }

    /// Whether this is a prefix handle (`0.NA/...`).
    pub fn is_prefix_handle(&self) -> bool {
        self.prefix().eq_ignore_ascii_case(PREFIX_HANDLE_PREFIX)
    }

    /// The prefix that administers this handle: for `P/x` it is `P`; for the prefix handle
    /// `0.NA/P.x` it is the parent `P`, or `P.x` itself when it has no parent.
    pub fn naming_authority(&self) -> &str {
        if self.is_prefix_handle() {
            let na = self.suffix();
            match na.rfind('.') {
                Some(dot) => &na[..dot],
                None => na,
            }
        } else {
            self.prefix()
        }
    }

    /// The storage key: the handle with ASCII letters upper-cased.
    pub fn key(&self) -> Vec<u8> {
        normalize(&self.text)
    }
}

/// Upper-cases the ASCII letters of a handle or prefix, which is how the reference server folds
/// case; other characters are left unchanged.
pub fn normalize(text: &str) -> Vec<u8> {
    text.bytes().map(|b| b.to_ascii_uppercase()).collect()
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:?})", &*self.text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_prefix_and_suffix() {
        let h = Handle::parse("88.118.8/chem-67-64-1").unwrap();
        assert_eq!(h.prefix(), "88.118.8");
        assert_eq!(h.suffix(), "chem-67-64-1");
        assert_eq!(h.key(), b"88.118.8/CHEM-67-64-1");
        let h = Handle::parse("88.118.8/a/b").unwrap();
        assert_eq!(h.suffix(), "a/b");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Handle::parse(""), Err(HandleError::Empty));
        assert_eq!(Handle::parse("88.118.8"), Err(HandleError::NoSlash));
        assert_eq!(Handle::parse("/x"), Err(HandleError::EmptyPrefix));
        assert_eq!(Handle::parse("88/"), Err(HandleError::EmptySuffix));
        assert_eq!(Handle::parse("88..1/x"), Err(HandleError::EmptyLabel));
        assert_eq!(Handle::parse("88/a\nb"), Err(HandleError::ControlCharacter));
        assert_eq!(
            Handle::parse(&format!("88/{}", "x".repeat(253))),
            Err(HandleError::TooLong)
        );
        assert!(
            Handle::parse_with(
                &format!("88/{}", "x".repeat(253)),
                HandleRules { max_len: 1000 }
            )
            .is_ok()
        );
    }

    #[test]
    fn unicode_is_kept_and_only_ascii_is_folded() {
        let h = Handle::parse("88.118.8/丙酮-abc").unwrap();
        assert_eq!(h.key(), "88.118.8/丙酮-ABC".as_bytes());
    }

    #[test]
    fn naming_authority_of_prefix_handles() {
        assert_eq!(
            Handle::parse("0.NA/88.118.8").unwrap().naming_authority(),
            "88.118"
        );
        assert_eq!(Handle::parse("0.na/88").unwrap().naming_authority(), "88");
        assert_eq!(
            Handle::parse("88.118.8/x").unwrap().naming_authority(),
            "88.118.8"
        );
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent_and_case_blind(s in "[a-zA-Z0-9.]{1,10}/[\\PC]{1,20}") {
            if let Ok(h) = Handle::parse(&s) {
                let key = h.key();
                let again = Handle::parse(std::str::from_utf8(&key).unwrap()).unwrap();
                prop_assert_eq!(again.key(), key.clone());
                let lower = Handle::parse(&s.to_ascii_lowercase()).unwrap();
                prop_assert_eq!(lower.key(), key);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Handle::parse(&s);
        }
    }
}
