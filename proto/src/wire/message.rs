//! Whole messages: envelope, header, body and credential (§3).

use super::body::Body;
use super::credential::Credential;
use super::digest::RequestDigest;
use super::envelope::{ENVELOPE_LEN, Envelope};
use super::header::{HEADER_LEN, Header};
use crate::codec::{DecodeError, Reader, Writer};

/// A decoded or to-be-encoded message.
///
/// `encode` writes the lengths of what it encodes, so `envelope.message_length` and
/// `header.body_length` are informative; [`Message::update_lengths`] sets them to the values
/// the encoder will write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// The envelope.
    pub envelope: Envelope,
    /// The header.
    pub header: Header,
    /// The digest of the request at the start of a response body. It is decoded when the
    /// response has RD set (CNRI `Encoder.decodeMessage`; its challenges always set RD).
    pub request_digest: Option<RequestDigest>,
    /// The body.
    pub body: Body,
    /// Bytes inside `BodyLength` after the body's fields. CNRI's OC 400 encoder leaves two
    /// zero bytes there (§3.4); they are kept so that re-encoding reproduces the input.
    pub body_padding: Vec<u8>,
    /// The credential, or `None` when `CredentialLength` is 0 (or absent).
    pub credential: Option<Credential>,
}

/// A decoded message with the bytes that digests and signatures cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The message.
    pub message: Message,
    /// The header and body exactly as received: the input of request digests (§3.5) and,
    /// after the envelope prefix, of signatures (§3.6).
    pub header_body: &'a [u8],
}

impl Message {
    /// A message with no request digest, padding or credential.
    pub fn new(envelope: Envelope, header: Header, body: Body) -> Self {
        Self {
            envelope,
            header,
            request_digest: None,
            body,
            body_padding: Vec::new(),
            credential: None,
        }
    }

    /// Sets `header.body_length` and `envelope.message_length` to what `encode` writes.
    pub fn update_lengths(&mut self) {
        let mut body = Vec::new();
        self.encode_body(&mut body);
        self.header.body_length = body.len() as u32;
        let credential_len = self.credential.as_ref().map_or(0, |c| c.to_bytes().len());
        self.envelope.message_length = (HEADER_LEN + body.len() + 4 + credential_len) as u32;
    }

    /// Appends the body as it goes inside `BodyLength`: digest, fields and padding.
    fn encode_body(&self, out: &mut Vec<u8>) {
        if let Some(digest) = &self.request_digest {
            digest.encode(&mut Writer::new(out));
        }
        self.body.encode(out);
        out.extend_from_slice(&self.body_padding);
    }

    /// Appends everything after the envelope: header, body and credential, with the lengths
    /// of what is written. Encrypting with a session key (EC) is the caller's job: encrypt
    /// these bytes and put them after an envelope with `encrypted` set.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        let header_at = out.len();
        Writer::new(out).raw(&[0; HEADER_LEN]);
        let body_at = out.len();
        self.encode_body(out);
        let body_len = out.len() - body_at;
        let mut header = Vec::with_capacity(HEADER_LEN);
        self.header
            .encode_with_body_length(body_len as u32, &mut Writer::new(&mut header));
        out[header_at..body_at].copy_from_slice(&header);
        match &self.credential {
            Some(credential) => {
                let len_at = out.len();
                Writer::new(out).u32(0);
                credential.encode(out);
                let credential_len = (out.len() - len_at - 4) as u32;
                out[len_at..len_at + 4].copy_from_slice(&credential_len.to_be_bytes());
            }
            None => Writer::new(out).u32(0),
        }
    }

    /// Appends the whole message: envelope (with the real message length) and payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let envelope_at = out.len();
        Writer::new(out).raw(&[0; ENVELOPE_LEN]);
        self.encode_payload(out);
        let envelope = Envelope {
            message_length: (out.len() - envelope_at - ENVELOPE_LEN) as u32,
            ..self.envelope
        };
        out[envelope_at..envelope_at + ENVELOPE_LEN].copy_from_slice(&envelope.to_bytes());
    }

    /// The whole message as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Decodes an envelope; bytes after the first 20 are ignored.
pub fn decode_envelope(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    Envelope::decode(bytes)
}

/// Decodes the bytes after an envelope. `payload` must be exactly `envelope.message_length`
/// bytes and in clear text: when the envelope has EC set, decrypt it first.
pub fn decode_message(envelope: Envelope, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if payload.len() < envelope.message_length as usize {
        return Err(DecodeError::Truncated("message"));
    }
    if payload.len() > envelope.message_length as usize {
        return Err(DecodeError::Trailing("message"));
    }
    let mut r = Reader::new(payload);
    let header = Header::decode(r.take(HEADER_LEN, "header")?)?;
    let body_bytes = r.take(header.body_length as usize, "body")?;
    let header_body = &payload[..r.position()];
    let decoded = Body::decode(&header, body_bytes)?;
    // CNRI reads a credential only when its length field fits in the message.
    let credential = if r.is_empty() {
        None
    } else {
        match r.bytes("credential")? {
            [] => None,
            bytes => Some(Credential::from_bytes(bytes)?),
        }
    };
    r.finish("credential")?;
    Ok(Decoded {
        message: Message {
            envelope,
            header,
            request_digest: decoded.request_digest,
            body: decoded.body,
            body_padding: decoded.trailing,
            credential,
        },
        header_body,
    })
}

/// Decodes one whole message: envelope and exactly `message_length` bytes after it.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let envelope = Envelope::decode(bytes)?;
    let payload = bytes
        .get(ENVELOPE_LEN..)
        .ok_or(DecodeError::Truncated("envelope"))?;
    decode_message(envelope, payload)
}

/// Appends the whole message; the same as [`Message::encode`].
pub fn encode(message: &Message, out: &mut Vec<u8>) {
    message.encode(out);
}
