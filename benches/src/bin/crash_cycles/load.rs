//! The writers of a cycle: REST creates and modifies, SNMS batches, native TCP creates and
//! EPCIS captures, each noting in the [`Ledger`] what was acknowledged and what was in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::bail;
use http::HeaderValue;
use idnode_benches::capture_document;
use idnode_certs::mac;
use idnode_proto::wire::{
    self, Body, ChallengeAnswer, Envelope, HS_SECKEY, Header, Message, ValuesRequest, Version,
};
use idnode_proto::{AdminPerms, AdminRecord, HandleValue, ResponseCode, ValueRef};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{ADMIN, Expected, Ledger, MAKER, Ports, SECRET, http, values_json};
/// One writer until `stop`: kind `w` (REST create, REST modify, SNMS batch, native create,
/// capture).
pub(super) async fn writer(
    w: usize,
    cycle: usize,
    ports: Ports,
    auth: HeaderValue,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let done = match w {
            0 => rest_create(cycle, n, ports, &auth, &ledger).await,
            1 => rest_modify(cycle, n, ports, &auth, &ledger).await,
            2 => snms_batch(cycle, n, ports, &auth, &ledger).await,
            3 => native_create(cycle, n, ports, &ledger).await,
            _ => capture(cycle, n, ports, &auth, &ledger).await,
        };
        if done.is_err() {
            // The node is gone (killed): nothing more to send.
            return;
        }
    }
}

