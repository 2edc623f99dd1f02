use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use ferry_protocol::ChangesEvent;
use futures::Stream;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::events::{Commit, StreamSlot};
use crate::store::TokenHash;

/// Least time between two events of one stream: commits that come faster
/// are told together, with the latest cursor, so that a busy server checks
/// each stream's token and grants a few times a second, not once per commit.
const COALESCE: Duration = Duration::from_millis(100);

struct Listener {
    state: AppState,
    token: TokenHash,
    user_id: uuid::Uuid,
    username: String,
    view: crate::rules::View,
    commits: broadcast::Receiver<Commit>,
    shutdown: watch::Receiver<bool>,
    /// Ends the stream when the user opens too many newer ones.
    slot: StreamSlot,
    /// Counts the stream in `ferry_event_streams_open` while it is open.
    _open: crate::metrics::OpenStream,
    greeted: bool,
    last_sent: Option<tokio::time::Instant>,
}

impl Listener {
    fn sees(&self, commit: &Commit) -> bool {
        commit
            .collections
            .iter()
            .any(|c| match self.view.get(c).map(|v| &v.read) {
                None => false,
                Some(crate::rules::Scope::All) => true,
                Some(crate::rules::Scope::Values(values)) => commit
                    .parts
                    .get(c)
                    .is_none_or(|parts| parts.iter().any(|p| values.contains(p))),
            })
    }

    /// Whether the stream's token still opens a session.
    async fn signed_in(&self) -> bool {
        matches!(self.state.store.session(&self.token).await, Ok(Some(_)))
    }

    /// The next event to send, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if !self.greeted {
            self.greeted = true;
            return Some(Event::default().comment("connected"));
        }
        loop {
            if *self.shutdown.borrow() || self.slot.ended.has_changed().is_err() {
                return None;
            }
            let commit = tokio::select! {
                _ = self.shutdown.changed() => return None,
                _ = self.slot.ended.changed() => return None,
                // A device signed out elsewhere (another process too) is heard of while idle.
                () = tokio::time::sleep(self.state.limits.session_check) => {
                    if !self.signed_in().await {
                        return None;
                    }
                    continue;
                }
                msg = self.commits.recv() => match msg {
                    Ok(commit) => commit,
                    // Dropped notifications are covered by the next one: a cursor is a high-water mark.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            if !self.sees(&commit) {
                continue;
            }
            let mut commit = commit;
            if let Some(at) = self.last_sent {
                tokio::select! {
                    _ = self.shutdown.changed() => return None,
                    _ = self.slot.ended.changed() => return None,
                    _ = tokio::time::sleep_until(at + COALESCE) => {}
                }
            }
            // Everything committed meanwhile goes into this one event.
            loop {
                match self.commits.try_recv() {
                    Ok(more) => merge(&mut commit, more),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
            // A revoked token or grant ends or narrows the stream at the next commit.
            if !self.signed_in().await {
                return None;
            }
            if let Ok(view) = self.state.view_of(self.user_id, &self.username).await {
                self.view = view;
            }
            if !self.sees(&commit) {
                continue;
            }
            let data = serde_json::to_string(&ChangesEvent {
                cursor: commit.cursor.to_string(),
            })
            .ok()?;
            self.last_sent = Some(tokio::time::Instant::now());
            return Some(Event::default().event("changes").data(data));
        }
    }
}

/// `commit` and a later one as one: the higher cursor, both sets of collections.
fn merge(commit: &mut Commit, later: Commit) {
    commit.cursor = commit.cursor.max(later.cursor);
    for c in later.collections {
        if !commit.collections.contains(&c) {
            commit.collections.push(c);
        }
    }
    for (c, parts) in later.parts {
        commit.parts.entry(c).or_default().extend(parts);
    }
}

/// Server-Sent Events: `event: changes` with `data: {"cursor":"…"}` after
/// each commit the user may see, and a comment line every 15 s. A user has
/// at most `Limits::max_event_streams` open: one more ends their oldest.
#[utoipa::path(get, path = "/v1/events", tag = "sync", security(("bearer" = [])),
    responses(
        (status = 200, description = "An event stream; it ends when the same user opens more than the server's limit of streams (8 by default)", content_type = "text/event-stream", body = ChangesEvent),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let view = state.view(&auth.session).await?;
    let slot = state.streams.open(auth.session.user_id);
    let listener = Listener {
        slot,
        _open: state.metrics.stream_opened(),
        commits: state.events.subscribe(),
        shutdown: state.shutdown.clone(),
        state: state.clone(),
        token: auth.token,
        user_id: auth.session.user_id,
        username: auth.session.username.clone(),
        view,
        greeted: false,
        last_sent: None,
    };
    let stream = futures::stream::unfold(listener, |mut l| async move {
        let event = l.next().await?;
        Some((Ok(event), l))
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(state.limits.keepalive)
            .text("keep-alive"),
    ))
}
