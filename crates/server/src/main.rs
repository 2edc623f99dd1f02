//! `ferry-server`: serve the sync API and administer its database.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ferry_protocol::admin::Role;
use ferry_protocol::{Hlc, Mutation, Op};
use ferry_server::metrics::MetricsListen;
use ferry_server::rules::Right;
use ferry_server::store::{self, DynStore, GrantSubject, PushContext, RuleChange, Session};
use ferry_server::{AppState, Limits, auth, demo, schema_change, schema_file};
use serde_json::json;

#[derive(Parser)]
#[command(name = "ferry-server", version, about = "Ferry sync server")]
struct Cli {
    /// Database URL: sqlite://PATH, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
    /// (any number of processes may share one PostgreSQL database).
    #[arg(
        long,
        global = true,
        env = "FERRY_DB",
        default_value = "sqlite://ferry.db"
    )]
    db: String,
    /// Most PostgreSQL connections this process opens (one more listens for
    /// events); with SQLite, most reads at once (each on a connection of its own).
    #[arg(long, global = true, env = "FERRY_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: usize,
    /// TOML file with these settings (e.g. /etc/ferry/server.toml); a flag or
    /// its environment variable overrides the file.
    #[arg(long, global = true, env = "FERRY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Give a user, a team (--team) or everyone (--everyone) read or write
    /// access to a collection, or to the rows of some partition values
    /// (--where FIELD=VALUE[,VALUE…]; $user is each user's own name); or
    /// take it away (--revoke).
    #[command(
        after_help = "Examples:\n  ferry-server grant dana contacts --read --where region=north\n  ferry-server grant --team field-east contacts --write --where region=east\n  ferry-server grant --everyone tasks --write --where 'assignee=$user'\n  ferry-server grant dispatch orders --write-only --where region=north,south\n  ferry-server grant dana contacts --revoke"
    )]
    Grant {
        /// USERNAME COLLECTION, or only COLLECTION with --team or --everyone.
        #[arg(num_args = 1..=2, required = true, value_name = "[USERNAME] COLLECTION")]
        names: Vec<String>,
        /// Grant to this team instead of a user.
        #[arg(long, conflicts_with = "everyone")]
        team: Option<String>,
        /// Grant to every user, present and future.
        #[arg(long)]
        everyone: bool,
        /// Only the rows whose partition field holds one of these values.
        #[arg(long = "where", value_name = "FIELD=VALUE[,VALUE…]")]
        where_: Vec<String>,
        #[arg(long, group = "access")]
        read: bool,
        #[arg(long, group = "access")]
        write: bool,
        /// Write without read (with --where): place records in these values,
        /// or move them there, and then no longer see them.
        #[arg(long, group = "access")]
        write_only: bool,
        #[arg(long, group = "access")]
        revoke: bool,
    },
    /// Manage teams (grants to a team apply to each member at once).
    #[command(subcommand)]
    Team(TeamCommand),
    /// List and revoke devices (each sign-in is one).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage collection definitions.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Load the demo schema, users (alice, bob, carol; password "demo") and records.
    SeedDemo,
    /// Print the OpenAPI document of the API.
    Openapi,
    /// Delete stored files no version of any record names and that are
    /// older than the grace period, and unfinished uploads left that long
    /// (run it daily; safe beside a running server).
    Gc {
        #[command(flatten)]
        files: BlobArgs,
        /// Hours a file may wait unnamed (uploaded, its change not yet
        /// pushed) before it may be deleted.
        #[arg(long, default_value_t = 24 * 7, value_parser = clap::value_parser!(u64).range(1..=876_000))]
        grace_hours: u64,
        /// Say what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove history past each collection's retention (`[collections.history]`
    /// of the schema file) now; `serve` also does it every
    /// --compact-every-hours. Safe beside running servers.
    Compact,
    /// Back up the database to a new FILE while the server runs (SQLite:
    /// its online backup API; PostgreSQL: pg_dump's custom format).
    Backup {
        /// The backup file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the database with a backup (stop every server first). The
    /// server goes back in time, so it starts a new epoch: each client
    /// notices, sends again what it had sent since the backup, and pulls
    /// everything again.
    Restore {
        /// A file `ferry-server backup` wrote.
        #[arg(long)]
        from: PathBuf,
    },
    /// Copy a SQLite server's database into an empty PostgreSQL database
    /// (stop the server first); clients keep their cursors and logins.
    Migrate {
        /// sqlite://PATH
        #[arg(long)]
        from: String,
        /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
        #[arg(long)]
        to: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FERRY_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the Prometheus `GET /metrics`, apart from the API so that
    /// it is never public by accident; `off` serves no metrics.
    #[arg(long, env = "FERRY_METRICS_LISTEN", default_value = "127.0.0.1:9187")]
    metrics_listen: MetricsListen,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "FERRY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "FERRY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FERRY_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Password checks run at once (each takes about 19 MiB); more logins
    /// wait up to 2 s, then get 503 `busy`. Default: the number of cores.
    #[arg(long, env = "FERRY_LOGIN_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    login_concurrency: Option<u32>,
    /// Seconds a client has to send a request's headers (or its TLS
    /// handshake), from connecting or from the end of its previous response;
    /// idle connections close after it.
    #[arg(long, env = "FERRY_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Connections open at once; more wait in the listen backlog. Keep it
    /// below the open-file limit (LimitNOFILE of the systemd unit).
    #[arg(long, env = "FERRY_MAX_CONNECTIONS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Event streams (/v1/events) one user may have open; one more ends their oldest.
    #[arg(long, env = "FERRY_MAX_EVENT_STREAMS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    max_event_streams: u32,
    /// Days a session lasts unused (each use starts them again); past them
    /// the device signs in again, keeping what waits on it.
    #[arg(long, env = "FERRY_SESSION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    session_days: u32,
    /// Directory of signed desktop releases (update manifests) offered at
    /// /v1/app/update; without it the server offers no updates.
    #[arg(long, env = "FERRY_RELEASES")]
    releases: Option<PathBuf>,
    /// Days a mutation id is remembered, so a re-sent mutation is not applied
    /// twice (DESIGN.md, "Wire protocol v1"); keep it longer than any client
    /// stays offline.
    #[arg(long, env = "FERRY_MUTATION_HORIZON_DAYS", default_value_t = 400,
          value_parser = clap::value_parser!(u64).range(1..=36_500))]
    mutation_horizon_days: u64,
    /// Hours between compactions of history past each collection's
    /// retention (`ferry-server compact`); 0: never (compact by hand).
    #[arg(long, env = "FERRY_COMPACT_EVERY_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u64).range(0..=8760))]
    compact_every_hours: u64,
    /// Seconds a client's clock may run ahead of the server's before its
    /// stamps are capped (DESIGN.md, "Clock drift").
    #[arg(long, env = "FERRY_MAX_CLOCK_DRIFT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    max_clock_drift_secs: u64,
    #[command(flatten)]
    files: BlobArgs,
    /// Largest attached file, in MB.
    #[arg(long, env = "FERRY_MAX_FILE_MB", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    max_file_mb: u64,
    /// MB of files each user may upload in all; default: no quota.
    #[arg(long, env = "FERRY_FILE_QUOTA_MB")]
    file_quota_mb: Option<u64>,
}

