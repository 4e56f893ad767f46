//! The answers of the native handler: the response message for a request (version, flags,
//! request digest), this interface's one table from a resolver [`Failure`] to a Handle
//! response code and message, and the encoding with certification, session MACs and
//! encryption.

use super::*;

impl Native {
    /// A response header and envelope for `req`.
    pub(super) fn respond(&self, req: &Req, rc: ResponseCode, body: Body) -> Out {
        let version = req.version();
        let rc = downgrade(rc, version);
        let flags = OpFlags(req.flags().0 & KEPT_FLAGS) | OpFlags::AT;
        let envelope = Envelope {
            version,
            suggested: if version >= Version::V2_8 {
                Version::V2_11
            } else {
                Version::default()
            },
            session_id: req.msg.envelope.session_id,
            request_id: req.msg.envelope.request_id,
            ..Envelope::default()
        };
        let header = Header {
            opcode: req.msg.header.opcode,
            response_code: rc,
            flags,
            site_info_serial: 1,
            recursion_count: req.msg.header.recursion_count,
            expiration: req.msg.header.expiration,
            body_length: 0,
        };
        let mut msg = Message::new(envelope, header, body);
        if flags.contains(OpFlags::RD) {
            msg.request_digest = Some(RequestDigest::for_version(version, &req.header_body));
        }
        Out {
            msg,
            certify: flags.contains(OpFlags::CT),
            encrypt: flags.contains(OpFlags::ENC),
        }
    }

    pub(super) fn error(&self, req: &Req, rc: ResponseCode, message: &str) -> Out {
        self.respond(
            req,
            rc,
            Body::Error {
                message: Some(message.to_owned()),
            },
        )
    }

    pub(super) fn failure(&self, req: &Req, failure: &Failure) -> Out {
        if let Some(referral) = &failure.referral {
            let body = Body::Referral(wire::Referral {
                handle: referral.handle.clone(),
                // Without values the body ends after the handle (handle-protocol.md §8.4).
                values: (!referral.values.is_empty()).then(|| referral.values.clone()),
            });
            return self.respond(req, failure.rc, body);
        }
        let message = if failure.rc == ResponseCode::ServerNotResponsible {
            NOT_HOMED
        } else {
            failure.message.as_str()
        };
        self.error(req, failure.rc, message)
    }

    /// Encodes a response: credential (CT), then encryption (EC) when a session asks for it.
    pub(super) fn encode(&self, state: &Core, out: Out) -> Vec<u8> {
        let Out {
            mut msg,
            certify,
            encrypt,
        } = out;
        let session_id = msg.envelope.session_id;
        if certify {
            msg.credential = None;
            let mut payload = Vec::new();
            msg.encode_payload(&mut payload);
            let header_body = &payload[..payload.len().saturating_sub(4)];
            let session_key = if msg.header.opcode == OpCode::SessionSetup {
                None
            } else {
                self.sessions.lock().ok().and_then(|mut s| {
                    s.get_mut(&session_id).map(|s| {
                        s.server_counter += 1;
                        (s.key.clone(), s.server_counter)
                    })
                })
            };
            msg.credential = match session_key {
                Some((key, counter)) => Some(Credential {
                    version: 0,
                    reserved: 0,
                    flags: 0,
                    signer: ValueRef {
                        handle: String::new(),
                        index: counter,
                    },
                    credential_type: HS_MAC.to_owned(),
                    digest_alg: b"HMAC-SHA256".to_vec(),
                    signature: mac::hmac_sha256(
                        &key,
                        &signed_input(&msg.envelope, counter, header_body),
                    )
                    .to_vec(),
                }),
                None => {
                    let input = signed_input(&msg.envelope, 0, header_body);
                    state
                        .sign_as_site(&input)
                        .map(|(alg, signature)| Credential {
                            version: 0,
                            reserved: 0,
                            flags: 0,
                            signer: ValueRef {
                                handle: String::new(),
                                index: 0,
                            },
                            credential_type: HS_SIGNED.to_owned(),
                            digest_alg: alg.as_bytes().to_vec(),
                            signature,
                        })
                }
            };
        }
        let mut payload = Vec::new();
        msg.encode_payload(&mut payload);
        let key = if encrypt && session_id != 0 {
            self.sessions
                .lock()
                .ok()
                .and_then(|s| s.get(&session_id).map(|s| s.key.clone()))
        } else {
            None
        };
        if let Some(key) = key {
            let mut iv = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut iv);
            payload = session::encrypt(&key, iv, &payload);
            msg.envelope.encrypted = true;
        }
        let envelope = Envelope {
            message_length: payload.len() as u32,
            ..msg.envelope
        };
        let mut bytes = envelope.to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        bytes
    }
}

/// An error answer to bytes that did not decode: operation 0, request id from the envelope
/// when it is there.
impl Native {
    /// The answer to a request refused for want of capacity: RC 3 (server too busy) for the
    /// request's id and operation, so that the client backs off and retries.
    pub(crate) fn busy_answer(&self, state: &Core, bytes: &[u8], message: &str) -> Vec<u8> {
        let mut out = bare_error(bytes, ResponseCode::ServerTooBusy, message);
        if let Ok(envelope) = Envelope::decode(bytes)
            && !envelope.encrypted
            && let Some(code) = bytes.get(wire::ENVELOPE_LEN..wire::ENVELOPE_LEN + 4)
        {
            out.msg.header.opcode =
                OpCode::from_code(u32::from_be_bytes([code[0], code[1], code[2], code[3]]));
        }
        self.encode(state, out)
    }
}

pub(super) fn bare_error(bytes: &[u8], rc: ResponseCode, message: &str) -> Out {
    let request_id = bytes
        .get(8..12)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let envelope = Envelope {
        version: Version::V2_11,
        suggested: Version::V2_11,
        request_id,
        ..Envelope::default()
    };
    let mut header = Header::request(OpCode::Unknown(0));
    header.response_code = rc;
    header.flags = OpFlags::AT;
    header.site_info_serial = 1;
    Out {
        msg: Message::new(
            envelope,
            header,
            Body::Error {
                message: Some(message.to_owned()),
            },
        ),
        certify: false,
        encrypt: false,
    }
}

pub(super) fn decode_text(e: &DecodeError) -> String {
    format!("Malformed message: {e}")
}

/// RC 7 is sent as 303 and RC 202 as 201 to peers below 2.5 (§3.2).
pub(super) fn downgrade(rc: ResponseCode, version: Version) -> ResponseCode {
    if version >= Version::V2_5 {
        return rc;
    }
    match rc {
        ResponseCode::ServerBackup => ResponseCode::PrefixReferral,
        ResponseCode::InvalidValue => ResponseCode::ValueAlreadyExists,
        other => other,
    }
}
