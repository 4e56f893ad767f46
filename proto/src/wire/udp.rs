//! Multi-packet UDP messages (§9): splitting an encoded message into datagrams, and a bounded
//! reassembler for the other direction.
//!
//! A message longer than 492 bytes is sent as several datagrams. Each repeats the envelope with
//! the same request id and the same total `MessageLength`, sets TC, and numbers itself in
//! `SequenceNumber` from 0; fragment `i` carries message bytes `[492 i, 492 (i + 1))`. The CNRI
//! client reassembles by that offset, so every fragment but the last is exactly 492 bytes.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::envelope::{ENVELOPE_LEN, Envelope, MAX_MESSAGE_LEN};
use crate::codec::DecodeError;

/// The largest datagram.
pub const MAX_DATAGRAM_LEN: usize = 512;

/// The largest number of message bytes in one datagram.
pub const MAX_DATAGRAM_PAYLOAD: usize = MAX_DATAGRAM_LEN - ENVELOPE_LEN;

/// Splits an encoded message (envelope and payload, as `Message::encode` writes it) into
/// datagrams. A message that fits in one datagram is returned unchanged; otherwise every
/// fragment gets TC and its sequence number.
pub fn split_datagrams(message: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
    let envelope = Envelope::decode(message)?;
    let payload = message
        .get(ENVELOPE_LEN..)
        .ok_or(DecodeError::Truncated("envelope"))?;
    if payload.len() != envelope.message_length as usize {
        return Err(DecodeError::Invalid("message length"));
    }
    if payload.len() <= MAX_DATAGRAM_PAYLOAD {
        return Ok(vec![message.to_vec()]);
    }
    Ok(payload
        .chunks(MAX_DATAGRAM_PAYLOAD)
        .enumerate()
        .map(|(seq, chunk)| {
            let fragment_envelope = Envelope {
                truncated: true,
                sequence: seq as u32,
                ..envelope
            };
            let mut datagram = Vec::with_capacity(ENVELOPE_LEN + chunk.len());
            fragment_envelope.encode(&mut datagram);
            datagram.extend_from_slice(chunk);
            datagram
        })
        .collect())
}

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// The largest message accepted; at most [`MAX_MESSAGE_LEN`].
    pub max_message_len: usize,
    /// The largest number of messages being reassembled at once.
    pub max_partial: usize,
    /// The largest number of fragment bytes held at once, over all partial messages.
    pub max_buffered: usize,
    /// How long a partial message may wait for its missing fragments.
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self {
            max_message_len: MAX_MESSAGE_LEN,
            max_partial: 256,
            max_buffered: 4 * 1024 * 1024,
            timeout: Duration::from_secs(5),
        }
    }
}

/// One message being reassembled.
#[derive(Debug)]
struct Partial {
    /// The envelope of the first fragment seen, used to check the others.
    envelope: Envelope,
    /// The 20 envelope bytes of fragment 0, once it has arrived.
    first_envelope: Option<[u8; ENVELOPE_LEN]>,
    fragments: Vec<Option<Vec<u8>>>,
    missing: usize,
    buffered: usize,
    started: Instant,
}

/// Reassembles multi-packet UDP messages, keyed by the sender (`K`, such as the peer address)
/// and the request id. It does no I/O and reads no clock: the caller passes `now`.
#[derive(Debug)]
pub struct Reassembler<K> {
    limits: ReassemblyLimits,
    partial: HashMap<(K, u32), Partial>,
    buffered: usize,
}

