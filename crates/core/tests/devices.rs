//! A device cut off from the server keeps what waits on it: signed out from
//! another device (revoked) or with its session expired, its sync fails
//! saying why, its edits stay in the outbox, and after signing in again as
//! the same user they are sent, each once.

mod common;

use std::time::Duration;

use common::{Client, TestServer, fields};
use ferry_core::{AuthFailure, Error};
use serde_json::json;

/// Alice's laptop, with an edit waiting, loses its session by `cut`; the
/// sync says `why`; signing in again sends the edit once.
async fn kept_across(server: TestServer, why: AuthFailure) {
    let alice = Client::login(&server, "alice").await;
    alice.sync().await;
    let id = alice
        .store()
        .create("tasks", fields(json!({"title": "Written before the cut"})))
        .expect("create");
    match why {
        AuthFailure::Revoked => {
            server.revoke_device("alice-test", false).await;
        }
        // The test server keeps sessions for 2 s unused.
        _ => tokio::time::sleep(Duration::from_millis(2500)).await,
    }
    match alice.engine.sync().await {
        Err(Error::AuthFailed { why: got }) => assert_eq!(got, why),
        other => panic!("expected the sign-in refused, got {other:?}"),
    }
    assert_eq!(alice.store().outbox(10).expect("outbox").len(), 1);
    assert!(server.record("tasks", id).await.is_none());

    alice
        .engine
        .login(&server.url, "alice", "demo", "alice-test")
        .await
        .expect("sign in again");
    alice.sync().await;
    assert_eq!(alice.store().outbox(10).expect("outbox").len(), 0);
    let record = server.record("tasks", id).await.expect("sent after");
    assert_eq!(record.fields["title"], "Written before the cut");
    assert_eq!(server.history_len("tasks", id).await, 1, "sent once");
}

async fn a_signed_out_device_keeps_its_edits_and_sends_them_after_signing_in(server: TestServer) {
    kept_across(server, AuthFailure::Revoked).await;
}

async fn an_expired_session_keeps_its_edits_and_sends_them_after_signing_in(server: TestServer) {
    kept_across(server, AuthFailure::Expired).await;
}

fn short_sessions() -> ferry_server::Limits {
    ferry_server::Limits {
        session_lifetime: Duration::from_secs(2),
        ..ferry_server::Limits::default()
    }
}

mod sqlite {
    #[tokio::test]
    async fn a_signed_out_device_keeps_its_edits_and_sends_them_after_signing_in() {
        super::a_signed_out_device_keeps_its_edits_and_sends_them_after_signing_in(
            super::TestServer::start().await,
        )
        .await;
    }

    #[tokio::test]
    async fn an_expired_session_keeps_its_edits_and_sends_them_after_signing_in() {
        super::an_expired_session_keeps_its_edits_and_sends_them_after_signing_in(
            super::TestServer::start_with_limits(super::short_sessions()).await,
        )
        .await;
    }
}

mod postgres {
    #[tokio::test]
    async fn a_signed_out_device_keeps_its_edits_and_sends_them_after_signing_in() {
        let Some(server) = super::TestServer::start_on_postgres().await else {
            return;
        };
        super::a_signed_out_device_keeps_its_edits_and_sends_them_after_signing_in(server).await;
    }

    #[tokio::test]
    async fn an_expired_session_keeps_its_edits_and_sends_them_after_signing_in() {
        let Some(server) =
            super::TestServer::start_on_postgres_with_limits(super::short_sessions()).await
        else {
            return;
        };
        super::an_expired_session_keeps_its_edits_and_sends_them_after_signing_in(server).await;
    }
}

/// A profile holding alice's data, with an edit of hers waiting, is not
/// signed in as bob: the edit would go out under his name.
#[tokio::test]
async fn signing_in_as_someone_else_on_a_profile_with_data_is_refused_by_name() {
    let server = TestServer::start().await;
    let alice = Client::login(&server, "alice").await;
    alice
        .store()
        .create("tasks", fields(json!({"title": "Alice's, unsent"})))
        .expect("create");
    let err = alice
        .engine
        .login(&server.url, "bob", "demo", "alice-test")
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::OtherAccount { username, .. } if username == "alice"),
        "{err:?}"
    );
    assert!(err.to_string().contains("use another profile"), "{err}");
    // Still alice's, with her edit.
    assert_eq!(
        alice
            .engine
            .profile()
            .account()
            .expect("account")
            .map(|a| a.username),
        Some("alice".to_string())
    );
    assert_eq!(alice.store().outbox(10).expect("outbox").len(), 1);
}
