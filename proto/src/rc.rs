//! Response codes of the Handle protocol (RFC 3652 §2.2.2.2, CNRI `AbstractMessage.RC_*`, and the
//! IDIS extensions), with the one table that maps them to HTTP statuses.

/// A response code. Variants follow the numeric order of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// 0: only in requests.
    Reserved,
    /// 1.
    Success,
    /// 2: unexpected server error.
    Error,
    /// 3.
    ServerTooBusy,
    /// 4: malformed message or bad parameter.
    ProtocolError,
    /// 5.
    OperationNotSupported,
    /// 6.
    RecursionCountTooHigh,
    /// 7: read-only or backup in progress.
    ServerBackup,
    /// 100.
    HandleNotFound,
    /// 101.
    HandleAlreadyExists,
    /// 102.
    InvalidHandle,
    /// 200: the handle exists but no value matches.
    ValuesNotFound,
    /// 201.
    ValueAlreadyExists,
    /// 202.
    InvalidValue,
    /// 300.
    OutOfDateSiteInfo,
    /// 301: the prefix does not live here.
    ServerNotResponsible,
    /// 302.
    ServiceReferral,
    /// 303.
    PrefixReferral,
    /// 400: the requester is not an administrator for this operation.
    InvalidAdmin,
    /// 401.
    InsufficientPermissions,
    /// 402: a challenge.
    AuthenticationNeeded,
    /// 403.
    AuthenticationFailed,
    /// 404.
    InvalidCredential,
    /// 405: the challenge was answered too late.
    AuthenTimeout,
    /// 406.
    AuthenError,
    /// 407 (IDIS): already logged in.
    Relogin,
    /// 408 (IDIS): log in first.
    LoginFirst,
    /// 500.
    SessionTimeout,
    /// 501.
    SessionFailed,
    /// 502.
    InvalidSessionKey,
    /// 503.
    NeedRsaKeyForSessionExchange,
    /// 504.
    InvalidSessionSetupRequest,
    /// 505: replay detected.
    SessionMessageRejected,
    /// 601 (IDIS, client side).
    ClientChannelError,
    /// 602 (IDIS, client side).
    ClientTimeOut,
    /// 603 (IDIS): daily request quota exceeded.
    RequestLimitDaily,
    /// 604 (IDIS): registration quota exceeded.
    RegisterCountLimit,
    /// 605 (IDIS): prefix quota exceeded.
    PrefixLimit,
    /// 3001 (IDIS).
    VerifyCredentialFailed,
    /// Any code this table does not know.
    Unknown(u32),
}

const TABLE: &[(ResponseCode, u32)] = &[
    (ResponseCode::Reserved, 0),
    (ResponseCode::Success, 1),
    (ResponseCode::Error, 2),
    (ResponseCode::ServerTooBusy, 3),
    (ResponseCode::ProtocolError, 4),
    (ResponseCode::OperationNotSupported, 5),
    (ResponseCode::RecursionCountTooHigh, 6),
    (ResponseCode::ServerBackup, 7),
    (ResponseCode::HandleNotFound, 100),
    (ResponseCode::HandleAlreadyExists, 101),
    (ResponseCode::InvalidHandle, 102),
    (ResponseCode::ValuesNotFound, 200),
    (ResponseCode::ValueAlreadyExists, 201),
    (ResponseCode::InvalidValue, 202),
    (ResponseCode::OutOfDateSiteInfo, 300),
    (ResponseCode::ServerNotResponsible, 301),
    (ResponseCode::ServiceReferral, 302),
    (ResponseCode::PrefixReferral, 303),
    (ResponseCode::InvalidAdmin, 400),
    (ResponseCode::InsufficientPermissions, 401),
    (ResponseCode::AuthenticationNeeded, 402),
    (ResponseCode::AuthenticationFailed, 403),
    (ResponseCode::InvalidCredential, 404),
    (ResponseCode::AuthenTimeout, 405),
    (ResponseCode::AuthenError, 406),
    (ResponseCode::Relogin, 407),
    (ResponseCode::LoginFirst, 408),
    (ResponseCode::SessionTimeout, 500),
    (ResponseCode::SessionFailed, 501),
    (ResponseCode::InvalidSessionKey, 502),
    (ResponseCode::NeedRsaKeyForSessionExchange, 503),
    (ResponseCode::InvalidSessionSetupRequest, 504),
    (ResponseCode::SessionMessageRejected, 505),
    (ResponseCode::ClientChannelError, 601),
    (ResponseCode::ClientTimeOut, 602),
    (ResponseCode::RequestLimitDaily, 603),
    (ResponseCode::RegisterCountLimit, 604),
    (ResponseCode::PrefixLimit, 605),
    (ResponseCode::VerifyCredentialFailed, 3001),
];

impl ResponseCode {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Self::Unknown(c) => c,
            known => TABLE
                .iter()
                .find(|(rc, _)| *rc == known)
                .map_or(2, |(_, c)| *c),
        }
    }

    /// The response code with this number.
    pub fn from_code(code: u32) -> Self {
        TABLE
            .iter()
            .find(|(_, c)| *c == code)
            .map_or(Self::Unknown(code), |(rc, _)| *rc)
    }

    /// The HTTP status the handle.net REST API uses for this code
    /// (`BaseHandleRequestProcessingServlet.statusCodeFromResponse`). `resolution` selects 200
    /// for RC 200 on a resolution; `created` selects 201 for a successful create or add with
    /// `overwrite=false`.
    pub fn http_status(self, resolution: bool, created: bool) -> u16 {
        match self {
            Self::Success if created => 201,
            Self::Success => 200,
            Self::ServerTooBusy | Self::ServerBackup => 503,
            Self::ProtocolError
            | Self::InvalidHandle
            | Self::InvalidValue
            | Self::ServerNotResponsible => 400,
            Self::OperationNotSupported => 501,
            Self::HandleNotFound => 404,
            Self::HandleAlreadyExists | Self::ValueAlreadyExists => 409,
            Self::ValuesNotFound if resolution => 200,
            Self::ValuesNotFound => 400,
            Self::ServiceReferral | Self::PrefixReferral => 300,
            Self::InvalidAdmin
            | Self::InsufficientPermissions
            | Self::AuthenticationFailed
            | Self::InvalidCredential
            | Self::VerifyCredentialFailed
            | Self::PrefixLimit => 403,
            Self::AuthenticationNeeded | Self::LoginFirst => 401,
            Self::RequestLimitDaily | Self::RegisterCountLimit => 429,
            _ => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (rc, code) in TABLE {
            assert_eq!(rc.code(), *code);
            assert_eq!(ResponseCode::from_code(*code), *rc);
        }
        assert_eq!(ResponseCode::from_code(9999), ResponseCode::Unknown(9999));
        assert_eq!(ResponseCode::Unknown(9999).code(), 9999);
    }

    #[test]
    fn http_statuses_follow_the_reference() {
        assert_eq!(ResponseCode::ValuesNotFound.http_status(true, false), 200);
        assert_eq!(ResponseCode::ValuesNotFound.http_status(false, false), 400);
        assert_eq!(ResponseCode::Success.http_status(false, true), 201);
        assert_eq!(
            ResponseCode::AuthenticationNeeded.http_status(false, false),
            401
        );
        assert_eq!(
            ResponseCode::ServerNotResponsible.http_status(true, false),
            400
        );
        assert_eq!(ResponseCode::SessionFailed.http_status(false, false), 500);
    }
}
