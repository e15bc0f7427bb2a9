//! One transaction: the server side (the request received, the reply sent
//! upstream) and its client branches (the requests sent downstream), with
//! the RFC 3261 §17 state of each and the §16.7 choice of the reply to
//! send upstream.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::ctx::MsgState;
use crate::sip::{Method, SipMsg};
use crate::transport::{Proto, RecvInfo};

/// Where a message goes: protocol, address, and the connection to reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub proto: Proto,
    pub addr: SocketAddr,
    pub conn: Option<u64>,
}

/// The state of a client branch (RFC 3261 §17.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchState {
    /// Sent, nothing received (Calling / Trying).
    Calling,
    /// A provisional reply was received.
    Proceeding,
    /// A final reply was received (or the branch timed out).
    Completed,
}

/// One request sent downstream.
#[derive(Debug)]
pub struct Branch {
    /// The branch parameter of our Via: how replies find this branch.
    pub branch_id: String,
    pub uri: String,
    pub target: Target,
    /// The bytes sent, for retransmission and to build CANCEL/ACK.
    pub request: Vec<u8>,
    pub state: BranchState,
    /// The best final reply so far on this branch (code and bytes).
    pub final_code: u16,
    pub final_reply: Option<Vec<u8>>,
    /// The highest provisional code seen.
    pub provisional: u16,
    pub timed_out: bool,
    /// A CANCEL was sent (or is due once a provisional arrives).
    pub cancel_sent: bool,
    pub cancel_pending: bool,
    /// Retransmission interval (Timer A/E), doubling up to T2.
    pub retr_interval: Duration,
    pub next_retr: Option<Instant>,
    /// When the branch gives up (Timer B/F, fr_timer / fr_inv_timer).
    pub fr_deadline: Instant,
    /// Replies from the failure route of an earlier round are not picked
    /// again (`t_drop_replies`).
    pub dropped: bool,
    /// Which serial-forking round (failure route call) created it.
    pub round: u32,
}

/// The armed script callbacks of a transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Callbacks {
    pub on_failure: Option<String>,
    pub on_branch: Option<String>,
    pub on_reply: Option<String>,
    pub on_branch_failure: Option<String>,
}

/// Per-transaction settings a script may change (`t_set_fr`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnSettings {
    pub fr: Duration,
    pub fr_inv: Duration,
    pub t1: Duration,
    pub t2: Duration,
    pub auto_inv_100: bool,
    pub disable_6xx: bool,
    pub disable_internal_reply: bool,
}

/// The server side: what we received and what we answered.
#[derive(Debug)]
pub struct Uas {
    /// The request as received (with the received/rport Via edits).
    pub request: SipMsg,
    pub recv: RecvInfo,
    /// Where replies go (RFC 3261 §18.2.2).
    pub reply_target: Target,
    /// The last reply sent upstream, for retransmissions of the request.
    pub last_reply: Option<Vec<u8>>,
    /// The status of the last reply sent upstream (0: none).
    pub status: u16,
    /// Our To-tag, for locally generated replies.
    pub to_tag: String,
    /// For INVITE: when the final reply is retransmitted next (Timer G),
    /// until an ACK arrives.
    pub next_reply_retr: Option<Instant>,
    pub reply_retr_interval: Duration,
    pub acked: bool,
}

/// A transaction.
#[derive(Debug)]
pub struct Transaction {
    pub id: u64,
    /// Its key in the table ([`super::server_key`]).
    pub key: Option<super::TxnKey>,
    pub method: Method,
    pub uas: Uas,
    pub branches: Vec<Branch>,
    /// The request as it was relayed (edits applied, without our Via):
    /// the base of the request a failure route sees and relays again.
    pub template: Option<Vec<u8>>,
    pub callbacks: Callbacks,
    pub settings: TxnSettings,
    /// Flags, AVPs and the destination set the routes share.
    pub state: MsgState,
    /// A CANCEL for this INVITE was received.
    pub canceled: bool,
    /// How many times the failure route ran (serial forking rounds).
    pub rounds: u32,
    /// The final reply was sent upstream; the transaction waits to be
    /// freed.
    pub completed: bool,
    /// When the transaction is removed from the table (wait timer).
    pub free_at: Option<Instant>,
    /// A failure route is running or pending for this transaction.
    pub in_failure: bool,
    pub created: Instant,
}

impl Transaction {
    /// Whether every branch has a final reply (or timed out).
    pub fn all_branches_final(&self) -> bool {
        self.branches
            .iter()
            .all(|b| b.state == BranchState::Completed)
    }

