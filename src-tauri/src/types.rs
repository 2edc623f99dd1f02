//! What crosses the IPC boundary besides the core's own types. Every type
//! here (and the core and protocol types it names) has its TypeScript
//! declaration generated into `ui/src/lib/bindings/` by `make bindings`.

use ferry_core::protocol::{Collection, Fields};
use ferry_core::{ClientStatus, ConnectionFailure, RecordRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

/// Who the running app is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    /// The product name from `tauri.conf.json` ("Ferry").
    pub name: String,
    pub version: String,
    /// The profile directory this window works on.
    pub profile_dir: String,
}

/// Everything the status bar and the sidebar badges show: the core's
/// snapshot and what only the desktop has.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Status {
    #[serde(flatten)]
    pub client: ClientStatus,
    pub notifications: bool,
    /// Why the local database could not be opened; the UI offers recovery.
    pub damaged: Option<String>,
    /// The records wait for a passphrase: why.
    pub locked: Option<LockReason>,
    /// Something to say on the sign-in screen (after a wipe).
    pub notice: Option<String>,
}

/// Why the records wait for a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    /// A new profile and no keyring: a passphrase is to be chosen.
    ChoosePassphrase,
    /// The profile's key comes from its passphrase: type it.
    Passphrase,
    /// Locked after being left idle.
    Idle,
}

/// How this computer keeps the records (Settings → Security).
#[derive(Debug, Clone, Serialize, TS)]
pub struct Security {
    pub protection: ferry_core::Protection,
    /// SQLCipher's version, when encrypted.
    pub cipher: Option<String>,
    /// Lock after this many idle minutes (passphrase profiles only).
    pub lock_minutes: Option<u32>,
}

/// A collection in the sidebar.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CollectionInfo {
    pub collection: Collection,
    /// Live records held locally.
    pub count: i64,
}

/// Sign-in form.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct LoginForm {
    pub server: String,
    pub username: String,
    pub password: String,
}

/// One window of a record list.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ListQuery {
    pub collection: String,
    /// Words to find (each a prefix, all required).
    #[serde(default)]
    pub search: Option<String>,
    /// Field to sort by; default: the collection's title field.
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub descending: bool,
    /// Field equals value (choice, boolean; for tags: has the tag).
    #[serde(default)]
    pub filters: Fields,
    pub offset: u32,
    pub limit: u32,
}

/// The rows of one window. How many match in all is a question of its own
/// (`count_records`): counting a word found in most records costs more than
/// the rows, which are shown first.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecordList {
    /// Fields as the stored JSON text, handed on unparsed.
    #[ts(as = "Vec<ferry_core::LocalRecord>")]
    pub records: Vec<ferry_core::LocalRecord<Box<serde_json::value::RawValue>>>,
    pub offset: u32,
    /// More records match after this window.
    pub has_more: bool,
}

/// How to settle one conflicting field.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "take", rename_all = "snake_case")]
pub enum ChoiceInput {
    Mine,
    Theirs,
    /// A merged value typed by the user.
    Value {
        value: Value,
    },
}

#[derive(Debug, Clone, Deserialize, TS)]
pub struct FieldChoiceInput {
    pub field: String,
    pub choice: ChoiceInput,
}

/// How to settle a conflict.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolutionInput {
    /// All mine: my edit wins (for delete conflicts: my restore or my delete).
    Mine,
    /// All theirs: the server's version stays.
    Theirs,
    /// Per field; fields only I changed keep my value.
    Fields { choices: Vec<FieldChoiceInput> },
    /// Mine becomes a new record; the original takes the server's side.
    KeepBoth,
    /// Keep the record alive (edit/delete: with my changes).
    Restore,
    /// Let the record be deleted.
    AcceptDelete,
    /// A record I may no longer see: write my edits to this JSON file, then
    /// let it leave this device.
    Export { path: String },
    /// A record I may no longer see: my version, with `set` over it, becomes
    /// a new record.
    CopyAsNew { set: ferry_core::protocol::Fields },
    /// A record I may no longer see: drop my edits.
    Discard,
}

impl From<ResolutionInput> for ferry_core::Resolution {
    fn from(r: ResolutionInput) -> Self {
        use ferry_core::{FieldChoice, Resolution};
        match r {
            ResolutionInput::Mine => Resolution::Mine,
            ResolutionInput::Theirs => Resolution::Theirs,
            ResolutionInput::Fields { choices } => Resolution::Fields(
                choices
                    .into_iter()
                    .map(|c| {
                        let choice = match c.choice {
                            ChoiceInput::Mine => FieldChoice::Mine,
                            ChoiceInput::Theirs => FieldChoice::Theirs,
                            ChoiceInput::Value { value } => FieldChoice::Value(value),
                        };
                        (c.field, choice)
                    })
                    .collect(),
            ),
            ResolutionInput::KeepBoth => Resolution::KeepBoth,
            ResolutionInput::Restore => Resolution::Restore,
            ResolutionInput::AcceptDelete => Resolution::AcceptDelete,
            ResolutionInput::Export { path } => Resolution::Export { path: path.into() },
            ResolutionInput::CopyAsNew { set } => Resolution::CopyAsNew { set },
            ResolutionInput::Discard => Resolution::Discard,
        }
    }
}

