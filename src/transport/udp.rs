//! UDP: one socket per `listen`, shared by the workers that read it.
//!
//! Every UDP worker blocks in `recv_from` on the shared socket, as
//! Kamailio's UDP receivers do: the kernel hands each datagram to one
//! waiting thread, so a message reaches a script with no hop between
//! threads. A short read timeout lets idle workers notice a reload or a
//! shutdown.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bound UDP socket.
#[derive(Debug)]
pub struct UdpEndpoint {
    socket: UdpSocket,
    local: SocketAddr,
}

impl UdpEndpoint {
    /// Binds `addr`; `poll` is how long a read waits before returning
    /// `WouldBlock`/`TimedOut` so the caller can look at other things.
    pub fn bind(addr: SocketAddr, poll: Duration) -> io::Result<UdpEndpoint> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_read_timeout(Some(poll))?;
        let local = socket.local_addr()?;
        Ok(UdpEndpoint { socket, local })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Reads one datagram.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf)
    }

    /// Sends one datagram.
    pub fn send(&self, data: &[u8], dst: SocketAddr) -> io::Result<()> {
        let n = self.socket.send_to(data, dst)?;
        if n == data.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "sent {n} of {} bytes",
                data.len()
            )))
        }
    }
}

/// Whether an error from [`UdpEndpoint::recv`] only means "nothing came".
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