/// Where the server's attached files live.
#[derive(Args)]
struct BlobArgs {
    /// Where attached files live: a directory, or s3://BUCKET[/PREFIX]
    /// (endpoint, region and keys from AWS_ENDPOINT, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Default: `blobs` beside a
    /// SQLite database; with PostgreSQL, no files unless set.
    #[arg(long, env = "FERRY_BLOBS")]
    blobs: Option<String>,
    /// Directory of unfinished uploads (default: `uploads` in a blobs
    /// directory; needed with S3).
    #[arg(long, env = "FERRY_BLOB_STAGING")]
    blob_staging: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        username: String,
        /// Make them an administrator (the console at /admin, /v1/admin).
        #[arg(long)]
        admin: bool,
    },
    /// Make a user an administrator or a member.
    Role {
        username: String,
        #[arg(value_parser = ["admin", "member"])]
        role: String,
    },
    /// Disable a user (their devices are signed out, they cannot sign in) or,
    /// with --enable, let them sign in again.
    Disable {
        username: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set a user's password (read from standard input); logs out every device.
    Passwd { username: String },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// List signed-in devices: a user's, or everyone's.
    List {
        username: Option<String>,
        /// Revoked devices too.
        #[arg(long)]
        all: bool,
    },
    /// Sign a device out: its token stops working at once. With --wipe it
    /// is also told, at its next contact, to delete its local data.
    Revoke {
        /// The device's id (`ferry-server device list`).
        id: uuid::Uuid,
        /// Tell the device to delete its local data (edits it has not sent are lost).
        #[arg(long)]
        wipe: bool,
        /// Do not ask to confirm a wipe.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Create a team.
    Add { name: String },
    /// Delete a team and its grants.
    Remove { name: String },
    /// Add a user to a team (or with --remove take them out).
    Member {
        team: String,
        username: String,
        #[arg(long)]
        remove: bool,
    },
    /// List teams and their members.
    List,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Add or replace the collections defined in a TOML schema file.
    Apply { file: PathBuf },
}

/// Devices as a table: id, user, name, system and app, last seen, state.
fn device_table(devices: &[ferry_server::store::DeviceRow], all: bool) -> String {
    let mut out = String::from(
        "DEVICE                                USER        NAME                  SYSTEM   APP                   LAST SEEN                 FROM             STATE\n",
    );
    for d in devices.iter().filter(|d| all || !d.revoked) {
        let state = match (d.revoked, d.wipe) {
            (_, true) => "wipe",
            (true, false) => "revoked",
            _ => "signed in",
        };
        out.push_str(&format!(
            "{:<37} {:<11} {:<21} {:<8} {:<21} {:<25} {:<16} {state}\n",
            d.id,
            d.username,
            d.name,
            d.platform,
            d.app_version,
            d.last_seen,
            d.last_ip.as_deref().unwrap_or("-"),
        ));
    }
    out
}

#[tokio::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("ferry_server=info,tower_http=warn")
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object a line for log collectors; people read the default text.
    if std::env::var("FERRY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    if let Err(e) = async { run(parse_cli()?).await }.await {
        eprintln!("ferry-server: {e:#}");
        std::process::exit(1);
    }
}

