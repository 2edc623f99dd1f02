//! Commits of every process, told to this one's event streams: LISTEN on a
//! connection of its own for the notifications pushes send on commit.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::NoTls;

use super::CHANNEL;
use crate::events::{Commit, Events};
use crate::store::Cursor;

/// Listens for commit notifications on a connection of its own and
/// publishes them to this process's event streams; reconnects when the
/// connection is lost, then tells every stream to pull (commits may have
/// been missed meanwhile).
pub(super) async fn relay(config: tokio_postgres::Config, pool: Pool, events: Events) {
    let mut backoff = Duration::from_millis(100);
    let mut lost = false;
    loop {
        match listen(&config, &pool, &events, lost).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %e, "event listener connection failed; retrying");
            }
        }
        lost = true;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    pool: &Pool,
    events: &Events,
    after_loss: bool,
) -> Result<(), tokio_postgres::Error> {
    use futures::StreamExt;
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(msg) = messages.next().await {
            match msg {
                Ok(m) => {
                    if tx.send(m).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener connection lost");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    if after_loss {
        // Streams learn of anything committed while nobody listened.
        catch_up(pool, events).await;
    }
    while let Some(msg) = rx.recv().await {
        if let tokio_postgres::AsyncMessage::Notification(n) = msg
            && n.channel() == CHANNEL
        {
            #[derive(serde::Deserialize)]
            struct Payload {
                cursor: String,
                collections: Vec<String>,
                #[serde(default)]
                parts: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
            }
            // Only ferry-server processes send on the channel; anything else is not a commit.
            match serde_json::from_str::<Payload>(n.payload()) {
                Ok(p) => match Cursor::parse(&p.cursor) {
                    Some(cursor) => events.publish(Commit {
                        cursor,
                        collections: p.collections,
                        parts: p.parts,
                    }),
                    None => {
                        tracing::warn!(cursor = %p.cursor, "commit notification with a malformed cursor; ignored")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "unreadable commit notification; ignored"),
            }
        }
    }
    driver.abort();
    drop(client);
    Ok(())
}

async fn catch_up(pool: &Pool, events: &Events) {
    let Ok(client) = pool.get().await else {
        return;
    };
    let Ok(rows) = client
        .query(
            "SELECT (SELECT value FROM change_seq), name FROM collections",
            &[],
        )
        .await
    else {
        return;
    };
    if let Some(first) = rows.first() {
        events.publish(Commit {
            cursor: Cursor(first.get(0)),
            collections: rows.iter().map(|r| r.get(1)).collect(),
            parts: Default::default(),
        });
    }
}
