//! `ferry`: the headless Ferry client. Every command is a thin layer over
//! `ferry-core`; `--json` prints machine-readable output. Exit codes: 0 on
//! success, 1 on error (one line on stderr), 2 on a usage error.

mod account;
mod conflicts;
mod files;
mod outbox;
mod output;
mod records;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ferry_core::{Client, Profile};
use output::say_err;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Ferry: offline-first shared records, from the command line"
)]
struct Cli {
    /// Profile directory (default: under the OS data directory).
    #[arg(long, global = true, env = "FERRY_PROFILE")]
    profile: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in (the password is read from standard input).
    Login {
        server_url: String,
        username: String,
    },
    /// Log out and forget the token (local data stays).
    Logout,
    /// Online state, pending edits, conflicts, last sync.
    Status,
    /// Your signed-in devices; --sign-out ID signs another of them out.
    Devices {
        #[arg(long, value_name = "DEVICE_ID")]
        sign_out: Option<uuid::Uuid>,
    },
    /// One full sync cycle: push the outbox, pull changes.
    Sync {
        /// The local database is damaged: set it aside, save its unsent edits
        /// to a file, and rebuild from the server.
        #[arg(long)]
        recover: bool,
        /// Send again now the files the server refused (too large, over the
        /// quota), rather than after the hour they otherwise wait.
        #[arg(long)]
        retry_files: bool,
    },
    /// Work offline: hold all network traffic.
    Offline,
    /// Allow network traffic again.
    Online,
    /// List records of a collection.
    Ls(records::LsArgs),
    /// Show one record.
    Show { collection: String, id: String },
    /// Create a record; prints its id.
    Create {
        collection: String,
        #[arg(value_name = "FIELD=VALUE")]
        values: Vec<String>,
    },
    /// Change fields of a record (FIELD= clears a field).
    Set {
        collection: String,
        id: String,
        #[arg(value_name = "FIELD=VALUE", required = true)]
        values: Vec<String>,
    },
    /// Delete a record.
    Delete { collection: String, id: String },
    /// Attach files to a record's file field.
    Attach(files::AttachArgs),
    /// Remove files from a record's file field.
    Detach(files::DetachArgs),
    /// Fetch the files of a record's file field (from the server unless
    /// they are here) and say where they are, or copy them to --out.
    Fetch(files::FetchArgs),
    /// List conflicts waiting for you.
    Conflicts,
    /// Settle a conflict.
    Resolve(conflicts::ResolveArgs),
    /// List the edits waiting to be sent.
    Outbox,
    /// Save the unsent edits to a JSON file.
    ExportOutbox { file: PathBuf },
    /// Add the edits of an exported JSON file to the outbox.
    ImportOutbox { file: PathBuf },
    /// Import a CSV or JSON lines file into a collection (each row an edit,
    /// sent at the next sync; an import cut short continues when run again).
    Import(transfer::ImportArgs),
    /// Export a collection (or the records a search and filters match) to
    /// CSV or JSON lines.
    Export(transfer::ExportArgs),
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What every command gets.
pub struct Ctx {
    pub client: Client,
    pub json: bool,
}

impl Ctx {
    pub fn store(&self) -> &ferry_core::LocalStore {
        self.client.store()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("ferry: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            say_err!("ferry: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            say_err!("ferry: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(1)
        }
    }
}

/// Opens with what the environment gives; where a passphrase is needed and
/// none was given, asks for it on the terminal (twice when choosing one).
fn with_passphrase<T>(
    open: impl Fn(&ferry_core::Unlock) -> ferry_core::Result<T>,
) -> anyhow::Result<T> {
    use std::io::IsTerminal;
    let unlock = ferry_core::Unlock::from_env();
    let mut new = match open(&unlock) {
        Err(ferry_core::Error::PassphraseNeeded { new })
            if !unlock.has_passphrase() && std::io::stdin().is_terminal() =>
        {
            new
        }
        other => return Ok(other?),
    };
    for _ in 0..3 {
        let passphrase = if new {
            say_err!(
                "ferry: no OS keyring answers here, so this profile's data will be encrypted with a passphrase; \
                 you will need it each time (or set FERRY_PASSPHRASE)"
            );
            let first = rpassword::prompt_password("Choose a passphrase: ")?;
            if first.chars().count() < 8 {
                say_err!("ferry: use at least 8 characters");
                continue;
            }
            if rpassword::prompt_password("Type it again: ")? != first {
                say_err!("ferry: the two did not match");
                continue;
            }
            first
        } else {
            rpassword::prompt_password("Passphrase of this profile: ")?
        };
        match open(&unlock.clone().passphrase(passphrase)) {
            Err(e @ ferry_core::Error::WrongPassphrase) => say_err!("ferry: {e}"),
            Err(ferry_core::Error::PassphraseNeeded { new: n }) => new = n,
            other => return Ok(other?),
        }
    }
    anyhow::bail!("no passphrase that opens this profile was given")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dir = match cli.profile {
        Some(dir) => dir,
        None => Profile::default_dir()?,
    };
    let profile = match cli.command {
        Command::Sync { recover: true, .. } => {
            let (profile, recovery) = with_passphrase(|u| Profile::recover_with(&dir, u))?;
            say_err!(
                "ferry: the damaged database was moved to {}",
                recovery.damaged.display()
            );
            match (&recovery.rescued, &recovery.unreadable) {
                (Some(file), _) => say_err!(
                    "ferry: {} unsent edit(s) saved to {} and put back in the outbox",
                    recovery.rescued_entries,
                    file.display()
                ),
                (None, Some(why)) => say_err!(
                    "ferry: no unsent edits could be read ({why}); the damaged file keeps them"
                ),
                (None, None) => {}
            }
            profile
        }
        _ => with_passphrase(|u| Profile::open_with(&dir, u))?,
    };
    let profile = Arc::new(profile);
    let ctx = Ctx {
        client: Client::new(profile, "ferry CLI"),
        json: cli.json,
    };
    let done = dispatch(&ctx, cli.command).await;
    if let Err(e) = &done
        && let Some(ferry_core::Error::AuthFailed {
            why: ferry_core::AuthFailure::Wipe,
        }) = e.downcast_ref::<ferry_core::Error>()
    {
        let unsent = ctx.client.profile().wipe()?;
        anyhow::bail!(
            "an administrator asked this device to delete its Ferry data: the records, files and key \
                 of {} are deleted ({unsent} unsent edit(s) discarded); sign in again with `ferry login`",
            dir.display()
        );
    }
    done
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Login {
            server_url,
            username,
        } => account::login(ctx, &server_url, &username).await,
        Command::Logout => account::logout(ctx).await,
        Command::Status => account::status(ctx).await,
        Command::Devices { sign_out } => account::devices(ctx, sign_out).await,
        Command::Sync { retry_files, .. } => account::sync(ctx, retry_files).await,
        Command::Offline => account::set_offline(ctx, true),
        Command::Online => account::set_offline(ctx, false),
        Command::Ls(args) => records::ls(ctx, &args),
        Command::Show { collection, id } => records::show(ctx, &collection, &id),
        Command::Create { collection, values } => records::create(ctx, &collection, &values),
        Command::Set {
            collection,
            id,
            values,
        } => records::set(ctx, &collection, &id, &values),
        Command::Delete { collection, id } => records::delete(ctx, &collection, &id),
        Command::Attach(args) => files::attach(ctx, &args),
        Command::Detach(args) => files::detach(ctx, &args),
        Command::Fetch(args) => files::fetch(ctx, &args).await,
        Command::Conflicts => conflicts::list(ctx),
        Command::Resolve(args) => conflicts::resolve(ctx, &args),
        Command::Outbox => outbox::list(ctx),
        Command::ExportOutbox { file } => outbox::export(ctx, &file),
        Command::ImportOutbox { file } => outbox::import(ctx, &file),
        Command::Import(args) => transfer::import(ctx, &args),
        Command::Export(args) => transfer::export(ctx, &args),
    }
}
