//! Referrals (handle-protocol.md §8.2 steps 3 and 4, §8.4): where a node sends a client for a
//! handle it does not answer itself, from the prefix handles it stores.

use idnode_proto::{Handle, HandleValue, Record, ResponseCode, types};
use idnode_registry::Store;

use crate::op::{Failure, corrupt, internal};
use crate::pipeline::Resolver;

impl<S: Store> Resolver<S> {
    /// The prefix referral (RC 303) for the prefix handle `0.NA/X` that is not stored here:
    /// the public `HS_SITE.PREFIX`, `HS_SERV.PREFIX` and `HS_NA_DELEGATE` values of its nearest
    /// stored ancestor `0.NA/Y` that has any (`88.118.8` → `88.118` → `88`), as the reference
    /// server refers (handle-protocol.md §8.2 step 3), or `None`.
    pub(crate) fn prefix_referral(&self, handle: &Handle) -> Result<Option<Failure>, Failure> {
        const DELEGATING: [&str; 3] = [
            types::HS_SITE_PREFIX,
            types::HS_SERV_PREFIX,
            types::HS_NA_DELEGATE,
        ];
        let mut name = handle.suffix();
        while let Some(dot) = name.rfind('.') {
            name = &name[..dot];
            let Ok(ancestor) = Handle::prefix_handle(name) else {
                break;
            };
            let Some(stored) = self.store.get(&ancestor.key()).map_err(internal)? else {
                continue;
            };
            let values = public_values_of(&stored.values, &DELEGATING)?;
            if !values.is_empty() {
                let referral = crate::op::Referral {
                    handle: String::new(),
                    values,
                };
                return Ok(Some(Failure::referral(
                    ResponseCode::PrefixReferral,
                    referral,
                )));
            }
        }
        Ok(None)
    }

    /// The service referral (RC 302) for an ordinary handle `P/x` whose prefix is not homed
    /// here: the public `HS_SITE`, `HS_SITE.6` and `HS_SERV` values of `0.NA/P` when it is
    /// stored here (a top-level node that delegates `P`); else, when a stored ancestor of
    /// `0.NA/P` delegates it, the referral handle `0.NA/P` without values, which a client
    /// resolves for the sites (handle-protocol.md §8.4); `None` (RC 301) when this node knows
    /// nothing of `P`.
    pub(crate) fn service_referral(&self, handle: &Handle) -> Result<Option<Failure>, Failure> {
        const SERVING: [&str; 3] = [types::HS_SITE, "HS_SITE.6", types::HS_SERV];
        if handle.is_prefix_handle() {
            return Ok(None);
        }
        let Ok(prefix_handle) = Handle::prefix_handle(handle.prefix()) else {
            return Ok(None);
        };
        let referral = |handle: String, values: Vec<HandleValue>| {
            Some(Failure::referral(
                ResponseCode::ServiceReferral,
                crate::op::Referral { handle, values },
            ))
        };
        if let Some(stored) = self.store.get(&prefix_handle.key()).map_err(internal)? {
            let values = public_values_of(&stored.values, &SERVING)?;
            return Ok(if values.is_empty() {
                None
            } else {
                referral(String::new(), values)
            });
        }
        Ok(match self.prefix_referral(&prefix_handle)? {
            Some(_) => referral(prefix_handle.as_str().to_owned(), Vec::new()),
            None => None,
        })
    }
}

/// The publicly readable values of a stored record whose type is one of `types`.
fn public_values_of(values: &[u8], types: &[&str]) -> Result<Vec<HandleValue>, Failure> {
    Ok(Record::parse(values)
        .map_err(corrupt)?
        .decode_all()
        .map_err(corrupt)?
        .into_iter()
        .filter(|v| {
            v.permissions.public_read()
                && types.iter().any(|t| v.value_type.eq_ignore_ascii_case(t))
        })
        .collect())
}
