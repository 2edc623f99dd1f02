//! Ferry benchmarks. Each suite prints one JSON object with its figures, the
//! targets, and ratios to a raw reference measured in the same run.
//!
//! `cargo run --release -p ferry-bench -- server|client|everyday [--records N]`
//! `cargo run --release -p ferry-bench -- load` (see load.rs)
//! `cargo run --release -p ferry-bench -- rows` (see rows.rs)
//! `cargo run --release -p ferry-bench -- scale` (see scale.rs)

mod client;
mod dataset;
mod encryption;
mod everyday;
mod files;
mod harness;
mod load;
mod rows;
mod scale;
mod server;

use std::process::ExitCode;

/// How the benches open profiles: encrypted as Ferry ships, with a
/// passphrase (no keyring here), unless `FERRY_ENCRYPTION=off`.
pub(crate) fn unlock() -> ferry_core::Unlock {
    let unlock =
        ferry_core::Unlock::new(ferry_core::KeyringUse::Off).passphrase("bench passphrase");
    match std::env::var("FERRY_ENCRYPTION").as_deref() {
        Ok("off") => unlock.unencrypted(),
        _ => unlock,
    }
}

fn main() -> ExitCode {
    // `FERRY_LOG=ferry_core=debug` shows where a suite's time goes.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let records = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let result = match args.first().map(String::as_str) {
        Some("server") => server::run(records),
        Some("client") => client::run(records),
        Some("encryption") => encryption::run(records),
        Some("everyday") => everyday::run(records),
        Some("load") => load::run(&args[1..]),
        Some("files") => files::run(),
        Some("scale" | "scale-pull-child" | "scale-server-child") => scale::run(&args),
        Some("rows") => {
            let values = args
                .iter()
                .position(|a| a == "--values")
                .and_then(|i| args.get(i + 1))
                .and_then(|n| n.parse().ok())
                .unwrap_or(100);
            let records = if args.iter().any(|a| a == "--records") {
                records
            } else {
                1_000_000
            };
            rows::run(records, values)
        }
        _ => {
            eprintln!(
                "usage: ferry-bench server|client|encryption|everyday [--records N]\n       ferry-bench load [--clients 200] [--secs 60] [--pace 10] [--only a|b|c]\n       ferry-bench rows [--records 1000000] [--values 100]   (PostgreSQL too when FERRY_TEST_PG_URL is set)\n       ferry-bench files   (needs the ferry binary beside it)\n       ferry-bench scale [--records 1000000] [--clients 1000] [--active 50] [--secs 60] [--pace 10] [--only sqlite|postgres|postgres2] [--no-pull] [--dir DIR]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferry-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