impl<K: Eq + Hash + Clone> Reassembler<K> {
    /// An empty reassembler.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Self {
            limits,
            partial: HashMap::new(),
            buffered: 0,
        }
    }

    /// The number of messages waiting for fragments.
    pub fn len(&self) -> usize {
        self.partial.len()
    }

    /// Whether no message is waiting for fragments.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    /// The number of fragment bytes held.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Drops partial messages older than the timeout.
    pub fn expire(&mut self, now: Instant) {
        let timeout = self.limits.timeout;
        let mut freed = 0;
        self.partial.retain(|_, p| {
            let keep = now.saturating_duration_since(p.started) < timeout;
            if !keep {
                freed += p.buffered;
            }
            keep
        });
        self.buffered -= freed;
    }

    /// Takes one datagram from `sender`. Returns the whole message (envelope of fragment 0 and
    /// the joined payload) once every fragment is there, `None` while fragments are missing,
    /// and an error for a datagram that is malformed, inconsistent with earlier fragments of
    /// its message, or over a limit; such a datagram is dropped and changes nothing.
    ///
    /// A datagram whose payload is the whole message is returned at once, whatever its TC flag
    /// and sequence number say (servers before Handle.Net 9.3.0 did not set TC on multi-packet
    /// responses, so TC is not relied on to recognise fragments either).
    pub fn push(
        &mut self,
        sender: K,
        datagram: &[u8],
        now: Instant,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        let envelope = Envelope::decode(datagram)?;
        let payload = datagram
            .get(ENVELOPE_LEN..)
            .ok_or(DecodeError::Truncated("envelope"))?;
        let total = envelope.message_length as usize;
        if total > self.limits.max_message_len {
            return Err(DecodeError::TooLarge("message length"));
        }
        if payload.len() > MAX_DATAGRAM_PAYLOAD.max(total) {
            return Err(DecodeError::TooLarge("datagram"));
        }
        if payload.len() == total {
            return Ok(Some(datagram.to_vec()));
        }
        let n_fragments = total.div_ceil(MAX_DATAGRAM_PAYLOAD);
        let seq = envelope.sequence as usize;
        if seq >= n_fragments {
            return Err(DecodeError::Invalid("fragment sequence"));
        }
        let expected_len = if seq + 1 == n_fragments {
            total - MAX_DATAGRAM_PAYLOAD * (n_fragments - 1)
        } else {
            MAX_DATAGRAM_PAYLOAD
        };
        if payload.len() != expected_len {
            return Err(DecodeError::Invalid("fragment length"));
        }

        self.expire(now);
        let key = (sender, envelope.request_id);
        if !self.partial.contains_key(&key) && self.partial.len() >= self.limits.max_partial {
            return Err(DecodeError::TooLarge("partial messages"));
        }
        if self.buffered + payload.len() > self.limits.max_buffered {
            return Err(DecodeError::TooLarge("buffered fragments"));
        }
        let partial = self.partial.entry(key.clone()).or_insert_with(|| Partial {
            envelope,
            first_envelope: None,
            fragments: vec![None; n_fragments],
            missing: n_fragments,
            buffered: 0,
            started: now,
        });
        let known = &partial.envelope;
        if known.message_length != envelope.message_length
            || known.session_id != envelope.session_id
            || known.version != envelope.version
        {
            return Err(DecodeError::Invalid("fragment envelope"));
        }
        let slot = &mut partial.fragments[seq];
        if let Some(existing) = slot {
            return if existing.as_slice() == payload {
                Ok(None)
            } else {
                Err(DecodeError::Invalid("duplicate fragment"))
            };
        }
        *slot = Some(payload.to_vec());
        if seq == 0 {
            let mut first = [0u8; ENVELOPE_LEN];
            first.copy_from_slice(&datagram[..ENVELOPE_LEN]);
            partial.first_envelope = Some(first);
        }
        partial.missing -= 1;
        partial.buffered += payload.len();
        self.buffered += payload.len();
        if partial.missing > 0 {
            return Ok(None);
        }
        // Every fragment is present, fragment 0 included, so the entry can be assembled.
        let Some(done) = self.partial.remove(&key) else {
            return Ok(None);
        };
        self.buffered -= done.buffered;
        let mut message = Vec::with_capacity(ENVELOPE_LEN + total);
        message.extend_from_slice(&done.first_envelope.unwrap_or_default());
        for fragment in done.fragments.into_iter().flatten() {
            message.extend_from_slice(&fragment);
        }
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        let envelope = Envelope {
            request_id: 7,
            message_length: len as u32,
            ..Envelope::default()
        };
        let mut out = Vec::new();
        envelope.encode(&mut out);
        out.extend((0..len).map(|i| i as u8));
        out
    }

    #[allow(clippy::disallowed_methods)] // A fixed base instant; every later time is derived.
    fn base() -> Instant {
        Instant::now()
    }

    #[test]
    fn split_and_reassemble_in_any_order() {
        let msg = message(1672);
        let datagrams = split_datagrams(&msg).unwrap();
        assert_eq!(
            datagrams.iter().map(Vec::len).collect::<Vec<_>>(),
            [512, 512, 512, 216]
        );
        let t0 = base();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        for i in [3, 1, 0] {
            assert_eq!(r.push("peer", &datagrams[i], t0), Ok(None));
        }
        assert_eq!(r.push("peer", &datagrams[1], t0), Ok(None));
        let whole = r.push("peer", &datagrams[2], t0).unwrap().unwrap();
        let mut expected = msg.clone();
        expected[2] |= 0x20;
        assert_eq!(whole, expected);
        assert!(r.is_empty());
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn small_messages_pass_through() {
        let msg = message(100);
        assert_eq!(split_datagrams(&msg).unwrap(), vec![msg.clone()]);
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(1u8, &msg, base()), Ok(Some(msg)));
    }

    #[test]
    fn limits_and_expiry() {
        let datagrams = split_datagrams(&message(1000)).unwrap();
        let limits = ReassemblyLimits {
            max_partial: 1,
            ..ReassemblyLimits::default()
        };
        let t0 = base();
        let mut r = Reassembler::new(limits);
        assert_eq!(r.push(1u8, &datagrams[0], t0), Ok(None));
        assert_eq!(
            r.push(2u8, &datagrams[0], t0),
            Err(DecodeError::TooLarge("partial messages"))
        );
        let later = t0 + Duration::from_secs(6);
        assert_eq!(r.push(2u8, &datagrams[0], later), Ok(None));
        assert_eq!(r.len(), 1);
        r.expire(later + Duration::from_secs(6));
        assert!(r.is_empty());
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn inconsistent_fragments_are_rejected() {
        let datagrams = split_datagrams(&message(1000)).unwrap();
        let t0 = base();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut short = datagrams[0].clone();
        short.pop();
        assert!(r.push(0u8, &short, t0).is_err());
        let mut out_of_range = datagrams[1].clone();
        out_of_range[15] = 5;
        assert!(r.push(0u8, &out_of_range, t0).is_err());
        assert_eq!(r.push(0u8, &datagrams[0], t0), Ok(None));
        let mut other_session = datagrams[1].clone();
        other_session[7] = 9;
        assert_eq!(
            r.push(0u8, &other_session, t0),
            Err(DecodeError::Invalid("fragment envelope"))
        );
        let mut changed = datagrams[0].clone();
        changed[40] ^= 1;
        assert_eq!(
            r.push(0u8, &changed, t0),
            Err(DecodeError::Invalid("duplicate fragment"))
        );
        let mut wrong_len = datagrams[2].clone();
        wrong_len[16..20].copy_from_slice(&1200u32.to_be_bytes());
        assert!(r.push(0u8, &wrong_len, t0).is_err());
        assert_eq!(r.len(), 1);
    }
}
