//! What the server counts for its operator, served as `GET /metrics` on a
//! listener of its own (`--metrics-listen`), never on the API's: the API may
//! face the internet, the numbers are for the monitoring network only.
//!
//! Label values are bounded so that no client can grow the series without
//! end: a route is its template (`/v1/records/{collection}/{id}/history`),
//! never the raw path, and every path no route matches is one `unmatched`;
//! a collection label is only ever a collection of the schema.
//!
//! The text is OpenMetrics (`prometheus-client`), which Prometheus reads.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_protocol::Status;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use crate::AppState;

/// How often the sampled gauges (records and history rows per collection)
/// are read from the database by default.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectionLabels {
    pub collection: String,
}

/// Latency buckets from 1 ms to about 33 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every series the server keeps, in one registry per [`AppState`].
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    push_duration: Histogram,
    pull_duration: Histogram,
    mutations: Family<OutcomeLabels, Counter>,
    event_streams: Gauge,
    store_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pool_connections: Family<PoolLabels, Gauge>,
    login_failures: Family<ReasonLabels, Counter>,
    records: Family<CollectionLabels, Gauge>,
    history_rows: Family<CollectionLabels, Gauge>,
    compacted_versions: Counter,
    forgotten_records: Counter,
    horizon: Gauge,
    /// Pushes of the last minutes, for the console's health page.
    recent_pushes: std::sync::Mutex<std::collections::VecDeque<PushMinute>>,
}

/// Minutes of pushes the console's health page shows.
pub const RECENT_MINUTES: usize = 15;

