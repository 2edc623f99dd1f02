//! login, logout, status, sync, offline, online.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use ferry_core::ConnState;
use serde::Serialize;

use crate::output::{say, say_err};
use crate::{Ctx, output};

fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        anyhow::bail!("no password given; type it, or pipe it on standard input");
    }
    Ok(password)
}

pub async fn login(ctx: &Ctx, server: &str, username: &str) -> anyhow::Result<ExitCode> {
    if let Some(warning) = ferry_core::sync::plain_http_warning(server) {
        say_err!("ferry: warning: {warning}");
    }
    let password = read_password()?;
    let account = ctx.client.login(server, username, &password).await?;
    if ctx.json {
        output::json(&account)?;
    } else {
        say!("logged in to {} as {}", account.server, account.username);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    ctx.client.logout().await?;
    if !ctx.json {
        say!(
            "logged out; local data and unsent edits stay in {}",
            ctx.client.profile().dir().display()
        );
    } else {
        output::json(&serde_json::json!({"logged_out": true}))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists this user's signed-in devices, or signs one out.
pub async fn devices(ctx: &Ctx, sign_out: Option<uuid::Uuid>) -> anyhow::Result<ExitCode> {
    if let Some(id) = sign_out {
        ctx.client.sign_out_device(id).await?;
        if ctx.json {
            output::json(&serde_json::json!({"signed_out": id}))?;
        } else {
            say!("device {id} is signed out; it must sign in again to sync");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let devices = ctx.client.devices().await?;
    if ctx.json {
        output::json(&devices)?;
        return Ok(ExitCode::SUCCESS);
    }
    for d in &devices {
        let system = [d.platform.as_str(), d.app_version.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        say!(
            "{}  {}{}  {}  last seen {} from {}; session ends {}",
            d.id,
            d.name,
            if d.current { " (this device)" } else { "" },
            if system.is_empty() { "-" } else { &system },
            d.last_seen,
            d.last_ip.as_deref().unwrap_or("-"),
            d.expires_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Status {
    server: Option<String>,
    username: Option<String>,
    logged_in: bool,
    /// Where the login token is kept: "keyring" or "file"; null when logged out.
    token_store: Option<ferry_core::TokenStore>,
    state: &'static str,
    outbox: i64,
    conflicts: i64,
    rejected: i64,
    records: i64,
    last_sync: Option<String>,
    cursor: Option<String>,
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let profile = ctx.client.profile();
    let store = ctx.store();
    let account = profile.account()?;
    let logged_in = profile.token()?.is_some();
    let token_store = if logged_in {
        profile.token_store()?
    } else {
        None
    };
    let state = match ctx.client.check_connection(Duration::from_secs(3)).await? {
        ConnState::Offline {
            by_choice: true, ..
        } => "working offline",
        _ if account.is_none() => "not logged in",
        ConnState::Online => "online",
        ConnState::Error { .. } => "error: incompatible server",
        _ => "offline (server unreachable)",
    };
    let counts = store.counts()?;
    let status = Status {
        server: account.as_ref().map(|a| a.server.clone()),
        username: account.as_ref().map(|a| a.username.clone()),
        logged_in,
        token_store,
        state,
        outbox: counts.outbox,
        conflicts: counts.conflicts,
        rejected: counts.rejected,
        records: counts.records,
        last_sync: store.last_sync()?,
        cursor: store.cursor()?,
    };
    if ctx.json {
        output::json(&status)?;
    } else {
        match (&status.server, &status.username) {
            (Some(s), Some(u)) => say!(
                "account:   {u} at {s}{}",
                if logged_in { "" } else { " (logged out)" }
            ),
            _ => say!("account:   none (run `ferry login SERVER_URL USERNAME`)"),
        }
        if let Some(store) = status.token_store {
            say!("token:     kept in {store}");
        }
        say!("state:     {}", status.state);
        say!("outbox:    {} pending", status.outbox);
        say!("conflicts: {}", status.conflicts);
        if status.rejected > 0 {
            say!(
                "rejected:  {} (see `ferry ls`, fix with `ferry set`)",
                status.rejected
            );
        }
        say!(
            "last sync: {}",
            status.last_sync.as_deref().unwrap_or("never")
        );
        say!(
            "cursor:    {}",
            status.cursor.as_deref().unwrap_or("(start)")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sync(ctx: &Ctx, retry_files: bool) -> anyhow::Result<ExitCode> {
    if retry_files {
        ctx.store().files_retry()?;
    }
    let report = ctx.client.sync().await?;
    if ctx.json {
        output::json(&report)?;
    } else {
        let p = &report.pushed;
        say!(
            "pushed {} (applied {}, merged {}, conflicts {}, rejected {}); pulled {}",
            p.total(),
            p.applied,
            p.merged,
            p.conflicts,
            p.rejected,
            report.pulled
        );
        if report.conflicts > 0 {
            say!(
                "{} conflict(s) wait for you: `ferry conflicts`",
                report.conflicts
            );
        }
        if report.rejected > 0 {
            say!(
                "{} record(s) were refused by the server: `ferry ls` shows the errors",
                report.rejected
            );
        }
    }
    for f in ctx.store().files_to_send()? {
        if f.upload.as_deref() != Some("failed") {
            continue;
        }
        let when = f
            .retry_at
            .map(|at| {
                format!("; it is sent again after {at}, or now with `ferry sync --retry-files`")
            })
            .unwrap_or_default();
        say_err!(
            "ferry: a file of {} ({}) could not be sent: {}{when}",
            crate::files::human_size(f.size),
            &f.sha256[..12.min(f.sha256.len())],
            f.error.as_deref().unwrap_or("unknown error")
        );
    }
    if report.outbox > 0 {
        say_err!("ferry: {} edit(s) are still in the outbox", report.outbox);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn set_offline(ctx: &Ctx, offline: bool) -> anyhow::Result<ExitCode> {
    ctx.client.set_work_offline(offline)?;
    if ctx.json {
        output::json(&serde_json::json!({"work_offline": offline}))?;
    } else if offline {
        say!("working offline: edits wait in the outbox until `ferry online`");
    } else {
        say!("online: `ferry sync` sends and fetches changes");
    }
    Ok(ExitCode::SUCCESS)
}
