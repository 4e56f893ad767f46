//! The client algorithm over a scripted transport: which server each request reaches, and
//! how referrals, failures, loops and over-long chains end.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use idnode_client::transport::BoxFuture;
use idnode_client::{Answer, Error, Limits, Locator, Query, Transport};
use idnode_proto::wire::{self, Body, Message, Referral, ResolutionResponse};
use idnode_proto::{HandleValue, Interface, Protocol, ResponseCode, ServerInfo, SiteInfo, types};

/// Server `n` listens on 10.0.0.n.
fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

/// A site of the servers `ns`, hashing whole handles.
fn site(ns: &[u8]) -> SiteInfo {
    SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: 1,
        primary: true,
        multi_primary: false,
        hash_option: 2,
        hash_filter: String::new(),
        attributes: Vec::new(),
        servers: ns
            .iter()
            .map(|&n| ServerInfo {
                server_id: u32::from(n),
                address: ServerInfo::address_of(ip(n)),
                public_key: Vec::new(),
                interfaces: vec![Interface {
                    query: true,
                    admin: true,
                    protocol: Protocol::Tcp,
                    port: 2641,
                }],
            })
            .collect(),
    }
}

fn site_value(index: u32, value_type: &str, s: &SiteInfo) -> HandleValue {
    HandleValue::new(index, value_type, s.to_bytes())
}

/// What a scripted server answers: a response code and body, or a transport failure.
type Script = Box<dyn Fn(&str) -> Result<(ResponseCode, Body), Error> + Send + Sync>;

#[derive(Default)]
struct Scripted {
    servers: HashMap<IpAddr, Script>,
    asked: Mutex<Vec<(u8, String)>>,
}

impl Scripted {
    fn on(
        mut self,
        n: u8,
        f: impl Fn(&str) -> Result<(ResponseCode, Body), Error> + Send + Sync + 'static,
    ) -> Self {
        self.servers.insert(ip(n), Box::new(f));
        self
    }

    fn asked(&self) -> Vec<(u8, String)> {
        self.asked.lock().unwrap().clone()
    }
}

impl Transport for Scripted {
    fn exchange<'a>(
        &'a self,
        server: &'a ServerInfo,
        request: &'a Message,
    ) -> BoxFuture<'a, Result<Answer, Error>> {
        Box::pin(async move {
            let Body::Resolution(r) = &request.body else {
                panic!("not a resolution");
            };
            let n = match server.ip() {
                IpAddr::V4(v4) => v4.octets()[3],
                IpAddr::V6(_) => 0,
            };
            self.asked.lock().unwrap().push((n, r.handle.clone()));
            let script = self
                .servers
                .get(&server.ip())
                .ok_or_else(|| Error::Timeout {
                    server: server.ip().to_string(),
                })?;
            let (rc, body) = script(&r.handle)?;
            let mut answer = request.clone();
            answer.header.response_code = rc;
            answer.body = body;
            let bytes = answer.to_bytes();
            let decoded = wire::decode(&bytes).expect("scripted answers decode");
            Ok(Answer {
                message: decoded.message,
                header_body: decoded.header_body.to_vec(),
            })
        })
    }
}

fn values(handle: &str, values: Vec<HandleValue>) -> Result<(ResponseCode, Body), Error> {
    Ok((
        ResponseCode::Success,
        Body::Resolved(ResolutionResponse {
            handle: handle.to_owned(),
            values,
        }),
    ))
}

fn referral(rc: ResponseCode, values: Vec<HandleValue>) -> Result<(ResponseCode, Body), Error> {
    Ok((
        rc,
        Body::Referral(Referral {
            handle: String::new(),
            values: Some(values),
        }),
    ))
}

fn not_here() -> Result<(ResponseCode, Body), Error> {
    Ok((
        ResponseCode::ServerNotResponsible,
        Body::Error {
            message: Some("That prefix doesn't live here".into()),
        },
    ))
}

fn url(text: &str) -> Vec<HandleValue> {
    vec![HandleValue::new(1, "URL", text.as_bytes().to_vec())]
}

fn locator(transport: Scripted) -> Locator<Scripted> {
    Locator::new(vec![site(&[1])], transport, Limits::default())
}

async fn resolve(locator: &Locator<Scripted>, handle: &str) -> Result<Message, Error> {
    locator
        .resolve(&Query::all(handle))
        .await
        .map(|a| a.message)
}

#[tokio::test]
async fn the_request_reaches_the_server_the_md5_rule_names() {
    // handle-protocol.md §8.3: `88.118.8/abc` → server index 1 of 3.
    let service = site(&[21, 22, 23]);
    let transport = Scripted::default()
        .on(1, move |h| {
            assert_eq!(h, "0.NA/88.118.8");
            values(h, vec![site_value(1, types::HS_SITE, &service)])
        })
        .on(21, |_| not_here())
        .on(22, |h| values(h, url("https://found")))
        .on(23, |_| not_here());
    let locator = locator(transport);
    let answer = resolve(&locator, "88.118.8/abc").await.unwrap();
    assert_eq!(answer.header.response_code, ResponseCode::Success);
    // The prefix lookup is cached: the second resolution asks only the service.
    resolve(&locator, "88.118.8/abc").await.unwrap();
    let asked: Vec<u8> = locator_asked(&locator);
    assert_eq!(asked, [1, 22, 22]);
}

