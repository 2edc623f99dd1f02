use std::collections::HashSet;
use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use ferry_protocol::ChangesEvent;
use futures::Stream;
use tokio::sync::{broadcast, watch};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::events::Commit;
use crate::store::TokenHash;

struct Listener {
    state: AppState,
    token: TokenHash,
    user_id: uuid::Uuid,
    readable: HashSet<String>,
    commits: broadcast::Receiver<Commit>,
    shutdown: watch::Receiver<bool>,
    greeted: bool,
}

impl Listener {
    fn sees(&self, commit: &Commit) -> bool {
        commit.collections.iter().any(|c| self.readable.contains(c))
    }

    /// The next event to send, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if !self.greeted {
            self.greeted = true;
            return Some(Event::default().comment("connected"));
        }
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            let commit = tokio::select! {
                _ = self.shutdown.changed() => return None,
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
            // A revoked token or grant ends or narrows the stream at the next commit.
            match self.state.store.session(&self.token).await {
                Ok(Some(_)) => {}
                _ => return None,
            }
            if let Ok(readable) = self.state.readable_collections(self.user_id).await {
                self.readable = readable.into_iter().collect();
            }
            if !self.sees(&commit) {
                continue;
            }
            let data = serde_json::to_string(&ChangesEvent {
                cursor: commit.cursor,
            })
            .ok()?;
            return Some(Event::default().event("changes").data(data));
        }
    }
}

/// Server-Sent Events: `event: changes` with `data: {"cursor":"…"}` after
/// each commit the user may see, and a comment line every 15 s.
#[utoipa::path(get, path = "/v1/events", tag = "sync", security(("bearer" = [])),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream", body = ChangesEvent),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let readable = state
        .readable_collections(auth.session.user_id)
        .await?
        .into_iter()
        .collect();
    let listener = Listener {
        commits: state.events.subscribe(),
        shutdown: state.shutdown.clone(),
        state: state.clone(),
        token: auth.token,
        user_id: auth.session.user_id,
        readable,
        greeted: false,
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
