//! Helpers shared by the reliability tests: seeds that print themselves, the
//! workspace binaries, a `ferry-server` process whose logs the test reads,
//! and a TCP proxy that injects network faults.
//!
//! Each test also has a long mode for a manual soak (`FERRY_SOAK=1`).

pub mod fault_proxy;
pub mod ledger;
pub mod server_process;

use std::path::{Path, PathBuf};

/// True when the long (soak) mode was asked for with `FERRY_SOAK=1`.
pub fn soak() -> bool {
    std::env::var("FERRY_SOAK").is_ok_and(|v| v == "1")
}

/// `short` in `make test`, `long` in soak mode.
pub fn sized(short: usize, long: usize) -> usize {
    if soak() { long } else { short }
}

/// The seed for a randomised test: `FERRY_SEED` to replay one, else a fresh
/// one. It is printed first, so a failing run names the seed that replays it.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("FERRY_SEED") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("FERRY_SEED must be a number, not {s:?}")),
        Err(_) => rand::random(),
    };
    eprintln!("{test}: seed {seed} (replay with FERRY_SEED={seed})");
    seed
}

/// `target/<profile>/`, where Cargo put the workspace binaries.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// A workspace binary (`ferry`, `ferry-server`), which `make test` builds first.
pub fn tool(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p ferry-server -p ferry-cli`, as `make test` does)",
        path.display()
    );
    path
}