/// Flags, then their environment variables, then the config file, then defaults.
fn parse_cli() -> anyhow::Result<Cli> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let Some(path) = cli.config.clone() else {
        return Ok(cli);
    };
    let file = ferry_server::config::ServerConfig::load(&path)?;
    let given = |m: &ArgMatches, id: &str| {
        matches!(
            m.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    let global_given = |id: &str| given(&matches, id) || sub.is_some_and(|m| given(m, id));
    if !global_given("db")
        && let Some(db) = file.db
    {
        cli.db = db;
    }
    if !global_given("db_pool_size")
        && let Some(size) = file.db_pool_size
    {
        cli.db_pool_size = size;
    }
    let files = match &mut cli.command {
        Command::Serve(args) => Some(&mut args.files),
        Command::Gc { files, .. } => Some(files),
        _ => None,
    };
    if let (Some(files), Some(m)) = (files, sub) {
        if !given(m, "blobs") && file.blobs.is_some() {
            files.blobs = file.blobs.clone();
        }
        if !given(m, "blob_staging") && file.blob_staging.is_some() {
            files.blob_staging = file.blob_staging.clone();
        }
    }
    if let (Command::Serve(args), Some(m)) = (&mut cli.command, sub) {
        if !given(m, "listen")
            && let Some(listen) = file.listen
        {
            args.listen = listen;
        }
        if !given(m, "metrics_listen")
            && let Some(metrics_listen) = file.metrics_listen
        {
            args.metrics_listen = metrics_listen;
        }
        if !given(m, "tls_cert") && file.tls_cert.is_some() {
            args.tls_cert = file.tls_cert;
        }
        if !given(m, "tls_key") && file.tls_key.is_some() {
            args.tls_key = file.tls_key;
        }
        if !given(m, "max_body_bytes")
            && let Some(max) = file.max_body_bytes
        {
            args.max_body_bytes = max;
        }
        if !given(m, "login_concurrency") && file.login_concurrency.is_some() {
            args.login_concurrency = file.login_concurrency;
        }
        if !given(m, "header_timeout_secs")
            && let Some(secs) = file.header_timeout_secs
        {
            args.header_timeout_secs = secs;
        }
        if !given(m, "max_connections")
            && let Some(max) = file.max_connections
        {
            args.max_connections = max;
        }
        if !given(m, "max_event_streams")
            && let Some(max) = file.max_event_streams
        {
            args.max_event_streams = max;
        }
        if !given(m, "compact_every_hours")
            && let Some(hours) = file.compact_every_hours
        {
            if hours > 8760 {
                bail!("compact_every_hours is 0 to 8760 ({})", path.display());
            }
            args.compact_every_hours = hours;
        }
        if !given(m, "session_days")
            && let Some(days) = file.session_days
        {
            if !(1..=3650).contains(&days) {
                bail!("session_days is 1 to 3650 ({})", path.display());
            }
            args.session_days = days;
        }
        if args.login_concurrency == Some(0)
            || !(1..=3600).contains(&args.header_timeout_secs)
            || args.max_connections == 0
            || args.max_event_streams == 0
        {
            bail!(
                "login_concurrency, max_connections and max_event_streams are at least 1, header_timeout_secs 1 to 3600 ({})",
                path.display()
            );
        }
        if !given(m, "releases") && file.releases.is_some() {
            args.releases = file.releases;
        }
        if !given(m, "max_file_mb")
            && let Some(mb) = file.max_file_mb
        {
            args.max_file_mb = mb;
        }
        if !given(m, "file_quota_mb") && file.file_quota_mb.is_some() {
            args.file_quota_mb = file.file_quota_mb;
        }
        if !given(m, "mutation_horizon_days")
            && let Some(days) = file.mutation_horizon_days
        {
            args.mutation_horizon_days = days;
        }
        if !given(m, "max_clock_drift_secs")
            && let Some(secs) = file.max_clock_drift_secs
        {
            args.max_clock_drift_secs = secs;
        }
        if args.tls_cert.is_some() != args.tls_key.is_some() {
            bail!("tls_cert and tls_key go together ({})", path.display());
        }
    }
    Ok(cli)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi = cli.command {
        println!("{}", ferry_server::openapi().to_pretty_json()?);
        return Ok(());
    }
    let pg = store::postgres::PgOptions {
        pool_size: cli.db_pool_size,
        ..Default::default()
    };
    if let Command::Migrate { from, to } = &cli.command {
        let Some(path) = from
            .strip_prefix("sqlite://")
            .or_else(|| from.strip_prefix("sqlite:"))
        else {
            bail!("--from takes sqlite://PATH");
        };
        if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
            bail!("--to takes postgres://USER@HOST/DATABASE");
        }
        let copied = store::migrate::sqlite_to_postgres(path, to, &pg).await?;
        eprintln!(
            "copied {copied} from {from} to {}",
            ferry_server::config::redact_url(to)
        );
        return Ok(());
    }
    if let Command::Restore { from } = &cli.command {
        return restore(&cli.db, from, &pg).await;
    }
    let store = store::open_with(&cli.db, &pg).await?;
    match cli.command {
        Command::Serve(args) => serve(store, args, &cli.db).await,
        Command::User(UserCommand::Add { username, admin }) => {
            if !auth::valid_username(&username) {
                bail!("{}", auth::USERNAME_RULE);
            }
            let hash = auth::hash_password(&read_password()?).map_err(anyhow::Error::msg)?;
            store.create_user(&username, &hash).await?;
            let role = if admin { Role::Admin } else { Role::Member };
            if admin {
                store.update_user(&username, Some(role), None).await?;
            }
            cli_audit(&store, "user.add", &username, json!({"role": role})).await;
            eprintln!(
                "created user {username}{}",
                if admin { ", an administrator" } else { "" }
            );
            Ok(())
        }
        Command::User(UserCommand::Role { username, role }) => {
            let role = Role::parse(&role);
            store.update_user(&username, Some(role), None).await?;
            cli_audit(&store, "user.role", &username, json!({"role": role})).await;
            eprintln!(
                "{username} is now {} {}",
                if role == Role::Admin { "an" } else { "a" },
                role.name()
            );
            Ok(())
        }
        Command::User(UserCommand::Disable { username, enable }) => {
            let signed_out = store.update_user(&username, None, Some(!enable)).await?;
            if enable {
                cli_audit(&store, "user.enable", &username, json!({})).await;
                eprintln!("{username} may sign in again");
            } else {
                let detail = json!({"devices_signed_out": signed_out});
                cli_audit(&store, "user.disable", &username, detail).await;
                eprintln!("{username} is disabled; {signed_out} device(s) signed out");
            }
            Ok(())
        }
        Command::Device(DeviceCommand::List { username, all }) => {
            let user = match &username {
                Some(name) => Some(
                    store
                        .user_by_name(name)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no user {name}"))?
                        .id,
                ),
                None => None,
            };
            let devices = store.devices(user).await?;
            print!("{}", device_table(&devices, all));
            Ok(())
        }
        Command::Device(DeviceCommand::Revoke { id, wipe, yes }) => {
            let Some(device) = store.devices(None).await?.into_iter().find(|d| d.id == id) else {
                bail!("no device {id}; see ferry-server device list");
            };
            if wipe && !yes {
                eprintln!(
                    "{} ({}'s {}) will be signed out and, at its next contact, delete its local data: \
                     records, files and edits it has not sent, which are lost.\nType the user's name to go on:",
                    device.id, device.username, device.name
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if answer.trim() != device.username {
                    bail!("not confirmed; nothing changed");
                }
            }
            store.revoke_device(id, wipe).await?;
            let action = if wipe { "device.wipe" } else { "device.revoke" };
            let detail = json!({"username": device.username, "name": device.name});
            cli_audit(&store, action, &id.to_string(), detail).await;
            tracing::info!(username = ?device.username, device_id = %id, wipe, "device revoked by an administrator");
            eprintln!(
                "{}'s {} is signed out{}",
                device.username,
                device.name,
                if wipe {
                    "; it deletes its local data at its next contact"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::User(UserCommand::Passwd { username }) => {
            let hash = auth::hash_password(&read_password()?).map_err(anyhow::Error::msg)?;
            store.set_password(&username, &hash).await?;
            cli_audit(&store, "user.password", &username, json!({})).await;
            eprintln!("password of {username} changed; their devices must log in again");
            Ok(())
        }
        Command::Grant {
            names,
            team,
            everyone,
            where_,
            read,
            write,
            write_only,
            revoke,
        } => {
            let access = match (read, write, write_only, revoke) {
                (true, ..) => Some(Right::Read),
                (_, true, ..) => Some(Right::Write),
                (_, _, true, _) => Some(Right::WriteOnly),
                (.., true) => None,
                _ => bail!("say --read, --write, --write-only or --revoke"),
            };
            let (subject, collection) = match (team, everyone, names.as_slice()) {
                (Some(t), _, [c]) => (GrantSubject::Team(t), c.clone()),
                (None, true, [c]) => (GrantSubject::Everyone, c.clone()),
                (None, false, [u, c]) => (GrantSubject::User(u.clone()), c.clone()),
                (None, false, _) => {
                    bail!("say the user and the collection: grant USERNAME COLLECTION")
                }
                _ => bail!("with --team or --everyone, say only the collection"),
            };
            let values = where_values(&where_, &collection, &store).await?;
            let detail = json!({
                "subject": match &subject {
                    GrantSubject::User(name) => json!({"kind": "user", "name": name}),
                    GrantSubject::Team(name) => json!({"kind": "team", "name": name}),
                    GrantSubject::Everyone => json!({"kind": "everyone"}),
                },
                "access": access.map(Right::name),
                "values": values,
            });
            store
                .change_rules(RuleChange::Grant {
                    subject,
                    collection: collection.clone(),
                    access,
                    values,
                })
                .await?;
            let action = if access.is_some() {
                "grant.give"
            } else {
                "grant.take"
            };
            cli_audit(&store, action, &collection, detail).await;
            Ok(())
        }
        Command::Team(cmd) => {
            let (change, action, target, detail) = match cmd {
                TeamCommand::Add { name } => (
                    RuleChange::TeamAdd(name.clone()),
                    "team.add",
                    name,
                    json!({}),
                ),
                TeamCommand::Remove { name } => (
                    RuleChange::TeamRemove(name.clone()),
                    "team.remove",
                    name,
                    json!({}),
                ),
                TeamCommand::Member {
                    team,
                    username,
                    remove,
                } => (
                    RuleChange::Member {
                        team: team.clone(),
                        username: username.clone(),
                        add: !remove,
                    },
                    if remove {
                        "team.member_remove"
                    } else {
                        "team.member_add"
                    },
                    team,
                    json!({"username": username}),
                ),
                TeamCommand::List => {
                    for t in store.teams().await? {
                        println!("{}: {}", t.name, t.members.join(", "));
                    }
                    return Ok(());
                }
            };
            store.change_rules(change).await?;
            cli_audit(&store, action, &target, detail).await;
            Ok(())
        }
        Command::Schema(SchemaCommand::Apply { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let defs = schema_file::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            schema_change::apply(&store, &defs).await?;
            let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            cli_audit(
                &store,
                "schema.apply",
                &file.display().to_string(),
                json!({"collections": names}),
            )
            .await;
            eprintln!(
                "applied {} collection(s) from {}",
                defs.len(),
                file.display()
            );
            Ok(())
        }
        Command::SeedDemo => seed_demo(store).await,
        Command::Gc {
            files,
            grace_hours,
            dry_run,
        } => {
            let Some(blobs) = blob_location(&files, &cli.db)? else {
                bail!("this server keeps no files: say where they live with --blobs");
            };
            let grace = std::time::Duration::from_secs(grace_hours.saturating_mul(3600));
            let report = ferry_server::blobs::gc::collect(&store, &blobs, grace, dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "{} files kept ({} named by records, {} younger than {grace_hours} h); {verb} {} unnamed files ({}) and {} unfinished uploads ({})",
                report.kept_named + report.kept_young,
                report.kept_named,
                report.kept_young,
                report.deleted,
                ferry_server::blobs::megabytes(report.deleted_bytes),
                report.uploads_deleted,
                ferry_server::blobs::megabytes(report.uploads_bytes),
            );
            Ok(())
        }
        Command::Compact => {
            let r = ferry_server::maintenance::compact(&store).await?;
            println!(
                "removed {} old versions and {} deleted records past their retention{}",
                r.versions_removed,
                r.records_forgotten,
                if r.horizon > 0 {
                    format!(
                        "; clients whose cursor is older than {} pull everything again",
                        r.horizon
                    )
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Backup { to } => {
            let bytes = match sqlite_path(&cli.db) {
                Some(path) => ferry_server::maintenance::backup_sqlite(Path::new(path), &to)?,
                None => ferry_server::maintenance::backup_postgres(&store, &cli.db, &to).await?,
            };
            println!(
                "backed up {} to {} ({})",
                ferry_server::config::redact_url(&cli.db),
                to.display(),
                ferry_server::blobs::megabytes(bytes)
            );
            Ok(())
        }
        Command::Openapi | Command::Migrate { .. } | Command::Restore { .. } => Ok(()),
    }
}

fn sqlite_path(db: &str) -> Option<&str> {
    db.strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
}

async fn restore(db: &str, from: &Path, pg: &store::postgres::PgOptions) -> anyhow::Result<()> {
    let epoch = match sqlite_path(db) {
        Some(path) => {
            let (epoch, aside) =
                ferry_server::maintenance::restore_sqlite(from, Path::new(path)).await?;
            if let Some(aside) = aside {
                println!("the database as it was is kept at {}", aside.display());
            }
            epoch
        }
        None => ferry_server::maintenance::restore_postgres(db, from, pg).await?,
    };
    println!(
        "restored {} from {}; new epoch {epoch}: clients send again what the restore lost at their next sync",
        ferry_server::config::redact_url(db),
        from.display()
    );
    Ok(())
}

/// Notes a subcommand's change in the audit log, as done by `cli:<account>`
/// (the account that ran it). The change is made by then: a failure to
/// note it is a warning.
async fn cli_audit(store: &DynStore, action: &str, target: &str, detail: serde_json::Value) {
    let account = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let entry = store::NewAudit {
        actor: format!("cli:{account}"),
        device_id: None,
        ip: None,
        action: action.to_string(),
        target: target.to_string(),
        detail,
    };
    if let Err(e) = store.add_audit(entry).await {
        eprintln!("warning: the change is made, but the audit log could not note it: {e}");
    }
}

fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        bail!("the password is empty; give it on standard input");
    }
    Ok(password)
}

/// The file storage `args` set up for the database `db`; none: no files.
fn blob_settings(args: &ServeArgs, db: &str) -> anyhow::Result<Option<ferry_server::blobs::Blobs>> {
    if args.max_file_mb == 0 || args.max_file_mb > 1_048_576 {
        bail!("max_file_mb must be between 1 and 1048576");
    }
    let Some(mut blobs) = blob_location(&args.files, db)? else {
        return Ok(None);
    };
    blobs.max_blob_bytes = args.max_file_mb.saturating_mul(1024 * 1024);
    blobs.quota_bytes = args.file_quota_mb.map(|mb| mb.saturating_mul(1024 * 1024));
    Ok(Some(blobs))
}

/// The blob store and upload staging `args` name for the database `db`.
fn blob_location(args: &BlobArgs, db: &str) -> anyhow::Result<Option<ferry_server::blobs::Blobs>> {
    let setting = match (&args.blobs, db.strip_prefix("sqlite://")) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) if path != ":memory:" => {
            let beside = Path::new(path).parent().unwrap_or(Path::new("."));
            beside.join("blobs").to_string_lossy().into_owned()
        }
        _ => {
            tracing::warn!("no --blobs: this server keeps no attached files");
            return Ok(None);
        }
    };
    let store = ferry_server::blobs::open(&setting)?;
    let staging = match (&args.blob_staging, setting.starts_with("s3://")) {
        (Some(dir), _) => dir.clone(),
        (None, false) => {
            Path::new(setting.strip_prefix("file://").unwrap_or(&setting)).join("uploads")
        }
        (None, true) => {
            bail!("with --blobs s3://…, say where unfinished uploads wait: --blob-staging DIR")
        }
    };
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot make the upload directory {}", staging.display()))?;
    Ok(Some(ferry_server::blobs::Blobs::new(store, staging)))
}

async fn serve(store: DynStore, args: ServeArgs, db: &str) -> anyhow::Result<()> {
    // The config file's values skip the flags' range checks.
    if !(1..=36_500).contains(&args.mutation_horizon_days) {
        bail!("mutation_horizon_days must be between 1 and 36500");
    }
    if args.max_clock_drift_secs > 86_400 {
        bail!("max_clock_drift_secs must be at most 86400");
    }
    let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        mutation_horizon: std::time::Duration::from_secs(
            args.mutation_horizon_days.saturating_mul(24 * 3600),
        ),
        max_clock_drift: std::time::Duration::from_secs(args.max_clock_drift_secs),
        login_concurrency: args
            .login_concurrency
            .map_or_else(ferry_server::default_login_concurrency, as_usize),
        header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
        max_connections: as_usize(args.max_connections),
        max_event_streams: as_usize(args.max_event_streams),
        session_lifetime: std::time::Duration::from_secs(u64::from(args.session_days) * 24 * 3600),
        https: args.tls_cert.is_some(),
        ..Limits::default()
    };
    let (mut state, stop_streams) = AppState::new(store, limits).await?;
    state.blobs = blob_settings(&args, db)?.map(std::sync::Arc::new);
    state.releases = args.releases.map(Into::into);
    // A migration a stopped server left half done goes on.
    ferry_server::migration::resume(&state).await?;
    // Held while serving: `ferry-server restore` refuses to replace the database under us.
    let _serving = match sqlite_path(db) {
        Some(path) if path != ":memory:" => {
            Some(ferry_server::maintenance::hold_serve_lock(Path::new(path))?)
        }
        _ => None,
    };
    if args.compact_every_hours > 0 {
        ferry_server::maintenance::spawn_compaction(
            &state,
            std::time::Duration::from_secs(args.compact_every_hours * 3600),
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let MetricsListen::On(metrics_addr) = args.metrics_listen {
        // Metrics help run the server but are not the service: a taken
        // port is logged as an error and the API serves on.
        match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(metrics_listener) => serve_metrics(metrics_listener, state.clone()),
            Err(e) => tracing::error!(
                addr = %metrics_addr, error = %e,
                "cannot listen for metrics; serving without /metrics (see --metrics-listen)"
            ),
        }
    } else {
        tracing::info!("metrics are off (--metrics-listen off)");
    }
    match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => {
            tracing::info!(%addr, "serving HTTPS");
            println!("ferry-server listening on https://{addr}");
            let _ = std::io::stdout().flush();
            ferry_server::serve_tls(
                listener,
                state,
                stop_streams,
                shutdown_signal(),
                &cert,
                &key,
            )
            .await?;
        }
        _ => {
            tracing::info!(%addr, "serving HTTP");
            println!("ferry-server listening on http://{addr}");
            let _ = std::io::stdout().flush();
            ferry_server::serve(listener, state, stop_streams, shutdown_signal()).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves `GET /metrics` on `listener` in the background until the API
/// server shuts down (which turns `state.shutdown` true).
fn serve_metrics(listener: tokio::net::TcpListener, state: AppState) {
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, "serving metrics at /metrics"),
        Err(e) => tracing::warn!(error = %e, "serving metrics at an unknown address"),
    }
    let mut stopping = state.shutdown.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        let served = ferry_server::metrics::serve_metrics(
            listener,
            state,
            ferry_server::metrics::SAMPLE_EVERY,
            stopped,
        )
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// Idempotent: users that exist keep their password, records already loaded
/// are answered from their first push and not written again.
async fn seed_demo(store: DynStore) -> anyhow::Result<()> {
    demo::seed_schema_and_users(&store, auth::hash_password)
        .await
        .map_err(anyhow::Error::msg)?;
    let alice = store
        .user_by_name("alice")
        .await?
        .context("the demo user alice is missing")?;
    let (state, _) = AppState::new(store.clone(), Limits::default()).await?;
    let session = Session {
        user_id: alice.id,
        username: alice.username,
        device_id: uuid::Uuid::nil(),
    };
    let view = state.view(&session).await?;
    let ctx = PushContext {
        session,
        view: std::sync::Arc::new(view),
        clock: state.clock.clone(),
    };
    let hlc = Hlc::new(1_793_491_200_000, 0, "seed").context("seed stamp")?;
    let records = demo::demo_records();
    for chunk in records.chunks(500) {
        let mutations = chunk
            .iter()
            .map(|r| Mutation {
                mutation_id: r.id,
                collection: r.collection.to_string(),
                record_id: r.id,
                op: Op::Put,
                base_version: None,
                base: Default::default(),
                fields: r.fields.clone(),
                hlc: hlc.clone(),
            })
            .collect();
        let outcome = store.push(ctx.clone(), mutations).await?;
        if let Some(bad) = outcome.results.iter().find(|r| r.error.is_some()) {
            bail!("demo record rejected: {:?}", bad.error);
        }
    }
    eprintln!(
        "demo ready: {} records in contacts and tasks; users alice and bob (write), carol (reads the north's contacts); and admin, who signs in to the console at /admin; password \"demo\"",
        records.len()
    );
    Ok(())
}

/// The partition values of `--where FIELD=VALUE[,VALUE…]` options, checked
/// against the collection: it must be partitioned by FIELD.
async fn where_values(
    options: &[String],
    collection: &str,
    store: &DynStore,
) -> anyhow::Result<Vec<String>> {
    if options.is_empty() {
        return Ok(Vec::new());
    }
    let mut field: Option<&str> = None;
    let mut values = Vec::new();
    for o in options {
        let Some((f, v)) = o.split_once('=') else {
            bail!("--where takes FIELD=VALUE[,VALUE…], not {o:?}");
        };
        if field.is_some_and(|known| known != f) {
            bail!("--where names one field, the collection's partition field");
        }
        field = Some(f);
        values.extend(v.split(',').map(|v| v.trim().to_string()));
    }
    let defs = store.collections().await?;
    let def = defs
        .iter()
        .find(|d| d.name == collection)
        .with_context(|| format!("there is no collection \"{collection}\""))?;
    ferry_server::rules::check_where(def, field.unwrap_or_default(), &values)
        .map_err(anyhow::Error::msg)?;
    Ok(values)
}
