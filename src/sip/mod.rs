//! The SIP message model: a zero-copy parser with deferred edits.
//!
//! This is the per-message hot path of the server. A received datagram (or a
//! frame cut from a stream with [`frame`]) is moved into a [`SipMsg`], which
//! records in one pass where the start line's parts, each header and the
//! body are, and allocates nothing more for typical messages. Every value
//! read from it is a slice of the received bytes. Typed views (Via, From,
//! To, CSeq, Contact, Route, ...) are parsed only when asked for and cached.
//!
//! Changes are recorded as edits against the original bytes, the way
//! Kamailio's "lumps" work, and applied in one pass when the message is
//! serialised into a reusable output buffer. Reads keep seeing the original
//! until [`SipMsg::apply_changes`] rebuilds it; the Request-URI and the
//! destination URI are fields that change at once.
//!
//! ```
//! use kemid::sip::{HeaderName, SipMsg};
//!
//! let msg = SipMsg::parse(
//!     "OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!      v: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport\r\n\
//!      f: <sip:alice@example.com>;tag=1\r\n\
//!      t: <sip:bob@example.com>\r\n\
//!      i: abc\r\n\
//!      CSeq: 1 OPTIONS\r\n\
//!      l: 0\r\n\r\n",
//! )?;
//! assert_eq!(msg.top_via()?.host(), "[2001:db8::1]");
//! assert_eq!(msg.from_header()?.tag(), Some("1"));
//! assert_eq!(msg.header(HeaderName::CallId).map(|h| h.value), Some("abc"));
//!
//! let mut msg = msg;
//! msg.add_header("X-Seen", "yes")?;
//! let mut out = Vec::new();
//! msg.write_into(&mut out);
//! assert!(out.ends_with(b"l: 0\r\nX-Seen: yes\r\n\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buffer;
mod contact;
mod cseq;
mod edit;
mod error;
mod framing;
mod header;
mod index;
mod method;
mod msg;
mod name_addr;
mod nat;
mod parse;
mod reply;
mod serialize;
mod span;
mod text;
mod uri;
mod via;
mod views;

pub use contact::Contacts;
pub use cseq::CSeq;
pub use error::{EditError, ParseError, ParseErrorKind, ReplyError, ViewError};
pub use framing::{frame, header_block_len, Frame, Framer};
pub use header::{Header, HeaderName};
pub use method::Method;
pub use msg::{SipMsg, StartLine};
pub use name_addr::{NameAddr, NameAddrList};
pub use nat::ViaFix;
pub use parse::{Limits, MAX_HEADERS, MAX_MSG_SIZE};
pub use reply::{build_bad_request, build_reply, default_reason};
pub use span::Span;
pub use text::{split_commas, unquote, Param, Params};
pub use uri::{Scheme, Uri};
pub use via::{Via, ViaList};
