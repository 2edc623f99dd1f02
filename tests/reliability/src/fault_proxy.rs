//! A TCP proxy between a client and a server that injects the faults of a
//! real network: latency, connections reset in the middle of a response,
//! bodies cut short, traffic that vanishes (a black hole) and refused
//! connections.
//!
//! Changing the fault resets every open connection (as a network change
//! does), so connections a client keeps alive meet the new fault too; except
//! a black hole, into which open connections fall silently (nothing is
//! reset, nothing arrives any more), as when a router on the way dies.
//!
//! [`FaultProxy::set_on_push`] aims a fault at pushes only: the push is
//! taken from the outbox and sent, and then its answer is cut or lost, or
//! (black hole) the push itself never reaches the server, while every other
//! request passes.
//!
//! Resets use a zero `SO_LINGER`, which tokio deprecates because a non-zero
//! one blocks on drop; a zero one does not block.
#![allow(deprecated)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass untouched.
    None,
    /// Every chunk, each way, waits this long.
    Latency(Duration),
    /// The server's answer starts, then the connection is reset (RST).
    ResetMidResponse,
    /// Half of the server's first chunk arrives, then the connection closes cleanly.
    TruncateBody,
    /// Nothing comes back: new connections are accepted and then held
    /// silent, open ones go silent.
    BlackHole,
    /// Connections are reset at once.
    Refuse,
}

/// The fault and what it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setting {
    fault: Fault,
    pushes_only: bool,
}

const PUSH: &[u8] = b"POST /v1/push";

pub struct FaultProxy {
    pub url: String,
    fault: Arc<Mutex<Setting>>,
    generation: watch::Sender<u64>,
    connections: Arc<AtomicUsize>,
    faulted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let fault = Arc::new(Mutex::new(Setting {
            fault: Fault::None,
            pushes_only: false,
        }));
        let (generation, _) = watch::channel(0u64);
        let connections = Arc::new(AtomicUsize::new(0));
        let faulted = Arc::new(AtomicUsize::new(0));
        let (f, conns, hits, gen_tx, now) = (
            fault.clone(),
            connections.clone(),
            faulted.clone(),
            generation.clone(),
            fault.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let setting = current(&f);
                let severed = gen_tx.subscribe();
                match setting.fault {
                    Fault::BlackHole if !setting.pushes_only => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(hold(client, severed));
                        continue;
                    }
                    Fault::Refuse if !setting.pushes_only => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_linger(Some(Duration::ZERO));
                        continue;
                    }
                    _ => {}
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(
                    client,
                    server,
                    setting,
                    severed,
                    now.clone(),
                    hits.clone(),
                ));
            }
        });
        FaultProxy {
            url,
            fault,
            generation,
            connections,
            faulted,
            task,
        }
    }

    /// The fault from now on, for all traffic; every open connection is
    /// reset, or falls silent into a black hole.
    pub fn set(&self, fault: Fault) {
        self.apply(Setting {
            fault,
            pushes_only: false,
        });
    }

    /// The fault from now on, for pushes only (on new connections; open
    /// ones are reset): `ResetMidResponse` and `TruncateBody` cut the answer
    /// to a push the server has committed, `BlackHole` swallows the push
    /// before the server sees it. Other requests pass untouched.
    pub fn set_on_push(&self, fault: Fault) {
        self.apply(Setting {
            fault,
            pushes_only: true,
        });
    }

    fn apply(&self, setting: Setting) {
        if let Ok(mut f) = self.fault.lock() {
            *f = setting;
        }
        self.generation.send_modify(|g| *g += 1);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections a fault acted on.
    pub fn faults_injected(&self) -> usize {
        self.faulted.load(Ordering::SeqCst)
    }
}

/// A black hole: the connection stays open and silent until the fault changes.
async fn hold(client: TcpStream, mut severed: watch::Receiver<u64>) {
    let _ = severed.changed().await;
    let _ = client.set_linger(Some(Duration::ZERO));
}

fn current(setting: &Mutex<Setting>) -> Setting {
    setting.lock().map(|g| *g).unwrap_or(Setting {
        fault: Fault::None,
        pushes_only: false,
    })
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    setting: Setting,
    mut severed: watch::Receiver<u64>,
    now: Arc<Mutex<Setting>>,
    hits: Arc<AtomicUsize>,
) {
    let fault = setting.fault;
    let delay = match fault {
        Fault::Latency(d) => d,
        _ => Duration::ZERO,
    };
    // Bytes that arrive after this are dropped, either way.
    let swallow = Arc::new(AtomicBool::new(false));
    // The client sent a push on this connection (for `pushes_only`).
    let pushing = Arc::new(AtomicBool::new(false));
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (stop, mut stopped) = oneshot::channel::<()>();
    let up = tokio::spawn({
        let (swallow, pushing, hits) = (swallow.clone(), pushing.clone(), hits.clone());
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    r = cr.read(&mut buf) => match r {
                        Ok(n) if n > 0 => {
                            if setting.pushes_only && buf[..n].starts_with(PUSH) {
                                pushing.store(true, Ordering::SeqCst);
                                if fault == Fault::BlackHole && !swallow.swap(true, Ordering::SeqCst) {
                                    hits.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            if swallow.load(Ordering::SeqCst) {
                                continue;
                            }
                            tokio::time::sleep(delay).await;
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    },
                }
            }
            let _ = sw.shutdown().await;
            cr
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut reset = false;
    loop {
        let n = tokio::select! {
            _ = severed.changed() => {
                let next = current(&now);
                if next.fault == Fault::BlackHole
                    && !next.pushes_only
                    && !swallow.swap(true, Ordering::SeqCst)
                {
                    // The network dies under an open connection: silence.
                    hits.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                reset = true;
                break;
            }
            r = sr.read(&mut buf) => match r {
                Ok(n) if n > 0 => n,
                _ => break,
            },
        };
        if swallow.load(Ordering::SeqCst) {
            continue;
        }
        tokio::time::sleep(delay).await;
        let hit = matches!(fault, Fault::ResetMidResponse | Fault::TruncateBody)
            && (!setting.pushes_only || pushing.load(Ordering::SeqCst));
        if hit {
            hits.fetch_add(1, Ordering::SeqCst);
            let _ = cw.write_all(&buf[..n / 2]).await;
            reset = fault == Fault::ResetMidResponse;
            break;
        }
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    if swallow.load(Ordering::SeqCst) && !reset {
        // Silent to the client, whatever the server does, until the network changes.
        let _ = severed.changed().await;
        reset = true;
    }
    let _ = stop.send(());
    if let Ok(cr) = up.await
        && let Ok(client) = cr.reunite(cw)
        && reset
    {
        // Closing with a zero linger time sends RST instead of FIN.
        let _ = client.set_linger(Some(Duration::ZERO));
    }
}
