//! The crowd of `ferry-bench scale`: every client holds an event stream
//! (`GET /v1/events`); the first `active` of them also push a small batch
//! at a pace and pull when told of a commit, as the desktop app does. The
//! others only listen, as laptops left open do.
//!
//! Event delivery is worked out after the run, for every push and every
//! other client: a push's answer says where its writes sit in the change
//! feed (`written.cursor`), each event says which position it covers, so a
//! push reached a client with that client's first event at or past its
//! last write. Every stream counts, not only the ones that pull.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_protocol::{Fields, Hlc, Mutation, Op, PushRequest};
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use crate::dataset::{COLLECTION, ms, quantile};

/// Mutations per push: a small batch, as one person's edits are.
pub const BATCH: usize = 10;
/// Records per pull page: what ferry-core asks for.
pub const PULL_PAGE: usize = 2000;
/// Streams stay open this long after the last push, for its events to arrive.
const GRACE: Duration = Duration::from_secs(5);
/// How long every stream has to open before the measurement starts.
const OPEN_DEADLINE: Duration = Duration::from_secs(120);

pub struct Crowd {
    pub active: usize,
    pub secs: u64,
    pub pace: Duration,
}

/// One push: who sent it, when, and the feed position of its last write.
struct Push {
    client: usize,
    sent: Instant,
    seq: i64,
}

#[derive(Default)]
struct Shared {
    pushes: Mutex<Vec<Push>>,
    push_times: Mutex<Vec<Duration>>,
    pages: Mutex<Vec<Duration>>,
    catch_up: Mutex<Vec<Duration>>,
    connected: AtomicUsize,
    events: AtomicU64,
    pulled: AtomicU64,
    errors: crate::harness::Errors,
}

impl Shared {
    fn sample(list: &Mutex<Vec<Duration>>, d: Duration) {
        list.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }

    fn take(list: &Mutex<Vec<Duration>>) -> Vec<Duration> {
        std::mem::take(&mut *list.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Round-robin over the server processes.
struct Servers {
    bases: Vec<String>,
    next: AtomicU64,
}

impl Servers {
    fn pick(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        &self.bases[i % self.bases.len()]
    }
}

/// Runs the crowd against `bases` (one token per client), all of them
/// starting at feed position `head`; returns its figures and the feed
/// position it last saw.
pub async fn drive(
    bases: &[String],
    tokens: &[String],
    head: i64,
    crowd: &Crowd,
) -> anyhow::Result<(Value, i64)> {
    let shared = Arc::new(Shared::default());
    let servers = Arc::new(Servers {
        bases: bases.to_vec(),
        next: AtomicU64::new(0),
    });
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(60))
        .build()?;
    // No overall timeout: a stream lasts the whole run.
    let streams_http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;
    let (stop, stopped) = watch::channel(false);

    // Every client's stream, spread over the processes; the active ones
    // wake their puller with each event's position.
    let opening = Instant::now();
    let mut streams = Vec::with_capacity(tokens.len());
    let mut wakers = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let (wake, woken) = watch::channel(head);
        if i < crowd.active {
            wakers.push(woken);
        }
        let base = bases[i % bases.len()].clone();
        let (http, shared, stopped) = (streams_http.clone(), shared.clone(), stopped.clone());
        let auth = format!("Bearer {token}");
        streams.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            if let Err(e) = listen(&http, &base, &auth, &shared, stopped, &wake, &mut seen).await {
                shared.errors.add(format!("event stream {i}: {e:#}"));
            }
            seen
        }));
    }
    let deadline = Instant::now() + OPEN_DEADLINE;
    while shared.connected.load(Ordering::Relaxed) < tokens.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let streams_open = shared.connected.load(Ordering::Relaxed);
    let open_secs = opening.elapsed().as_secs_f64();
    if streams_open < tokens.len() {
        shared.errors.add(format!(
            "only {streams_open} of {} event streams opened within {} s",
            tokens.len(),
            OPEN_DEADLINE.as_secs()
        ));
    }

    let start = Instant::now();
    let end = start + Duration::from_secs(crowd.secs);
    let mut actives = Vec::new();
    for (i, woken) in wakers.into_iter().enumerate() {
        let offset = crowd.pace.mul_f64(i as f64 / crowd.active.max(1) as f64);
        // A page from somewhere in the seeded records: a laptop back from a
        // long trip, catching up.
        let since = head * i as i64 / crowd.active.max(1) as i64;
        actives.push(tokio::spawn(active(Active {
            me: i,
            auth: format!("Bearer {}", tokens[i]),
            http: http.clone(),
            servers: servers.clone(),
            shared: shared.clone(),
            head,
            since,
            end,
            offset,
            pace: crowd.pace,
            woken,
        })));
    }
    for task in actives {
        if let Err(e) = task.await {
            shared.errors.add(format!("client task: {e}"));
        }
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(end + GRACE)).await;
    let _ = stop.send(true);
    let mut seen: Vec<Vec<(i64, Instant)>> = Vec::with_capacity(streams.len());
    for task in streams {
        match task.await {
            Ok(s) => seen.push(s),
            Err(e) => {
                shared.errors.add(format!("stream task: {e}"));
                seen.push(Vec::new());
            }
        }
    }
    let secs = (Instant::now().min(end) - start).as_secs_f64();

    let pushes = std::mem::take(&mut *shared.pushes.lock().unwrap_or_else(|e| e.into_inner()));
    let (mut delivery, undelivered) = deliveries(&pushes, &seen);
    let last_seen = seen
        .iter()
        .flat_map(|s| s.iter().map(|(c, _)| *c))
        .chain(pushes.iter().map(|p| p.seq))
        .fold(head, i64::max);
    let mut push_times = Shared::take(&shared.push_times);
    let mut pages = Shared::take(&shared.pages);
    let mut catch_up = Shared::take(&shared.catch_up);
    let (errors, first_error) = shared.errors.report();
    let figures = json!({
        "processes": bases.len(),
        "streams_open": streams_open,
        "streams_open_secs": (open_secs * 10.0).round() / 10.0,
        "pushes": push_times.len(),
        "mutations_per_s": ((push_times.len() * BATCH) as f64 / secs.max(1e-9)).round(),
        "push_p50_ms": ms(quantile(&mut push_times, 0.5)),
        "push_p99_ms": ms(quantile(&mut push_times, 0.99)),
        "pull_pages": pages.len(),
        "pull_page_p50_ms": ms(quantile(&mut pages, 0.5)),
        "pull_page_p99_ms": ms(quantile(&mut pages, 0.99)),
        "records_pulled": shared.pulled.load(Ordering::Relaxed),
        "catch_up_pages": catch_up.len(),
        "catch_up_page_p50_ms": ms(quantile(&mut catch_up, 0.5)),
        "catch_up_page_p99_ms": ms(quantile(&mut catch_up, 0.99)),
        "events": shared.events.load(Ordering::Relaxed),
        "delivery_samples": delivery.len(),
        "event_delivery_p50_ms": ms(quantile(&mut delivery, 0.5)),
        "event_delivery_p99_ms": ms(quantile(&mut delivery, 0.99)),
        "event_delivery_max_ms": ms(delivery.last().copied().unwrap_or_default()),
        "undelivered": undelivered,
        "errors": errors,
        "first_error": first_error,
    });
    Ok((figures, last_seen))
}

/// For each push and each other client, the time from sending the push to
/// that client's first event covering it; and how many such pairs never
/// got an event before the streams closed.
fn deliveries(pushes: &[Push], seen: &[Vec<(i64, Instant)>]) -> (Vec<Duration>, usize) {
    let mut out = Vec::with_capacity(pushes.len() * seen.len());
    let mut missing = 0;
    for (client, events) in seen.iter().enumerate() {
        // The highest position told so far, event by event.
        let mut high = i64::MIN;
        let told: Vec<i64> = events
            .iter()
            .map(|(c, _)| {
                high = high.max(*c);
                high
            })
            .collect();
        for p in pushes.iter().filter(|p| p.client != client) {
            let k = told.partition_point(|t| *t < p.seq);
            match events.get(k) {
                Some((_, at)) => out.push(at.saturating_duration_since(p.sent)),
                None => missing += 1,
            }
        }
    }
    (out, missing)
}