#[tokio::test]
async fn with_no_cache_every_resolution_walks_from_the_roots() {
    let service = site(&[21]);
    let transport = Scripted::default()
        .on(1, move |h| {
            values(h, vec![site_value(1, types::HS_SITE, &service)])
        })
        .on(21, |h| values(h, url("https://found")));
    let limits = Limits {
        cached_prefixes: 0,
        ..Limits::default()
    };
    let locator = Locator::new(vec![site(&[1])], transport, limits);
    resolve(&locator, "88.118.8/abc").await.unwrap();
    resolve(&locator, "88.118.8/abc").await.unwrap();
    assert_eq!(locator_asked(&locator), [1, 21, 1, 21]);
}

fn locator_asked(locator: &Locator<Scripted>) -> Vec<u8> {
    locator
        .transport()
        .asked()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[tokio::test]
async fn prefix_referrals_go_down_the_chain_and_service_handles_expand() {
    // The root refers `0.NA/88.3.1` to the `88.3` node (RC 303), which holds it with an
    // `HS_SERV` naming a service handle whose `HS_SITE` is server 5.
    let node = site(&[4]);
    let service = site(&[5]);
    let transport = Scripted::default()
        .on(1, move |h| match h {
            "0.NA/88.3.1" => referral(
                ResponseCode::PrefixReferral,
                vec![site_value(1, types::HS_SITE_PREFIX, &node)],
            ),
            "0.NA/88.3" => values(h, vec![site_value(1, types::HS_SITE, &site(&[4]))]),
            other => panic!("root asked for {other}"),
        })
        .on(4, move |h| match h {
            "0.NA/88.3.1" => values(
                h,
                vec![HandleValue::new(1, "HS_SERV", b"88.3/service".to_vec())],
            ),
            "88.3/service" => values(h, vec![site_value(1, types::HS_SITE, &service)]),
            other => panic!("88.3 asked for {other}"),
        })
        .on(5, |h| values(h, url("https://drum")));
    let locator = locator(transport);
    let answer = resolve(&locator, "88.3.1/drum").await.unwrap();
    assert_eq!(answer.header.response_code, ResponseCode::Success);
    let asked = locator.transport().asked();
    assert_eq!(asked.last().unwrap(), &(5, "88.3.1/drum".to_owned()));
}

#[tokio::test]
async fn failing_sites_are_skipped_and_answers_passed_on() {
    // Two sites: the first times out (no server scripted), the second answers.
    let sites = vec![
        site_value(1, types::HS_SITE, &site(&[30])),
        site_value(2, types::HS_SITE, &site(&[31])),
    ];
    let transport = Scripted::default()
        .on(1, move |h| values(h, sites.clone()))
        .on(31, |h| match h {
            "88.4/missing" => Ok((ResponseCode::HandleNotFound, Body::Error { message: None })),
            _ => values(h, url("https://ok")),
        });
    let locator = locator(transport);
    let answer = resolve(&locator, "88.4/x").await.unwrap();
    assert_eq!(answer.header.response_code, ResponseCode::Success);
    let answer = resolve(&locator, "88.4/missing").await.unwrap();
    assert_eq!(answer.header.response_code, ResponseCode::HandleNotFound);
}

#[tokio::test]
async fn garbage_unknown_prefixes_and_dead_services_fail_with_their_class() {
    let transport = Scripted::default()
        .on(1, |h| match h {
            "0.NA/88.5" => values(h, vec![site_value(1, types::HS_SITE, &site(&[40]))]),
            "0.NA/88.6" => values(h, vec![site_value(1, types::HS_SITE, &site(&[41]))]),
            "0.NA/88.7" => values(
                h,
                vec![HandleValue::new(1, types::HS_SITE, b"junk".to_vec())],
            ),
            _ => Ok((ResponseCode::HandleNotFound, Body::Error { message: None })),
        })
        .on(40, |_| {
            Err(Error::Malformed {
                server: "10.0.0.40".into(),
                reason: "garbage".into(),
            })
        });
    let locator = locator(transport);
    let e = resolve(&locator, "88.5/x").await.unwrap_err();
    assert!(
        matches!(e, Error::Malformed { .. }) && !e.retryable(),
        "{e}"
    );
    let e = resolve(&locator, "88.6/x").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }) && e.retryable(), "{e}");
    let e = resolve(&locator, "88.7/x").await.unwrap_err();
    assert!(matches!(e, Error::NoServer { .. }), "{e}");
    let e = resolve(&locator, "99/x").await.unwrap_err();
    assert!(matches!(e, Error::UnknownPrefix { .. }), "{e}");
}

#[tokio::test]
async fn referral_loops_and_endless_chains_are_cut() {
    // Server 50 refers every request back to itself.
    let transport = Scripted::default()
        .on(1, |h| {
            values(h, vec![site_value(1, types::HS_SITE, &site(&[50]))])
        })
        .on(50, |_| {
            referral(
                ResponseCode::ServiceReferral,
                vec![site_value(1, types::HS_SITE, &site(&[50]))],
            )
        });
    let e = resolve(&locator(transport), "88.8/x").await.unwrap_err();
    assert!(
        matches!(e, Error::Referrals { reason, .. } if reason.contains("back")),
        "{e}"
    );

    // Server n refers to server n + 1, forever.
    let mut transport = Scripted::default().on(1, |h| {
        values(h, vec![site_value(1, types::HS_SITE, &site(&[100]))])
    });
    for n in 100..=200u8 {
        transport = transport.on(n, move |_| {
            referral(
                ResponseCode::ServiceReferral,
                vec![site_value(1, types::HS_SITE, &site(&[n + 1]))],
            )
        });
    }
    let locator = locator(transport);
    let e = resolve(&locator, "88.9/x").await.unwrap_err();
    assert!(
        matches!(e, Error::Referrals { reason, .. } if reason.contains("too many")),
        "{e}"
    );
    assert!(locator.transport().asked().len() <= 2 + Limits::default().max_referrals as usize);
}