/// Pushes answered in one minute (Unix minute), and their latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PushMinute {
    pub minute: i64,
    pub pushes: u64,
    pub total_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ferry");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let push_duration = latency();
        registry.register_with_unit(
            "push_duration",
            "Time to answer POST /v1/push, body and authentication included",
            Unit::Seconds,
            push_duration.clone(),
        );
        let pull_duration = latency();
        registry.register_with_unit(
            "pull_duration",
            "Time to answer GET /v1/changes (a pull page)",
            Unit::Seconds,
            pull_duration.clone(),
        );
        let mutations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "mutations",
            "Pushed mutations by outcome: applied, merged, conflict, rejected",
            mutations.clone(),
        );
        let event_streams = Gauge::default();
        registry.register(
            "event_streams_open",
            "Event streams (GET /v1/events) open now",
            event_streams.clone(),
        );
        let store_duration: Family<OperationLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency);
        registry.register_with_unit(
            "store_query_duration",
            "Time of each store operation, by operation",
            Unit::Seconds,
            store_duration.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "PostgreSQL pool connections: in_use, idle, max; waiting = requests waiting for one",
            pool_connections.clone(),
        );
        let login_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "login_failures",
            "Refused logins: bad_credentials, rate_limited",
            login_failures.clone(),
        );
        let records = Family::<CollectionLabels, Gauge>::default();
        registry.register(
            "records",
            "Records per collection, deleted ones included (sampled)",
            records.clone(),
        );
        let history_rows = Family::<CollectionLabels, Gauge>::default();
        registry.register(
            "history_rows",
            "Stored history rows per collection (sampled)",
            history_rows.clone(),
        );
        let compacted_versions = Counter::default();
        registry.register(
            "compacted_versions",
            "Old versions history compaction removed (this process's compactions)",
            compacted_versions.clone(),
        );
        let forgotten_records = Counter::default();
        registry.register(
            "forgotten_records",
            "Deleted records history compaction forgot (this process's compactions)",
            forgotten_records.clone(),
        );
        let horizon = Gauge::default();
        registry.register(
            "history_horizon",
            "Change position below which a pull answers 410 cursor_expired, as of this process's last compaction",
            horizon.clone(),
        );
        Self {
            registry,
            compacted_versions,
            forgotten_records,
            horizon,
            http_requests,
            push_duration,
            pull_duration,
            mutations,
            event_streams,
            store_duration,
            pool_connections,
            login_failures,
            records,
            history_rows,
            recent_pushes: Default::default(),
        }
    }

    /// The pushes of the last [`RECENT_MINUTES`] minutes, oldest first, the
    /// minutes without any included (as of `now_minute`).
    pub fn recent_pushes(&self, now_minute: i64) -> Vec<PushMinute> {
        let recent = self
            .recent_pushes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = now_minute - RECENT_MINUTES as i64 + 1;
        (first..=now_minute)
            .map(|minute| {
                recent
                    .iter()
                    .find(|m| m.minute == minute)
                    .copied()
                    .unwrap_or(PushMinute {
                        minute,
                        pushes: 0,
                        total_ms: 0.0,
                        max_ms: 0.0,
                    })
            })
            .collect()
    }

    fn note_push(&self, took: Duration) {
        let minute = chrono::Utc::now().timestamp().div_euclid(60);
        let ms = took.as_secs_f64() * 1000.0;
        let mut recent = self
            .recent_pushes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match recent.back_mut() {
            Some(m) if m.minute == minute => {
                m.pushes += 1;
                m.total_ms += ms;
                m.max_ms = m.max_ms.max(ms);
            }
            _ => {
                recent.push_back(PushMinute {
                    minute,
                    pushes: 1,
                    total_ms: ms,
                    max_ms: ms,
                });
                while recent.len() > RECENT_MINUTES {
                    recent.pop_front();
                }
            }
        }
    }

    /// Event streams open now (in this process).
    pub fn open_streams(&self) -> i64 {
        self.event_streams.get()
    }

    /// The text exposition of every series.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Counts a request answered; push and pull also feed their histograms.
    pub fn observe_request(&self, route: &str, method: &str, status: StatusCode, took: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                method: method.to_string(),
                status: status.as_u16().to_string(),
            })
            .inc();
        match route {
            "/v1/push" => {
                self.push_duration.observe(took.as_secs_f64());
                self.note_push(took);
            }
            "/v1/changes" => self.pull_duration.observe(took.as_secs_f64()),
            _ => {}
        }
    }

    pub fn mutation(&self, status: Status) {
        let outcome = match status {
            Status::Applied => "applied",
            Status::Merged => "merged",
            Status::Conflict => "conflict",
            Status::Rejected => "rejected",
        };
        self.mutations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts what a compaction did.
    pub fn compacted(&self, report: &crate::store::compact::CompactReport) {
        self.compacted_versions.inc_by(report.versions_removed);
        self.forgotten_records.inc_by(report.records_forgotten);
        self.horizon.set(report.horizon);
    }

    pub fn login_failed(&self, reason: &'static str) {
        self.login_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn store_operation(&self, operation: &'static str, took: Duration) {
        self.store_duration
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// Counts an open event stream until the guard drops.
    pub fn stream_opened(&self) -> OpenStream {
        self.event_streams.inc();
        OpenStream(self.event_streams.clone())
    }

    fn set_pool(&self, usage: &crate::store::PoolUsage) {
        let as_gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (state, n) in [
            ("in_use", usage.size.saturating_sub(usage.idle)),
            ("idle", usage.idle),
            ("max", usage.max),
            ("waiting", usage.waiting),
        ] {
            self.pool_connections
                .get_or_create(&PoolLabels { state })
                .set(as_gauge(n));
        }
    }
}

/// An open event stream, counted in `ferry_event_streams_open` while it lives.
#[derive(Debug)]
pub struct OpenStream(Gauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware of the API router: counts each request by its route template
/// and times push and pull. Unknown paths are one label, whatever they were.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_string(), |m| m.as_str().to_string());
    let method = method_label(request.method()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .observe_request(&route, &method, response.status(), started.elapsed());
    response
}

/// The method as a label: a client may send any token as a method, so
/// every one the API does not use is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Reads the sampled gauges once: records and history rows of each
/// collection of the schema (a collection with none reads 0).
pub async fn sample(state: &AppState) {
    let collections = match state.store.collections().await {
        Ok(defs) => defs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot sample the collection sizes");
            return;
        }
    };
    let sizes = match state.store.collection_sizes().await {
        Ok(sizes) => sizes,
        Err(e) => {
            tracing::warn!(error = %e, "cannot sample the collection sizes");
            return;
        }
    };
    for def in &collections {
        let size = sizes.iter().find(|s| s.collection == def.name);
        let labels = CollectionLabels {
            collection: def.name.clone(),
        };
        state
            .metrics
            .records
            .get_or_create(&labels)
            .set(size.map_or(0, |s| s.records));
        state
            .metrics
            .history_rows
            .get_or_create(&labels)
            .set(size.map_or(0, |s| s.history_rows));
    }
}

/// Samples the collection sizes every `every` until `stop` turns true.
pub async fn sample_until_stopped(
    state: AppState,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopped = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = ticks.tick() => false,
        };
        if stopped {
            return;
        }
        sample(&state).await;
    }
}