/// Reads an event stream until told to stop, noting each event's position.
async fn listen(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    shared: &Shared,
    mut stopped: watch::Receiver<bool>,
    wake: &watch::Sender<i64>,
    seen: &mut Vec<(i64, Instant)>,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let resp = http
        .get(format!("{base}/v1/events"))
        .header("authorization", auth)
        .send()
        .await?
        .error_for_status()?;
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut connected = false;
    loop {
        let chunk = tokio::select! {
            c = body.next() => c,
            _ = stopped.changed() => return Ok(()),
        };
        let Some(chunk) = chunk else {
            bail!("the server ended the stream");
        };
        buf.extend_from_slice(&chunk?);
        if !connected {
            connected = true;
            shared.connected.fetch_add(1, Ordering::Relaxed);
        }
        while let Some(i) = buf.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buf.drain(..i + 2).collect();
            if let Some(cursor) = changes_cursor(&frame)? {
                seen.push((cursor, Instant::now()));
                shared.events.fetch_add(1, Ordering::Relaxed);
                wake.send_replace(cursor);
            }
        }
    }
}

/// The feed position of a `changes` event; `None` for comments.
fn changes_cursor(frame: &[u8]) -> anyhow::Result<Option<i64>> {
    let text = std::str::from_utf8(frame).context("an event that is not UTF-8")?;
    if !text.starts_with("event: changes") {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Changes {
        cursor: String,
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .context("a changes event without data")?;
    let changes: Changes = serde_json::from_str(data.trim())?;
    Ok(Some(position(&changes.cursor)?))
}

/// The position a cursor names (a cursor mid-walk carries more after `~`).
fn position(cursor: &str) -> anyhow::Result<i64> {
    let seq = cursor.split('~').next().unwrap_or_default();
    seq.parse()
        .with_context(|| format!("a cursor that is not a position: {cursor:?}"))
}

struct Active {
    me: usize,
    auth: String,
    http: reqwest::Client,
    servers: Arc<Servers>,
    shared: Arc<Shared>,
    head: i64,
    since: i64,
    end: Instant,
    offset: Duration,
    pace: Duration,
    woken: watch::Receiver<i64>,
}

/// An active client: one catch-up page, then pushes at its pace while its
/// puller follows its events.
async fn active(a: Active) {
    let Active {
        me,
        auth,
        http,
        servers,
        shared,
        head,
        since,
        end,
        offset,
        pace,
        mut woken,
    } = a;
    let t = Instant::now();
    match page(&http, servers.pick(), &auth, &since.to_string()).await {
        Ok(p) if p.changes > 0 => Shared::sample(&shared.catch_up, t.elapsed()),
        Ok(_) => shared
            .errors
            .add(format!("the catch-up page from {since} was empty")),
        Err(e) => shared.errors.add(format!("catch-up page: {e:#}")),
    }
    let puller = {
        let (http, auth, shared, servers) =
            (http.clone(), auth.clone(), shared.clone(), servers.clone());
        tokio::spawn(async move {
            let mut cursor = head.to_string();
            let until = tokio::time::Instant::from_std(end);
            loop {
                tokio::select! {
                    changed = woken.changed() => if changed.is_err() { break },
                    _ = tokio::time::sleep_until(until) => break,
                }
                loop {
                    let t = Instant::now();
                    match page(&http, servers.pick(), &auth, &cursor).await {
                        Ok(p) => {
                            Shared::sample(&shared.pages, t.elapsed());
                            shared.pulled.fetch_add(p.changes as u64, Ordering::Relaxed);
                            cursor = p.cursor;
                            if !p.has_more {
                                break;
                            }
                        }
                        Err(e) => {
                            shared.errors.add(format!("pull: {e:#}"));
                            break;
                        }
                    }
                }
            }
        })
    };
    tokio::time::sleep(offset).await;
    let mut n = 0usize;
    let mut next = Instant::now();
    while next < end {
        let body = match push_body(me, &mut n) {
            Ok(b) => b,
            Err(e) => {
                shared.errors.add(format!("encode: {e:#}"));
                break;
            }
        };
        let sent = Instant::now();
        match push(&http, servers.pick(), &auth, body).await {
            Ok(seq) => {
                Shared::sample(&shared.push_times, sent.elapsed());
                shared
                    .pushes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Push {
                        client: me,
                        sent,
                        seq,
                    });
            }
            Err(e) => shared.errors.add(format!("push: {e:#}")),
        }
        next += pace;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    if let Err(e) = puller.await {
        shared.errors.add(format!("puller task: {e}"));
    }
}

const STATUSES: [&str; 3] = ["todo", "doing", "done"];

/// A push of `BATCH` small new records.
fn push_body(me: usize, n: &mut usize) -> anyhow::Result<Vec<u8>> {
    let hlc = Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "scale").context("stamp")?;
    let mutations = (0..BATCH)
        .map(|_| {
            *n += 1;
            let fields: Fields = json!({
                "title": format!("Client {me} item {n}"),
                "status": STATUSES[*n % 3],
                "priority": *n % 5 + 1,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            Mutation {
                mutation_id: Uuid::now_v7(),
                collection: COLLECTION.into(),
                record_id: Uuid::now_v7(),
                op: Op::Put,
                base_version: None,
                base: Fields::new(),
                fields,
                hlc: hlc.clone(),
            }
        })
        .collect();
    Ok(serde_json::to_vec(&PushRequest { mutations })?)
}

/// Sends a push; fails unless every mutation was applied. Returns the
/// feed position of its last write.
async fn push(
    http: &reqwest::Client,
    base: &str,
    auth: &str,
    body: Vec<u8>,
) -> anyhow::Result<i64> {
    let answer = crate::harness::push_applied(http, base, auth, body).await?;
    if answer.results != BATCH {
        bail!("{} results for {BATCH} mutations", answer.results);
    }
    position(&answer.written.context("a push that wrote nothing")?)
}

struct Page {
    changes: usize,
    cursor: String,
    has_more: bool,
}

/// One page of changes after `since`; only its framing is read.
async fn page(http: &reqwest::Client, base: &str, auth: &str, since: &str) -> anyhow::Result<Page> {
    let body = http
        .get(format!("{base}/v1/changes?since={since}&limit={PULL_PAGE}"))
        .header("authorization", auth)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    #[derive(serde::Deserialize)]
    struct Wire {
        changes: Vec<serde::de::IgnoredAny>,
        cursor: String,
        has_more: bool,
    }
    let wire: Wire = serde_json::from_slice(&body)?;
    Ok(Page {
        changes: wire.changes.len(),
        cursor: wire.cursor,
        has_more: wire.has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_reaches_a_client_with_its_first_event_past_the_write() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let pushes = [
            Push {
                client: 0,
                sent: at(0),
                seq: 10,
            },
            Push {
                client: 1,
                sent: at(5),
                seq: 20,
            },
        ];
        // Client 0 hears of 10 then 20; client 1 of 15 (covers 10) only;
        // client 2 of nothing.
        let seen = vec![vec![(10, at(30)), (20, at(50))], vec![(15, at(40))], vec![]];
        let (mut d, missing) = deliveries(&pushes, &seen);
        d.sort();
        // 0's push: client 1 at 40; 1's push: client 0 at 50 (45 after).
        assert_eq!(
            d,
            vec![Duration::from_millis(40), Duration::from_millis(45)]
        );
        // Client 2 heard of neither; nobody's own push counts.
        assert_eq!(missing, 2);
    }

    #[test]
    fn events_give_their_position() -> anyhow::Result<()> {
        assert_eq!(
            changes_cursor(b"event: changes\ndata: {\"cursor\":\"42\"}\n\n")?,
            Some(42)
        );
        assert_eq!(changes_cursor(b": connected\n\n")?, None);
        assert_eq!(position("7~3~5")?, 7);
        Ok(())
    }
}
