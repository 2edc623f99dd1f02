//! Core errors as the desktop shows them: a kind for placing the message and
//! a sentence that speaks of the app, not of the command line.

use ferry_core::{ConnectionFailure, Error};

use crate::types::{CommandError, ErrorKind};

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
            field: None,
            connection: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        CommandError::new(ErrorKind::Internal, message)
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        use ErrorKind as K;
        let (kind, message) = match &e {
            Error::Corrupt { path, .. } => (
                K::Damaged,
                format!(
                    "The local database {} is damaged. Ferry can set it aside and rebuild it from the server; unsent changes are saved first.",
                    path.display()
                ),
            ),
            Error::Locked { path } => (
                K::Locked,
                format!(
                    "The local database {} is in use by another Ferry. Close it and try again.",
                    path.display()
                ),
            ),
            Error::DiskFull { path } => (
                K::DiskFull,
                format!(
                    "The disk holding {} is full. Free some space and try again; nothing was lost.",
                    path.display()
                ),
            ),
            Error::TooNew { .. } => (
                K::Damaged,
                "This profile was written by a newer Ferry. Update Ferry to open it.".into(),
            ),
            Error::PassphraseNeeded { .. } => (
                K::Locked,
                "Your records on this computer are encrypted with a passphrase. Type it to open them.".into(),
            ),
            Error::WrongPassphrase => (
                K::Locked,
                "That passphrase does not open your records. Nothing was changed; try again.".into(),
            ),
            Error::KeyUnavailable { .. } => (
                K::Locked,
                "The key to your records is in your keyring, which did not give it. Unlock the keyring \
                 (sign in to your desktop session) and start Ferry again. Nothing was changed."
                    .into(),
            ),
            Error::OtherAccount {
                username, server, ..
            } => (
                K::Invalid,
                format!(
                    "This computer's Ferry holds {username}'s records from {server}, with their unsent changes. \
                     Sign in as {username}, or use another profile."
                ),
            ),
            Error::NotLoggedIn => (K::NotSignedIn, "You are not signed in.".into()),
            Error::WorkingOffline => (
                K::Offline,
                "You are working offline. Go online to reach the server.".into(),
            ),
            Error::AuthFailed { why } => (K::SessionExpired, why.in_app().into()),
            Error::BadCredentials => (K::BadCredentials, "Wrong username or password.".into()),
            Error::Unreachable {
                url,
                detail,
                kind: ConnectionFailure::Tls,
            } => (
                K::Tls,
                format!(
                    "The secure connection to {url} failed: its certificate is not trusted or does not match ({detail})."
                ),
            ),
            Error::Unreachable { url, .. } => (
                K::Unreachable,
                format!("Cannot reach the server at {url}. Check the address and your network."),
            ),
            Error::Incompatible { url, .. } => (
                K::Incompatible,
                format!(
                    "{url} is not a Ferry server this app can talk to (it does not speak protocol v1)."
                ),
            ),
            Error::Server { status, body } => (
                K::Server,
                format!("The server could not do this ({status}): {}", body.message),
            ),
            Error::BadUrl(url) => (
                K::Invalid,
                format!("\"{url}\" is not a server address. Use one like http://127.0.0.1:8787."),
            ),
            Error::UnknownCollection(name) => {
                (K::NotFound, format!("There is no collection \"{name}\"."))
            }
            Error::ReadOnly(name) => (
                K::ReadOnly,
                format!("You may only read \"{name}\"; ask an administrator for write access."),
            ),
            Error::UnknownRecord { .. } => (K::NotFound, "This record no longer exists.".into()),
            Error::RecordDeleted { .. } => (K::NotFound, "This record was deleted.".into()),
            Error::InConflict { .. } => (
                K::InConflict,
                "This record has a conflict. Resolve it before editing.".into(),
            ),
            Error::NoConflict { .. } => (K::NotFound, "This conflict was already resolved.".into()),
            Error::BadFile { .. } => (K::Invalid, capitalise(&e.to_string())),
            Error::InvalidValue(m)
            | Error::InvalidResolution(m)
            | Error::InvalidField { message: m, .. } => (K::Invalid, capitalise(m)),
            _ => (K::Internal, capitalise(&e.to_string())),
        };
        CommandError {
            kind,
            message,
            field: e.field().map(str::to_string),
            connection: e.connection_failure(),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::AuthFailure;

    #[test]
    fn tls_failures_are_told_apart_from_an_unreachable_server() {
        let tls: CommandError = Error::Unreachable {
            url: "https://x".into(),
            detail: "error sending request: invalid peer certificate: UnknownIssuer".into(),
            kind: ConnectionFailure::Tls,
        }
        .into();
        assert_eq!(tls.kind, ErrorKind::Tls);
        assert_eq!(tls.connection, Some(ConnectionFailure::Tls));
        let down: CommandError = Error::Unreachable {
            url: "http://x".into(),
            detail: "connection refused".into(),
            kind: ConnectionFailure::Refused,
        }
        .into();
        assert_eq!(down.kind, ErrorKind::Unreachable);
        assert_eq!(down.connection, Some(ConnectionFailure::Refused));
        assert!(down.message.starts_with("Cannot reach"));
    }

    #[test]
    fn an_invalid_field_is_named_apart_from_the_message() {
        let e = CommandError::from(Error::InvalidField {
            field: "due".into(),
            message: "field \"due\" must be a date".into(),
        });
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.field.as_deref(), Some("due"));
        assert!(e.message.starts_with("Field"));
    }

    #[test]
    fn messages_speak_of_the_app_not_the_cli() {
        let refused = [
            AuthFailure::Rejected,
            AuthFailure::Expired,
            AuthFailure::Revoked,
            AuthFailure::Wipe,
        ]
        .map(|why| Error::AuthFailed { why });
        for e in [Error::NotLoggedIn, Error::WorkingOffline]
            .into_iter()
            .chain(refused)
        {
            let m = CommandError::from(e).message;
            assert!(!m.contains("ferry "), "{m}");
        }
        let m = CommandError::from(Error::InvalidValue("field \"due\" must be a date".into()));
        assert_eq!(m.kind, ErrorKind::Invalid);
        assert!(m.message.starts_with("Field"));
    }
}
