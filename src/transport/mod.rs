//! Transports: UDP and TCP sockets, and what a received message carries
//! about where it came from.
//!
//! Transports move bytes. They know nothing of scripts or of SIP routing:
//! a received message is handed on with its [`RecvInfo`], and sending takes
//! bytes and a destination.

pub mod tcp;
pub mod udp;

use std::net::SocketAddr;

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    /// The lower-case name, as in `listen=udp:...` and `$pr`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }

    /// The upper-case name used in Via headers.
    pub fn via_name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
}

/// Where a message came from and on which local socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvInfo {
    pub proto: Proto,
    /// The peer's address.
    pub src: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The TCP connection it arrived on, for replies over the same one.
    pub conn: Option<u64>,
}
