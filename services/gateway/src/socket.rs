//! The gateway's public listener, with its sockets' kernel buffers sized.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Binds `host:port`; accepted sockets inherit its buffer sizes (unset:
/// the kernel's autotuning).
pub(crate) fn listen(host: &str, port: u16, buffer: Option<u32>) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(host.parse()?, port);
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if let Some(size) = buffer {
        socket.set_recv_buffer_size(size)?;
        socket.set_send_buffer_size(size)?;
    }
    socket.bind(addr)?;
    Ok(socket.listen(1024)?)
}
