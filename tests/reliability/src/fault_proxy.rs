//! A TCP proxy between a client and a server that injects the faults of a
//! real network: latency, connections reset in the middle of a response,
//! bodies cut short, traffic that vanishes (a black hole) and refused
//! connections.
//!
//! Changing the fault resets every open connection (as a network change
//! does), so connections a client keeps alive meet the new fault too.
//!
//! Resets use a zero `SO_LINGER`, which tokio deprecates because a non-zero
//! one blocks on drop; a zero one does not block.
#![allow(deprecated)]

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Connections are accepted and then nothing ever comes back.
    BlackHole,
    /// Connections are reset at once.
    Refuse,
}

pub struct FaultProxy {
    pub url: String,
    fault: Arc<Mutex<Fault>>,
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
        let fault = Arc::new(Mutex::new(Fault::None));
        let (generation, _) = watch::channel(0u64);
        let connections = Arc::new(AtomicUsize::new(0));
        let faulted = Arc::new(AtomicUsize::new(0));
        let (f, conns, hits, gen_tx) = (
            fault.clone(),
            connections.clone(),
            faulted.clone(),
            generation.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let fault = f.lock().map(|g| *g).unwrap_or(Fault::None);
                let severed = gen_tx.subscribe();
                match fault {
                    Fault::BlackHole => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(hold(client, severed));
                        continue;
                    }
                    Fault::Refuse => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_linger(Some(Duration::ZERO));
                        continue;
                    }
                    _ => {}
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, fault, severed, hits.clone()));
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

    /// The fault from now on; every open connection is reset.
    pub fn set(&self, fault: Fault) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
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

async fn relay(
    client: TcpStream,
    server: TcpStream,
    fault: Fault,
    mut severed: watch::Receiver<u64>,
    hits: Arc<AtomicUsize>,
) {
    let delay = match fault {
        Fault::Latency(d) => d,
        _ => Duration::ZERO,
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (stop, mut stopped) = oneshot::channel::<()>();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                r = cr.read(&mut buf) => match r {
                    Ok(n) if n > 0 => {
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
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut reset = false;
    loop {
        let n = tokio::select! {
            _ = severed.changed() => {
                reset = true;
                break;
            }
            r = sr.read(&mut buf) => match r {
                Ok(n) if n > 0 => n,
                _ => break,
            },
        };
        tokio::time::sleep(delay).await;
        match fault {
            Fault::ResetMidResponse | Fault::TruncateBody => {
                hits.fetch_add(1, Ordering::SeqCst);
                let _ = cw.write_all(&buf[..n / 2]).await;
                reset = fault == Fault::ResetMidResponse;
                break;
            }
            _ => {
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
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
