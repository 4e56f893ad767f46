//! Per-identity daily quotas (IDIS RC 603 and RC 604), charged once per request by
//! [`Resolver::handle`](crate::Resolver::handle) and per item by
//! [`Resolver::handle_batch`](crate::Resolver::handle_batch), whichever interface the request
//! came through.

use std::collections::HashMap;

use idnode_proto::ResponseCode;

use crate::op::{Failure, Identity};

/// Per-identity counters for the current UTC day.
#[derive(Debug)]
pub(crate) struct Quotas {
    daily_requests: u64,
    daily_registrations: u64,
    day: u32,
    used: HashMap<String, (u64, u64)>,
}

impl Quotas {
    /// Quotas of `daily_requests` authenticated requests and `daily_registrations` created
    /// handles per identity and UTC day; 0 means no limit.
    pub(crate) fn new(daily_requests: u64, daily_registrations: u64) -> Self {
        Self {
            daily_requests,
            daily_registrations,
            day: 0,
            used: HashMap::new(),
        }
    }

    /// Whether no quota is set, so nothing needs counting.
    pub(crate) fn is_unlimited(&self) -> bool {
        self.daily_requests == 0 && self.daily_registrations == 0
    }

    /// Counts one authenticated request by `identity` (and one registration when `registers`)
    /// at `unix` seconds; refuses with RC 603 or RC 604, counting nothing, when a quota is used
    /// up.
    pub(crate) fn charge(
        &mut self,
        identity: &Identity,
        registers: bool,
        unix: u32,
    ) -> Result<(), Failure> {
        if self.is_unlimited() {
            return Ok(());
        }
        let day = unix / 86_400;
        if day != self.day {
            self.day = day;
            self.used.clear();
        }
        let used = self
            .used
            .entry(identity.to_string().to_ascii_uppercase())
            .or_insert((0, 0));
        if self.daily_requests != 0 && used.0 >= self.daily_requests {
            return Err(Failure::new(
                ResponseCode::RequestLimitDaily,
                "Daily request quota exceeded",
            ));
        }
        if registers && self.daily_registrations != 0 && used.1 >= self.daily_registrations {
            return Err(Failure::new(
                ResponseCode::RegisterCountLimit,
                "Daily registration quota exceeded",
            ));
        }
        used.0 += 1;
        if registers {
            used.1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use idnode_proto::ValueRef;

    use super::*;

    fn who(text: &str) -> Identity {
        Identity(ValueRef::parse(text).unwrap())
    }

    #[test]
    fn quotas_reset_daily() {
        let mut q = Quotas::new(2, 1);
        let a = who("300:A/B");
        assert!(q.charge(&a, true, 10).is_ok());
        let refused = q.charge(&a, true, 11).unwrap_err();
        assert_eq!(refused.rc, ResponseCode::RegisterCountLimit);
        assert!(q.charge(&a, false, 12).is_ok());
        let refused = q.charge(&a, false, 13).unwrap_err();
        assert_eq!(refused.rc, ResponseCode::RequestLimitDaily);
        assert!(
            q.charge(&who("300:a/b"), false, 14).is_err(),
            "names fold case"
        );
        assert!(
            q.charge(&a, false, 86_400 + 1).is_ok(),
            "a new day starts afresh"
        );
        assert!(Quotas::new(0, 0).charge(&a, true, 1).is_ok());
    }
}
