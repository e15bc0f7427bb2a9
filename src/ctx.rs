//! The context a script callback runs in: the message being routed, the
//! worker's own state, and what the script asked the core to do afterwards.
//!
//! Exports receive `&mut Ctx`; engines create one per callback and never
//! look inside beyond [`Ctx::take_unwind`].

use crate::pv::{Avps, WorkerVars};
use crate::sip::SipMsg;
use crate::transport::{Proto, RecvInfo};

/// What exports may ask of the running server: who "myself" is, and how to
/// send. The server implements it; tests use small implementations.
pub trait CoreServices {
    /// Whether `host` (an IP address or a name, IPv6 with or without
    /// brackets) with `port` (`None`: any of ours) and `proto` (`None`: any)
    /// names this server: a listen address or an alias.
    fn is_myself(&self, host: &str, port: Option<u16>, proto: Option<Proto>) -> bool;

    /// Sends `data` to `dst`: over the TCP connection `conn` when given and
    /// still open, else from the local socket of `proto` (a new TCP
    /// connection when needed).
    fn send(
        &self,
        proto: Proto,
        dst: std::net::SocketAddr,
        conn: Option<u64>,
        data: &[u8],
    ) -> std::io::Result<()>;

    /// The `Server:` header line (without CRLF) for local replies, if any.
    fn server_header(&self) -> Option<&str>;

    /// The host and port to advertise in Via and Record-Route for `proto`
    /// on the socket `local` the message arrived on.
    fn advertised(&self, proto: Proto, local: std::net::SocketAddr) -> (String, u16);

    /// The transaction service, when the configuration loads tm.
    fn tm(&self) -> Option<&std::sync::Arc<crate::tm::Tm>> {
        None
    }

    /// The loaded modules with their state ([`crate::module::Module::state`]).
    fn modules(&self) -> Option<&crate::module::Modules> {
        None
    }
}

/// State owned by one worker thread that outlives a message: `$var(...)`
/// values persist across messages, as in Kamailio's worker processes.
#[derive(Debug, Default)]
pub struct WorkerLocal {
    pub vars: WorkerVars,
}

/// How many branches keep their own branch flags: branch 0 (the
/// Request-URI) and the branches a script adds, as Kamailio's default
/// `max_branches`.
pub const MAX_BRANCHES: usize = 12;

/// What the script records about the message being routed besides edits
/// to the message itself: flags, AVPs, header lines for local replies and
/// requests to the core. The server reads it after the callback; a
/// transaction can keep it ([`Ctx::take_state`]) and give it back to the
/// routes that follow ([`Ctx::with_state`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgState {
    /// Message flags (`KSR.setflag`): bit N is flag N.
    pub flags: u32,
    /// Extended message flags 0..=63 (`KSR.corex.setxflag`): bit N is flag
    /// N.
    pub xflags: u64,
    /// Branch flags of the Request-URI branch in `[0]` (`KSR.setbflag`,
    /// `KSR.setbiflag(f, 0)`); the further branches keep theirs in
    /// [`Branch::flags`] (`KSR.setbiflag(f, i)` is `branches[i - 1]`).
    pub branch_flags: [u32; MAX_BRANCHES],
    /// `$avp(name)` values.
    pub avps: Avps,
    /// Header lines for the next reply built locally (sl, tm), each ending
    /// in CRLF (`KSR.hdr.append_to_reply`, sanity's `Unsupported:`).
    pub reply_headers: String,
    /// `KSR.force_rport()`: reply to the source port of the request, as if
    /// its top Via had `rport`.
    pub force_rport: bool,
    /// `KSR.add_local_rport()`: add `rport` to the Via this server adds.
    pub add_local_rport: bool,
    /// The reply a failed sanity check prepared when the sanity module does
    /// not reply itself (`noreply`): code and reason, for
    /// `KSR.sanity.sanity_reply()`; code 0 when the message must not be
    /// answered.
    pub sanity_reply: Option<(u16, &'static str)>,
    /// The Path of the Request-URI branch (branch 0), set by
    /// `registrar.lookup` for a contact registered through proxies: the
    /// request is sent with these Route headers.
    pub path: Option<String>,
    /// The q-value of the Request-URI branch, 0..=1000 (q=0.5 is 500).
    pub ruri_q: Option<i32>,
    /// The further branches of the destination set (Kamailio's dset): what
    /// `registrar.lookup` finds beyond the first contact,
    /// `corex.append_branch` adds, and `tm.t_relay` forks to in parallel.
    pub branches: Vec<Branch>,
    /// Contacts `t_load_contacts` sorted into groups of equal q, highest
    /// first, for `t_next_contacts` to relay one group at a time (serial
    /// forking by q).
    pub contact_groups: Vec<Vec<Branch>>,
    /// What modules keep for this message (rr's Record-Routes, the reply
    /// registrar prepared), each reached through its own module handle
    /// ([`crate::module::Module::msg_data_mut`]).
    pub module_data: crate::module::ModuleData,
}