/// What went wrong, for the UI to show; `kind` lets it pick the place
/// (a field, the sign-in form, a banner) and `message` is for people.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    /// The field an invalid value belongs to (kind `invalid`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// What failed on the way to the server (kinds `unreachable`, `tls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub connection: Option<ConnectionFailure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotSignedIn,
    Offline,
    Unreachable,
    Tls,
    BadCredentials,
    SessionExpired,
    Incompatible,
    Invalid,
    ReadOnly,
    NotFound,
    InConflict,
    Damaged,
    Locked,
    DiskFull,
    Server,
    Internal,
}

/// Payload of the `records-changed` event.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecordsChanged {
    pub records: Vec<RecordRef>,
    /// More changed than are listed: refresh whatever is shown.
    pub truncated: bool,
}

/// Payload of the `quit-requested` event: unsent changes wait.
#[derive(Debug, Clone, Serialize, TS)]
pub struct QuitRequested {
    pub outbox: i64,
}

/// Payload of the `open-conflict` event (from a notification or the menu).
#[derive(Debug, Clone, Serialize, TS)]
pub struct OpenConflict {
    pub collection: String,
    pub id: Uuid,
}

/// The payload of each event, by event name: the UI's `on(name, handler)`
/// is typed by it. A test checks it names every [`EventName`]. Only its
/// TypeScript declaration is used, so it exists in test builds only.
#[cfg(test)]
#[derive(Debug, Clone, Serialize, TS)]
pub struct EventPayloads {
    pub status: Status,
    #[serde(rename = "records-changed")]
    pub records_changed: RecordsChanged,
    #[serde(rename = "conflicts-changed")]
    pub conflicts_changed: i64,
    #[serde(rename = "quit-requested")]
    pub quit_requested: QuitRequested,
    #[serde(rename = "open-conflict")]
    pub open_conflict: OpenConflict,
    #[serde(rename = "import-progress")]
    pub import_progress: ferry_core::transfer::ImportProgress,
    pub menu: MenuCommand,
    #[serde(rename = "file-progress")]
    pub file_progress: ferry_core::files::FileProgress,
}

/// A menu item the window acts on.
#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum MenuCommand {
    Import,
    Export,
}

/// Event names, shared with the UI through the generated bindings.
#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum EventName {
    Status,
    RecordsChanged,
    ConflictsChanged,
    QuitRequested,
    OpenConflict,
    ImportProgress,
    Menu,
    FileProgress,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Status => "status",
            EventName::RecordsChanged => "records-changed",
            EventName::ConflictsChanged => "conflicts-changed",
            EventName::QuitRequested => "quit-requested",
            EventName::OpenConflict => "open-conflict",
            EventName::ImportProgress => "import-progress",
            EventName::Menu => "menu",
            EventName::FileProgress => "file-progress",
        }
    }
}

/// `commands.ts`: the command names of `command_list.rs`, for `api.ts`.
#[cfg(test)]
fn commands_ts() -> String {
    let names: Vec<String> = COMMANDS.iter().map(|n| format!("  '{n}',\n")).collect();
    format!(
        "// Generated from src-tauri/src/command_list.rs by `make bindings`. Do not edit this file manually.\n\
         \n/** Every command the desktop shell answers. */\n\
         export const COMMANDS = [\n{}] as const;\n\
         \nexport type CommandName = (typeof COMMANDS)[number];\n",
        names.concat()
    )
}

/// Every command the window may call, as declared in `command_list.rs`.
#[cfg(test)]
pub const COMMANDS: &[&str] = with_commands!(command_names);