async fn scrape(State(state): State<AppState>) -> Response {
    if let Some(usage) = state.store.pool_usage() {
        state.metrics.set_pool(&usage);
    }
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

/// Serves `GET /metrics` on its own listener, and samples the collection
/// sizes every `sample_every`, until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    sample_every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = tokio::spawn(sample_until_stopped(state.clone(), sample_every, stop_rx));
    let served = axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    let _ = sampler.await;
    served
}

/// Where `--metrics-listen` asks to serve the metrics: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    On(std::net::SocketAddr),
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(MetricsListen::Off);
        }
        s.parse()
            .map(MetricsListen::On)
            .map_err(|e| format!("{s:?} is neither an address (127.0.0.1:9187) nor \"off\": {e}"))
    }
}

impl<'de> serde::Deserialize<'de> for MetricsListen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_up_method_is_one_label() {
        let made_up = axum::http::Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&made_up), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }

    #[test]
    fn the_listen_address_may_be_off() {
        assert_eq!("off".parse::<MetricsListen>(), Ok(MetricsListen::Off));
        assert_eq!(
            "127.0.0.1:0".parse::<MetricsListen>(),
            Ok(MetricsListen::On(([127, 0, 0, 1], 0).into()))
        );
        assert!("nowhere".parse::<MetricsListen>().is_err());
    }

    #[test]
    fn the_exposition_parses_with_every_family() {
        let metrics = Metrics::new();
        metrics.observe_request("/v1/push", "POST", StatusCode::OK, Duration::from_millis(3));
        metrics.mutation(Status::Merged);
        metrics.login_failed("bad_credentials");
        let open = metrics.stream_opened();
        let text = metrics.encode().expect("encodes");
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("parses");
        let value = |name: &str, label: (&str, &str)| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
                .map(|s| s.value.clone())
        };
        // OpenMetrics types the family (`ferry_mutations`), so the parser
        // reads the `_total` sample as untyped.
        assert!(matches!(
            value("ferry_mutations_total", ("outcome", "merged")),
            Some(prometheus_parse::Value::Untyped(n) | prometheus_parse::Value::Counter(n)) if n == 1.0
        ));
        assert!(value("ferry_login_failures_total", ("reason", "bad_credentials")).is_some());
        assert!(value("ferry_http_requests_total", ("route", "/v1/push")).is_some());
        drop(open);
        metrics.compacted(&crate::store::compact::CompactReport {
            versions_removed: 12,
            records_forgotten: 3,
            horizon: 812,
        });
        let text = metrics.encode().expect("encodes");
        assert!(text.contains("ferry_event_streams_open 0"), "{text}");
        assert!(text.contains("ferry_compacted_versions_total 12"), "{text}");
        assert!(text.contains("ferry_forgotten_records_total 3"), "{text}");
        assert!(text.contains("ferry_history_horizon 812"), "{text}");
    }
}
