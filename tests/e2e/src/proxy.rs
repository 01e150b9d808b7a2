//! A TCP proxy on loopback that a scenario controls: it forwards to an upstream address,
//! records when its client sent data (TLS passes through untouched, so only times and
//! sizes are known), and can be cut — every open connection dropped, new ones closed as
//! soon as they are accepted — and healed. A controller whose kubeconfig names a proxy
//! can so be cut off from the API server without being stopped, and one whose Azure
//! endpoint names another leaves a record of every request it sent to Azure.
//!
//! Each proxy runs on its own thread and runtime: a scenario blocking its own thread for
//! a moment must not stall the traffic of the processes under test.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::chart::EnvSource;
use crate::cluster::Cluster;
use crate::controller::Install;
use crate::emulator::Emulator;
use crate::error::{Error, Result};

/// Longest wait for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A TLS alert (close_notify: 24 bytes with TLS 1.3, 31 with TLS 1.2) is no request; an
/// HTTP request in a TLS record is far larger (headers and a bearer token).
pub const LARGEST_ALERT: usize = 64;

/// Milliseconds since the Unix epoch, the clock of the emulator's call log.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Data a client sent through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub connection: u64,
    /// When the proxy read it, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub bytes: usize,
}

impl Sent {
    /// Large enough to carry a request (see [`LARGEST_ALERT`]).
    pub fn is_request(&self) -> bool {
        self.bytes > LARGEST_ALERT
    }
}

struct Shared {
    cut: watch::Sender<bool>,
    sent: Mutex<Vec<Sent>>,
    connections: AtomicU64,
    refused: AtomicU64,
}

/// A running proxy; stopped when dropped.
pub struct TcpProxy {
    pub name: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// `host:port` of an `https://host:port/...` URL, resolved.
pub fn upstream_of(url: &str) -> Result<SocketAddr> {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    authority
        .to_socket_addrs()
        .map_err(Error::io(format!("resolving {authority} (from {url})")))?
        .next()
        .ok_or_else(|| Error::Setup(format!("{authority} (from {url}) resolves to nothing")))
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(name: &str, upstream: SocketAddr) -> Result<Self> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(Error::io(format!("binding proxy {name}")))?;
        listener
            .set_nonblocking(true)
            .map_err(Error::io(format!("binding proxy {name}")))?;
        let addr = listener
            .local_addr()
            .map_err(Error::io(format!("binding proxy {name}")))?;
        let shared = Arc::new(Shared {
            cut: watch::Sender::new(false),
            sent: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::io(format!("a runtime for proxy {name}")))?;
        let serving = shared.clone();
        let label = name.to_string();
        std::thread::Builder::new()
            .name(format!("proxy-{name}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, upstream, serving, stopped).await,
                        Err(e) => eprintln!("[e2e] proxy {label}: cannot listen: {e}"),
                    }
                });
            })
            .map_err(Error::io(format!("starting proxy {name}")))?;
        Ok(Self {
            name: name.to_string(),
            addr,
            shared,
            stop,
        })
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Drops every open connection and closes new ones at once.
    pub fn cut(&self) {
        self.shared.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.shared.cut.send_replace(false);
    }

    /// Everything clients sent, in the order the proxy read it.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests (not TLS alerts) clients sent after `at_ms`.
    pub fn requests_after(&self, at_ms: u64) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.at_ms > at_ms && s.is_request())
            .collect()
    }

    /// When a client last sent a request, if ever.
    pub fn last_request_ms(&self) -> Option<u64> {
        self.sent()
            .iter()
            .filter(|s| s.is_request())
            .map(|s| s.at_ms)
            .max()
    }

    /// Connections forwarded and connections closed because the proxy was cut.
    pub fn connection_counts(&self) -> (u64, u64) {
        (
            self.shared.connections.load(Ordering::SeqCst),
            self.shared.refused.load(Ordering::SeqCst),
        )
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // The thread's runtime ends at once, closing every connection.
        self.stop.send_replace(true);
    }
}