/// Writes the TypeScript declarations of every IPC type into `dir`.
#[cfg(test)]
pub fn export_bindings(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    let cfg = ts_rs::Config::new()
        .with_large_int("number")
        .with_out_dir(dir);
    AppInfo::export_all(&cfg)?;
    Status::export_all(&cfg)?;
    Security::export_all(&cfg)?;
    CollectionInfo::export_all(&cfg)?;
    LoginForm::export_all(&cfg)?;
    ListQuery::export_all(&cfg)?;
    RecordList::export_all(&cfg)?;
    ResolutionInput::export_all(&cfg)?;
    CommandError::export_all(&cfg)?;
    RecordsChanged::export_all(&cfg)?;
    QuitRequested::export_all(&cfg)?;
    OpenConflict::export_all(&cfg)?;
    EventName::export_all(&cfg)?;
    EventPayloads::export_all(&cfg)?;
    RecordRef::export_all(&cfg)?;
    MenuCommand::export_all(&cfg)?;
    ferry_core::transfer::ImportPreview::export_all(&cfg)?;
    ferry_core::transfer::ImportReport::export_all(&cfg)?;
    ferry_core::transfer::ExportReport::export_all(&cfg)?;
    ferry_core::BulkReport::export_all(&cfg)?;
    std::fs::write(dir.join("commands.ts"), commands_ts())?;
    ferry_core::Conflict::export_all(&cfg)?;
    ferry_core::OutboxEntry::export_all(&cfg)?;
    ferry_core::protocol::Record::<Fields>::export_all(&cfg)?;
    ferry_core::protocol::FileRef::export_all(&cfg)?;
    ferry_core::protocol::Device::export_all(&cfg)?;
    ferry_core::store::files::LocalFile::export_all(&cfg)?;
    // The administrator's console shares these with the desktop UI.
    {
        use ferry_core::protocol::admin::*;
        UsersResponse::export_all(&cfg)?;
        NewUser::export_all(&cfg)?;
        UserChange::export_all(&cfg)?;
        AdminDevicesResponse::export_all(&cfg)?;
        RevokeDevice::export_all(&cfg)?;
        TeamsResponse::export_all(&cfg)?;
        NewTeam::export_all(&cfg)?;
        GrantsResponse::export_all(&cfg)?;
        GrantChange::export_all(&cfg)?;
        AccessPreview::export_all(&cfg)?;
        AuditPage::export_all(&cfg)?;
        AdminHealth::export_all(&cfg)?;
        CollectionsResponse::export_all(&cfg)?;
        ConsoleSession::export_all(&cfg)?;
        ConsoleSignIn::export_all(&cfg)?;
        CollectionSpec::export_all(&cfg)?;
        FieldUsage::export_all(&cfg)?;
        FieldMigration::export_all(&cfg)?;
        MigrationPlan::export_all(&cfg)?;
        MigrationsResponse::export_all(&cfg)?;
        RecordChangesPage::export_all(&cfg)?;
        ferry_core::protocol::HistoryResponse::export_all(&cfg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every file under `dir`, by its path relative to `dir`.
    fn files(dir: &Path) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    todo.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    let rel = path.strip_prefix(dir).unwrap_or(&path);
                    out.insert(rel.display().to_string(), text);
                }
            }
        }
        out
    }

    /// Every command of `command_list.rs` is allowed in the capability
    /// file (and nothing else is), called by `api.ts` and answered by the
    /// e2e mock.
    #[test]
    fn every_command_is_allowed_called_and_mocked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |rel: &str| {
            std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
        };
        let want: std::collections::BTreeSet<String> =
            super::COMMANDS.iter().map(|c| (*c).to_string()).collect();
        let caps: serde_json::Value =
            serde_json::from_str(&read("src-tauri/capabilities/default.json")).expect("json");
        let allowed: std::collections::BTreeSet<String> = caps["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect();
        assert_eq!(allowed, want, "capabilities/default.json");
        let api = read("ui/src/lib/api.ts");
        let mock = read("ui/e2e/mock/backend.ts");
        for name in &want {
            assert!(
                api.contains(&format!("'{name}'")),
                "api.ts does not call {name}"
            );
            assert!(
                mock.contains(&format!("case '{name}':")),
                "the e2e mock does not answer {name}"
            );
        }
    }

    /// The event payload map names every event.
    #[test]
    fn every_event_has_a_payload() {
        use super::EventName as E;
        use ts_rs::TS;
        // A new event fails to compile here until it is listed.
        let listed = |e: E| match e {
            E::Status
            | E::RecordsChanged
            | E::ConflictsChanged
            | E::QuitRequested
            | E::OpenConflict
            | E::ImportProgress
            | E::Menu
            | E::FileProgress => e,
        };
        let payloads = super::EventPayloads::decl(&ts_rs::Config::new());
        for event in [
            E::Status,
            E::RecordsChanged,
            E::ConflictsChanged,
            E::QuitRequested,
            E::OpenConflict,
            E::ImportProgress,
            E::Menu,
            E::FileProgress,
        ] {
            let name = listed(event).as_str();
            assert!(
                payloads.contains(&format!("\"{name}\":"))
                    || payloads.contains(&format!(" {name}:")),
                "{name} has no payload in {payloads}"
            );
        }
    }

    /// The checked-in bindings must match the Rust types; `make bindings`
    /// rewrites them.
    #[test]
    fn typescript_bindings_are_current() {
        let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings");
        if std::env::var_os("FERRY_UPDATE_BINDINGS").is_some() {
            let _ = std::fs::remove_dir_all(&checked_in);
            super::export_bindings(&checked_in).expect("export");
            return;
        }
        let fresh = tempfile::tempdir().expect("tempdir");
        super::export_bindings(fresh.path()).expect("export");
        let want = files(fresh.path());
        let have = files(&checked_in);
        assert!(!want.is_empty());
        let stale: Vec<_> = want
            .iter()
            .filter(|(name, text)| have.get(*name) != Some(text))
            .map(|(name, _)| name.clone())
            .collect();
        let extra: Vec<_> = have.keys().filter(|n| !want.contains_key(*n)).collect();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "TypeScript bindings out of date (run `make bindings`): changed {stale:?}, extra {extra:?}"
        );
    }
}