/// One further destination of a request (a branch of the destination set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branch {
    /// The Request-URI of the branch.
    pub uri: String,
    /// Where to send it instead of the URI's host (`$du` of the branch).
    pub dst_uri: Option<String>,
    /// Route headers to add, from the contact's Path.
    pub path: Option<String>,
    /// q-value, 0..=1000 (q=0.5 is 500).
    pub q: Option<i32>,
    /// Branch flags.
    pub flags: u32,
    /// The contact's `+sip.instance`, if registered with one.
    pub instance: Option<String>,
    /// The location record's unique id, if it came from one.
    pub ruid: Option<String>,
}

/// How the script asked to leave the current callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwind {
    /// `KSR.x.exit()`: stop, as success.
    Exit,
    /// `KSR.x.drop()`: stop and discard.
    Drop,
}

/// The context of one callback execution.
pub struct Ctx<'w> {
    worker: &'w mut WorkerLocal,
    msg: Option<(&'w mut SipMsg, RecvInfo)>,
    core: Option<&'w dyn CoreServices>,
    modules: Option<&'w crate::module::Modules>,
    unwind: Option<Unwind>,
    drop_requested: bool,
    state: MsgState,
    script_flags: u32,
    /// The route being run as tm sees it: the current transaction and
    /// what the script asked of it.
    pub tm: crate::tm::TmRoute,
}

impl<'w> Ctx<'w> {
    /// A context with no SIP message: a script's top level, or tooling.
    pub fn without_message(worker: &'w mut WorkerLocal) -> Ctx<'w> {
        Ctx {
            worker,
            msg: None,
            core: None,
            modules: None,
            unwind: None,
            drop_requested: false,
            state: MsgState::default(),
            script_flags: 0,
            tm: crate::tm::TmRoute::default(),
        }
    }

    /// A context for routing `msg`, received as `recv` says.
    pub fn for_message(
        worker: &'w mut WorkerLocal,
        msg: &'w mut SipMsg,
        recv: RecvInfo,
    ) -> Ctx<'w> {
        Ctx {
            msg: Some((msg, recv)),
            ..Ctx::without_message(worker)
        }
    }

    /// Gives the context the server's services.
    pub fn with_core(mut self, core: &'w dyn CoreServices) -> Ctx<'w> {
        self.core = Some(core);
        self.modules = core.modules();
        self
    }

    /// The loaded modules; `None` in tools and some tests.
    #[inline]
    pub fn modules(&self) -> Option<&'w crate::module::Modules> {
        self.modules
    }

    /// The server's services; `None` in tools and some tests.
    pub fn core(&self) -> Option<&'w dyn CoreServices> {
        self.core
    }

    /// Whether a SIP message is being routed.
    pub fn has_message(&self) -> bool {
        self.msg.is_some()
    }

    /// The message being routed.
    pub fn msg(&self) -> Option<&SipMsg> {
        self.msg.as_ref().map(|(m, _)| &**m)
    }

    /// The transaction key of the message being routed ([`crate::tm::server_key`]),
    /// computed once per callback.
    pub fn txn_key(&mut self) -> Option<crate::tm::TxnKey> {
        let msg = self.msg.as_ref().map(|(m, _)| &**m)?;
        crate::tm::request_key(&mut self.tm, msg)
    }

    /// The message being routed, to change it.
    pub fn msg_mut(&mut self) -> Option<&mut SipMsg> {
        self.msg.as_mut().map(|(m, _)| &mut **m)
    }

    /// Where the message came from.
    pub fn recv(&self) -> Option<&RecvInfo> {
        self.msg.as_ref().map(|(_, r)| r)
    }

    pub fn worker(&mut self) -> &mut WorkerLocal {
        self.worker
    }

    /// The worker's state, to read it.
    pub fn worker_local(&self) -> &WorkerLocal {
        self.worker
    }

    /// Starts the callback with the state a transaction kept from an
    /// earlier route.
    pub fn with_state(mut self, state: MsgState) -> Ctx<'w> {
        self.state = state;
        self
    }

    /// Flags, AVPs and requests the script recorded for this message.
    pub fn state(&self) -> &MsgState {
        &self.state
    }

    /// The message state, to change it.
    pub fn state_mut(&mut self) -> &mut MsgState {
        &mut self.state
    }

    /// Takes the message state out (to keep it with a transaction),
    /// leaving an empty one.
    pub fn take_state(&mut self) -> MsgState {
        std::mem::take(&mut self.state)
    }

    /// Script flags (`KSR.setsflag`): bit N is flag N. They belong to one
    /// callback and start at 0 in each.
    pub fn script_flags(&self) -> u32 {
        self.script_flags
    }

    /// Sets every script flag at once.
    pub fn set_script_flags(&mut self, flags: u32) {
        self.script_flags = flags;
    }

    /// Asks the engine to leave the callback once the current call returns.
    pub fn request_unwind(&mut self, how: Unwind) {
        if how == Unwind::Drop {
            self.drop_requested = true;
        }
        self.unwind = Some(how);
    }

    /// Taken by the engine after every export call: `Some` means it must
    /// unwind the script with the exit marker.
    #[inline]
    pub fn take_unwind(&mut self) -> Option<Unwind> {
        self.unwind.take()
    }

    /// `KSR.set_drop()`: marks the message to be discarded without
    /// stopping the script.
    pub fn set_drop(&mut self) {
        self.drop_requested = true;
    }

    /// Whether the script asked for the message to be dropped.
    pub fn drop_requested(&self) -> bool {
        self.drop_requested
    }
}