pub(super) fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn rest_create(
    cycle: usize,
    n: usize,
    ports: Ports,
    auth: &HeaderValue,
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<()> {
    let handle = format!("88.118.8/K{cycle}-R{n}");
    let body = values_json(&format!("https://crash.example/{handle}"), "v0").to_string();
    lock(ledger).creates_in_flight += 1;
    let (status, _) = http(
        ports.http,
        "PUT",
        &format!("/api/handles/{handle}?overwrite=false"),
        Some(auth),
        Some(body.into_bytes()),
    )
    .await?;
    let mut ledger = lock(ledger);
    ledger.creates_in_flight -= 1;
    if status == 201 {
        ledger.acked += 1;
        ledger.handles.insert(
            handle,
            Expected {
                desc: "v0".to_owned(),
                in_flight: None,
            },
        );
    }
    Ok(())
}

/// Creates a handle, then modifies its index 2 a few times, one change at a time.
async fn rest_modify(
    cycle: usize,
    n: usize,
    ports: Ports,
    auth: &HeaderValue,
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<()> {
    let handle = format!("88.118.8/K{cycle}-M{n}");
    let body = values_json(&format!("https://crash.example/{handle}"), "m0").to_string();
    let (status, _) = http(
        ports.http,
        "PUT",
        &format!("/api/handles/{handle}?overwrite=false"),
        Some(auth),
        Some(body.into_bytes()),
    )
    .await?;
    if status != 201 {
        return Ok(());
    }
    {
        let mut ledger = lock(ledger);
        ledger.acked += 1;
        ledger.handles.insert(
            handle.clone(),
            Expected {
                desc: "m0".to_owned(),
                in_flight: None,
            },
        );
    }
    for k in 1..=5 {
        let text = format!("m{k}");
        lock(ledger)
            .handles
            .get_mut(&handle)
            .expect("created")
            .in_flight = Some(text.clone());
        let body = json!({"values": [{"index": 2, "type": "DESC",
                                      "data": {"format": "string", "value": text}}]})
        .to_string();
        let (status, _) = http(
            ports.http,
            "PUT",
            &format!("/api/handles/{handle}?index=2&overwrite=true"),
            Some(auth),
            Some(body.into_bytes()),
        )
        .await?;
        let mut ledger = lock(ledger);
        let expected = ledger.handles.get_mut(&handle).expect("created");
        if status == 200 || status == 201 {
            expected.desc = text;
            expected.in_flight = None;
            ledger.acked += 1;
        } else {
            expected.in_flight = None;
        }
    }
    Ok(())
}

/// A CAS-like number with a correct check digit, unique per `n`.
pub(super) fn cas(n: usize) -> String {
    let base = format!("{}{:02}", 2_000_000 + n / 100, n % 100);
    let digits: Vec<u32> = base.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| d * (i as u32 + 1))
        .sum();
    format!(
        "{}-{}-{}",
        &base[..base.len() - 2],
        &base[base.len() - 2..],
        sum % 10
    )
}

fn snms_product(handle: &str, name: &str, cas: &str) -> Value {
    let item = |index: u32, id_type: &str, value: &str| json!({"index": index, "type": id_type, "data": {"format": "string", "value": value}});
    json!({"handle": handle, "templateVersion": "hazchem.product@1", "value": [
        item(2000, "productName", name),
        item(2001, "casNo", &format!("[\"{cas}\"]")),
        item(2010, "manufacturer", MAKER),
    ]})
}

async fn snms_batch(
    cycle: usize,
    n: usize,
    ports: Ports,
    auth: &HeaderValue,
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<()> {
    let items: Vec<(String, String)> = (0..10)
        .map(|i| {
            let serial = (cycle * 1000 + n) * 10 + i;
            (format!("88.118.8/P.K{cycle}-S{n}-{i}"), cas(serial))
        })
        .collect();
    let body = Value::Array(
        items
            .iter()
            .map(|(handle, cas)| snms_product(handle, &format!("crash product {handle}"), cas))
            .collect(),
    );
    lock(ledger).creates_in_flight += items.len();
    let (status, reply) = http(
        ports.http,
        "POST",
        "/identityv2/data/batchCreate",
        Some(auth),
        Some(body.to_string().into_bytes()),
    )
    .await?;
    let mut ledger = lock(ledger);
    ledger.creates_in_flight -= items.len();
    if status != 200 {
        return Ok(());
    }
    let answer: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    for (result, (handle, cas)) in answer["data"].as_array().into_iter().flatten().zip(&items) {
        if result["code"] == 1 {
            ledger.acked += 1;
            ledger.registered.push((handle.clone(), cas.clone()));
        }
    }
    Ok(())
}

/// A native request message.
fn native_request(body: Body, request_id: u32, session_id: u32) -> Vec<u8> {
    let opcode = body.request_opcode().expect("a request body");
    let mut header = Header::request(opcode);
    header.expiration = 2_000_000_000;
    let envelope = Envelope {
        version: Version::V2_11,
        suggested: Version::V2_11,
        request_id,
        session_id,
        ..Envelope::default()
    };
    Message::new(envelope, header, body).to_bytes()
}

async fn read_native(stream: &mut TcpStream) -> anyhow::Result<Message> {
    let mut envelope = [0u8; 20];
    stream.read_exact(&mut envelope).await?;
    let len = u32::from_be_bytes([envelope[16], envelope[17], envelope[18], envelope[19]]);
    let mut bytes = envelope.to_vec();
    bytes.resize(20 + len as usize, 0);
    stream.read_exact(&mut bytes[20..]).await?;
    Ok(wire::decode(&bytes)?.message)
}

/// Creates a handle over native TCP, answering the challenge with the secret.
async fn native_create(
    cycle: usize,
    n: usize,
    ports: Ports,
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<()> {
    let handle = format!("88.118.8/K{cycle}-N{n}");
    let admin = ValueRef::parse(ADMIN).expect("identity");
    let values = vec![
        HandleValue::new(
            100,
            "HS_ADMIN",
            AdminRecord {
                perms: AdminPerms(0x0FFF),
                admin: admin.clone(),
            }
            .to_bytes(),
        ),
        HandleValue::new(
            1,
            "URL",
            format!("https://crash.example/{handle}").into_bytes(),
        ),
        HandleValue::new(2, "DESC", b"n0".to_vec()),
    ];
    let mut stream = TcpStream::connect(ports.native).await?;
    lock(ledger).creates_in_flight += 1;
    let create = Body::CreateHandle(ValuesRequest {
        handle: handle.clone(),
        values,
    });
    stream.write_all(&native_request(create, 1, 0)).await?;
    let challenge = read_native(&mut stream).await?;
    let answer = match (&challenge.body, &challenge.request_digest) {
        (Body::Challenge { nonce }, Some(digest)) => {
            let m = [nonce.as_slice(), digest.digest.as_slice()].concat();
            let mut response = vec![0x13];
            response.extend_from_slice(&mac::hmac_sha256(SECRET.as_bytes(), &m));
            Body::ChallengeAnswer(ChallengeAnswer {
                auth_type: HS_SECKEY.into(),
                identity: admin,
                response,
            })
        }
        _ => bail!("no challenge: {:?}", challenge.header.response_code),
    };
    stream
        .write_all(&native_request(answer, 2, challenge.envelope.session_id))
        .await?;
    let done = read_native(&mut stream).await?;
    let mut ledger = lock(ledger);
    ledger.creates_in_flight -= 1;
    if done.header.response_code == ResponseCode::Success {
        ledger.acked += 1;
        ledger.handles.insert(
            handle,
            Expected {
                desc: "n0".to_owned(),
                in_flight: None,
            },
        );
    }
    Ok(())
}

async fn capture(
    cycle: usize,
    n: usize,
    ports: Ports,
    auth: &HeaderValue,
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<()> {
    let document = capture_document(cycle * 10_000 + n, 5);
    let slot = {
        let mut ledger = lock(ledger);
        ledger.captures_in_flight.push((document.clone(), 5));
        ledger.captures_in_flight.len() - 1
    };
    let (status, reply) = http(
        ports.http,
        "POST",
        "/epcis/capture",
        Some(auth),
        Some(document.clone()),
    )
    .await?;
    let mut ledger = lock(ledger);
    // Answered: no longer in flight, whatever the answer.
    ledger.captures_in_flight.swap_remove(slot);
    if status == 201 {
        let answer: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        let indexes: Vec<u64> = answer["receipts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["index"].as_u64())
            .collect();
        ledger.acked += indexes.len();
        ledger.captures.push((document, indexes));
    }
    Ok(())
}
