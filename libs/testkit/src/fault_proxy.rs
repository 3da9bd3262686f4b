//! A TCP proxy that sits between a client and a real server and breaks the
//! link on demand: slow it down, refuse new connections, swallow traffic, or
//! cut the connections that are open. Tests put it in front of PostgreSQL,
//! RabbitMQ or another service; they never stop the real server itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to traffic right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before every chunk is forwarded, in both directions.
    pub latency: Duration,
    /// New connections are refused (the listening socket is closed).
    pub refuse: bool,
    /// Bytes are read and thrown away: the peer sees a link that hangs.
    pub blackhole: bool,
}

/// A running proxy. Dropping it stops it and closes every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: watch::Sender<Faults>,
    /// Bumped to tell every live connection to close at once.
    cut: watch::Sender<u64>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (faults, faults_rx) = watch::channel(Faults::default());
        let (cut, cut_rx) = watch::channel(0);
        let acceptor = tokio::spawn(accept_loop(listener, addr, upstream, faults_rx, cut_rx));
        Ok(Self { addr, faults, cut, acceptor })
    }

    /// The address clients should connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn add_latency(&self, latency: Duration) {
        self.faults.send_modify(|f| f.latency = latency);
    }

    /// Closes the listening socket, so connecting fails with "connection refused".
    pub fn refuse_connections(&self) {
        self.faults.send_modify(|f| f.refuse = true);
    }

    /// Keeps connections open but forwards nothing, like a peer that stopped answering.
    pub fn blackhole(&self) {
        self.faults.send_modify(|f| f.blackhole = true);
    }

    /// Resets every live connection now; new ones are still accepted.
    pub fn cut_connections(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }

    /// Back to a clean link (connections already cut stay closed).
    pub fn restore(&self) {
        self.faults.send_replace(Faults::default());
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut_connections();
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut faults: watch::Receiver<Faults>,
    cut: watch::Receiver<u64>,
) {
    let mut listener = Some(listener);
    loop {
        let refusing = faults.borrow_and_update().refuse;
        match (&listener, refusing) {
            (Some(_), true) => listener = None,
            (None, false) => match rebind(addr).await {
                Some(rebound) => listener = Some(rebound),
                None => return,
            },
            _ => {}
        }
        let Some(open) = &listener else {
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                tokio::spawn(proxy_connection(client, upstream, faults.clone(), cut.clone()));
            }
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
}

/// The port was ours a moment ago; SO_REUSEADDR (tokio's default on Unix)
/// lets us take it back even with connections in TIME_WAIT.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..50 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return Some(listener);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn proxy_connection(
    client: TcpStream,
    upstream: SocketAddr,
    faults: watch::Receiver<Faults>,
    mut cut: watch::Receiver<u64>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    cut.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let faults = Arc::new(faults);
    tokio::select! {
        _ = pump(client_read, server_write, faults.clone()) => {}
        _ = pump(server_read, client_write, faults) => {}
        _ = cut.changed() => {}
    }
    // Dropping both halves of both sockets closes them.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Arc<watch::Receiver<Faults>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = *faults.borrow();
        if now.blackhole {
            continue;
        }
        if !now.latency.is_zero() {
            tokio::time::sleep(now.latency).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
