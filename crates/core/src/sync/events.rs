//! The `/v1/events` listener: a small Server-Sent Events parser and a loop
//! that turns each `changes` event into a sync trigger.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::api::Api;
use super::connectivity::Trigger;
use crate::error::{Error, Result};

/// One dispatched event: its type (`message` when unnamed) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Incremental SSE parser: feed it bytes as they arrive.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    let event = if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    };
                    out.push(SseEvent {
                        event,
                        data: self.data.join("\n"),
                    });
                }
                self.event.clear();
                self.data.clear();
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = value.to_string(),
                "data" => self.data.push(value.to_string()),
                _ => {}
            }
        }
        out
    }
}

/// Listens until the stream ends or fails; every `changes` event becomes a
/// [`Trigger::ServerEvent`]. The server sends a keep-alive comment every 15 s
/// (by default), so nothing at all for `silence` means the connection is
/// dead even though no error says so (a black hole): that is an error too.
pub(crate) async fn listen(
    api: &Api,
    triggers: &mpsc::Sender<Trigger>,
    silence: Duration,
) -> Result<()> {
    let silent = || Error::Unreachable {
        url: api.base().to_string(),
        detail: format!(
            "the event stream was silent for {} s",
            silence.as_secs_f64()
        ),
        kind: crate::error::ConnectionFailure::Timeout,
    };
    let response = tokio::time::timeout(silence, api.events())
        .await
        .map_err(|_| silent())??;
    let mut stream = response.bytes_stream();
    let mut parser = SseParser::default();
    loop {
        let Some(chunk) = tokio::time::timeout(silence, stream.next())
            .await
            .map_err(|_| silent())?
        else {
            break;
        };
        let chunk = chunk.map_err(|e| Error::Unreachable {
            url: api.base().to_string(),
            detail: e.to_string(),
            kind: crate::error::ConnectionFailure::of(&e),
        })?;
        for event in parser.push(&chunk) {
            if event.event == "changes" {
                tracing::debug!(data = %event.data, "server event");
                if triggers.send(Trigger::ServerEvent).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks_and_skips_comments() {
        let mut p = SseParser::default();
        assert!(p.push(b": connected\n\nevent: chan").is_empty());
        let events =
            p.push(b"ges\r\ndata: {\"cursor\":\"4\"}\n\n:keep-alive\n\ndata: a\ndata: b\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "changes".into(),
                    data: "{\"cursor\":\"4\"}".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "a\nb".into()
                },
            ]
        );
    }
}