    /// The branch whose final reply goes upstream when all branches failed
    /// (RFC 3261 §16.7 step 6): a 6xx first, then the lowest class in the
    /// order 4xx (401/407 preferred), 3xx, 5xx; 408 for timeouts; 503 is
    /// sent as 500. Returns the branch index, or `None` when no branch has
    /// anything to offer (then a 408 or 500 is generated locally).
    pub fn best_failure(&self) -> Option<usize> {
        let rank = |code: u16| -> u32 {
            match code {
                600..=699 if !self.settings.disable_6xx => 0,
                401 | 407 => 10,
                402..=499 | 400 => 20 + u32::from(code - 400),
                300..=399 => 200 + u32::from(code - 300),
                500..=599 => 400 + u32::from(code - 500),
                600..=699 => 600 + u32::from(code - 600),
                _ => 1000,
            }
        };
        self.branches
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.dropped && b.final_code >= 300)
            .min_by_key(|(_, b)| rank(b.final_code))
            .map(|(i, _)| i)
    }

    /// The most relevant status code: the final sent upstream, else the
    /// best branch reply, else the highest provisional.
    pub fn status_code(&self) -> Option<u16> {
        if self.uas.status >= 200 {
            return Some(self.uas.status);
        }
        if let Some(i) = self.best_failure() {
            return Some(self.branches[i].final_code);
        }
        self.branches
            .iter()
            .map(|b| b.provisional)
            .max()
            .filter(|c| *c > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(code: u16) -> Branch {
        Branch {
            branch_id: String::new(),
            uri: String::new(),
            target: Target {
                proto: Proto::Udp,
                addr: "127.0.0.1:5060".parse().expect("addr"),
                conn: None,
            },
            request: Vec::new(),
            state: BranchState::Completed,
            final_code: code,
            final_reply: None,
            provisional: 0,
            timed_out: code == 408,
            cancel_sent: false,
            cancel_pending: false,
            retr_interval: Duration::from_millis(500),
            next_retr: None,
            fr_deadline: Instant::now(),
            dropped: false,
            round: 0,
        }
    }

    fn txn(codes: &[u16]) -> Transaction {
        let req = SipMsg::parse(
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        )
        .expect("valid");
        let recv = RecvInfo {
            proto: Proto::Udp,
            src: "127.0.0.1:5070".parse().expect("addr"),
            local: "127.0.0.1:5060".parse().expect("addr"),
            conn: None,
        };
        Transaction {
            key: None,
            id: 1,
            method: Method::Invite,
            uas: Uas {
                request: req,
                recv,
                reply_target: Target {
                    proto: Proto::Udp,
                    addr: recv.src,
                    conn: None,
                },
                last_reply: None,
                status: 0,
                to_tag: String::new(),
                next_reply_retr: None,
                reply_retr_interval: Duration::from_millis(500),
                acked: false,
            },
            branches: codes.iter().map(|&c| branch(c)).collect(),
            template: None,
            callbacks: Callbacks::default(),
            settings: TxnSettings {
                fr: Duration::from_secs(30),
                fr_inv: Duration::from_secs(120),
                t1: Duration::from_millis(500),
                t2: Duration::from_secs(4),
                auto_inv_100: true,
                disable_6xx: false,
                disable_internal_reply: false,
            },
            state: MsgState::default(),
            canceled: false,
            rounds: 0,
            completed: false,
            free_at: None,
            in_failure: false,
            created: Instant::now(),
        }
    }

    #[test]
    fn best_reply_follows_rfc_3261_16_7() {
        assert_eq!(txn(&[486, 603, 404]).best_failure(), Some(1), "6xx wins");
        assert_eq!(
            txn(&[503, 404, 302]).best_failure(),
            Some(1),
            "4xx before 3xx and 5xx"
        );
        assert_eq!(
            txn(&[503, 407, 404]).best_failure(),
            Some(1),
            "challenges first among 4xx"
        );
        assert_eq!(txn(&[503, 302]).best_failure(), Some(1), "3xx before 5xx");
        assert_eq!(
            txn(&[408, 486]).best_failure(),
            Some(0),
            "408 is a 4xx like any other, the lowest"
        );
        let mut t = txn(&[486, 404]);
        t.branches[1].dropped = true;
        assert_eq!(t.best_failure(), Some(0), "dropped replies are not picked");
        let mut t = txn(&[603, 486]);
        t.settings.disable_6xx = true;
        assert_eq!(t.best_failure(), Some(1));
    }
}
