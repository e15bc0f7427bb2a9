//! Request methods.
//!
//! Routing scripts branch on the method of nearly every request, so the
//! request line and the CSeq header turn it into a small enum once instead of
//! comparing strings again and again. Unknown (extension) methods map to
//! [`Method::Other`]; their text stays available from the message.
//!
//! RFC 3261 §7.1 makes method names case-sensitive, so `invite` is an
//! extension method, not INVITE. The HTTP methods are listed because the
//! SIP listening sockets may also carry plain HTTP (Kamailio's `xhttp`).

/// A SIP (or HTTP) request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261)
    Invite,
    /// ACK (RFC 3261)
    Ack,
    /// BYE (RFC 3261)
    Bye,
    /// CANCEL (RFC 3261)
    Cancel,
    /// REGISTER (RFC 3261)
    Register,
    /// OPTIONS (RFC 3261)
    Options,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// REFER (RFC 3515)
    Refer,
    /// INFO (RFC 6086)
    Info,
    /// UPDATE (RFC 3311)
    Update,
    /// PRACK (RFC 3262)
    Prack,
    /// MESSAGE (RFC 3428)
    Message,
    /// KDMQ, Kamailio's distributed message queue
    Kdmq,
    /// HTTP GET
    Get,
    /// HTTP POST
    Post,
    /// HTTP PUT
    Put,
    /// HTTP DELETE
    Delete,
    /// Any other method; the message keeps its text.
    Other,
}

const ALL: [(&str, Method); 19] = [
    ("INVITE", Method::Invite),
    ("ACK", Method::Ack),
    ("BYE", Method::Bye),
    ("CANCEL", Method::Cancel),
    ("REGISTER", Method::Register),
    ("OPTIONS", Method::Options),
    ("SUBSCRIBE", Method::Subscribe),
    ("NOTIFY", Method::Notify),
    ("PUBLISH", Method::Publish),
    ("REFER", Method::Refer),
    ("INFO", Method::Info),
    ("UPDATE", Method::Update),
    ("PRACK", Method::Prack),
    ("MESSAGE", Method::Message),
    ("KDMQ", Method::Kdmq),
    ("GET", Method::Get),
    ("POST", Method::Post),
    ("PUT", Method::Put),
    ("DELETE", Method::Delete),
];

impl Method {
    /// Classifies a method name (case-sensitive, as RFC 3261 requires).
    pub fn from_bytes(name: &[u8]) -> Method {
        // The length test rejects almost every candidate before any byte
        // comparison, which keeps this cheap enough for the request line.
        for (text, m) in ALL {
            if text.len() == name.len() && text.as_bytes() == name {
                return m;
            }
        }
        Method::Other
    }

    /// The canonical name, or `None` for [`Method::Other`] (whose text only
    /// the message knows).
    pub fn as_str(self) -> Option<&'static str> {
        ALL.iter().find(|(_, m)| *m == self).map(|(t, _)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_known_methods() {
        for (text, m) in ALL {
            assert_eq!(Method::from_bytes(text.as_bytes()), m);
            assert_eq!(m.as_str(), Some(text));
        }
    }

    #[test]
    fn case_sensitive_and_other() {
        assert_eq!(Method::from_bytes(b"invite"), Method::Other);
        assert_eq!(Method::from_bytes(b"FOO"), Method::Other);
        assert_eq!(Method::from_bytes(b""), Method::Other);
        assert_eq!(Method::Other.as_str(), None);
    }
}