async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else {
            // A failed accept (a client gone already) is the client's problem.
            continue;
        };
        if *shared.cut.borrow() {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::spawn(forward(client, upstream, id, shared.clone()));
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, id: u64, shared: Arc<Shared>) {
    let mut cut = shared.cut.subscribe();
    let server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await {
        Ok(Ok(server)) => server,
        // The client sees its connection closed, as with an unreachable server.
        _ => return,
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let recorder = shared.clone();
    let upstream_way = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            recorder
                .sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Sent {
                    connection: id,
                    at_ms: epoch_ms(),
                    bytes: n,
                });
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream_way = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        _ = cut.wait_for(|c| *c) => {}
        _ = async { tokio::join!(upstream_way, downstream_way) } => {}
    }
}

/// A copy of `install` for one replica whose API server is `kube` and whose Azure (ARM
/// and the token endpoint) is `azure`; the token audience stays the emulator's own.
pub fn install_through(
    cluster: &Cluster,
    install: &Install,
    emulator: &Emulator,
    dir: &Path,
    replica: &str,
    kube: &TcpProxy,
    azure: &TcpProxy,
) -> Result<Install> {
    let text = std::fs::read_to_string(&install.kubeconfig)
        .map_err(Error::io_path("reading", &install.kubeconfig))?;
    let server = format!("server: {}", cluster.apiserver_url);
    if !text.contains(&server) {
        return Err(Error::Setup(format!(
            "{} does not name {server}",
            install.kubeconfig.display()
        )));
    }
    let kubeconfig: PathBuf = dir.join(format!("{}-{replica}.kubeconfig", install.release));
    write_private(
        &kubeconfig,
        &text.replace(&server, &format!("server: {}", kube.url())),
    )?;
    let mut through = install.clone();
    through.kubeconfig = kubeconfig;
    let azure_url = format!("{}/", azure.url());
    for name in ["AZURE_RESOURCE_MANAGER_ENDPOINT", "AZURE_AUTHORITY_HOST"] {
        let entry = through
            .launch
            .env
            .iter_mut()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Check(format!("the chart sets no {name}")))?;
        entry.1 = EnvSource::Value(azure_url.clone());
    }
    through.launch.env.push((
        "AZURE_RESOURCE_MANAGER_AUDIENCE".to_string(),
        EnvSource::Value(emulator.endpoint.clone()),
    ));
    Ok(through)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io_path("writing", path))?;
    file.write_all(text.as_bytes())
        .map_err(Error::io_path("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_records_cuts_and_heals() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let echo = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let upstream = echo.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = echo.accept().await {
                    tokio::spawn(async move {
                        let (mut r, mut w) = socket.split();
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                    });
                }
            });
            let proxy = TcpProxy::start("test", upstream).unwrap();
            let mut conn = TcpStream::connect(proxy.addr).await.unwrap();
            let request = vec![b'x'; 200];
            conn.write_all(&request).await.unwrap();
            let mut back = vec![0u8; 200];
            tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut back))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(back, request);
            assert_eq!(proxy.sent().iter().map(|s| s.bytes).sum::<usize>(), 200);
            assert!(proxy.last_request_ms().is_some());

            proxy.cut();
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest))
                .await
                .unwrap();
            assert!(
                read.is_err() || rest.is_empty(),
                "the open connection is dropped"
            );
            let mut refused = TcpStream::connect(proxy.addr).await.unwrap();
            let mut one = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut one))
                .await
                .unwrap();
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "a new one is closed at once"
            );

            proxy.heal();
            let mut again = TcpStream::connect(proxy.addr).await.unwrap();
            again.write_all(b"ping").await.unwrap();
            let mut pong = [0u8; 4];
            tokio::time::timeout(Duration::from_secs(5), again.read_exact(&mut pong))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&pong, b"ping");
            assert_eq!(proxy.connection_counts().0, 2);
        });
    }

    #[test]
    fn upstreams_come_from_urls() {
        assert_eq!(
            upstream_of("https://127.0.0.1:6443").unwrap(),
            "127.0.0.1:6443".parse().unwrap()
        );
        assert_eq!(
            upstream_of("https://127.0.0.1:18443/").unwrap(),
            "127.0.0.1:18443".parse().unwrap()
        );
    }
}
