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

use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// A bound UDP socket.
#[derive(Debug)]
pub struct UdpEndpoint {
    socket: UdpSocket,
    local: SocketAddr,
}

impl UdpEndpoint {
    /// Binds `addr`; `poll` is how long a read waits before returning
    /// `WouldBlock`/`TimedOut` so the caller can look at other things.
    /// `rcvbuf` is the receive buffer to ask for (`SO_RCVBUF`; the kernel
    /// caps it at `net.core.rmem_max`); 0 keeps the system default.
    pub fn bind(addr: SocketAddr, poll: Duration, rcvbuf: usize) -> io::Result<UdpEndpoint> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if rcvbuf > 0 && socket.recv_buffer_size()? < rcvbuf {
            socket.set_recv_buffer_size(rcvbuf)?;
        }
        socket.bind(&addr.into())?;
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(poll))?;
        let local = socket.local_addr()?;
        Ok(UdpEndpoint { socket, local })
    }

    /// The receive buffer the kernel gave the socket, in bytes (Linux
    /// reports twice what was asked: it counts its bookkeeping too).
    pub fn recv_buffer(&self) -> io::Result<usize> {
        SockRef::from(&self.socket).recv_buffer_size()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's ceiling for `SO_RCVBUF`, where it says.
    fn rmem_max() -> Option<usize> {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[test]
    fn the_receive_buffer_asked_for_is_given_up_to_the_kernel_ceiling() {
        let poll = Duration::from_millis(10);
        let any = "127.0.0.1:0".parse().expect("address");
        let system = UdpEndpoint::bind(any, poll, 0).expect("bind");
        let default = system.recv_buffer().expect("getsockopt");
        let asked = default * 4;
        let big = UdpEndpoint::bind(any, poll, asked).expect("bind");
        let got = big.recv_buffer().expect("getsockopt");
        let ceiling = rmem_max().unwrap_or(asked);
        // Linux reports twice what was set (its bookkeeping counts).
        assert!(
            got >= asked.min(ceiling),
            "asked {asked}, got {got}, default {default}, rmem_max {ceiling}"
        );
        assert!(got > default || ceiling <= default, "{got} <= {default}");
        // A smaller request never shrinks the system default.
        let small = UdpEndpoint::bind(any, poll, 4096).expect("bind");
        assert!(small.recv_buffer().expect("getsockopt") >= default);
    }
}
