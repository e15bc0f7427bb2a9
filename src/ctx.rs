//! The context a script callback runs in: the message being routed, the
//! worker's own state, and what the script asked the core to do afterwards.
//!
//! Exports receive `&mut Ctx`; engines create one per callback and never
//! look inside beyond [`Ctx::take_unwind`].

use crate::pv::WorkerVars;
use crate::sip::SipMsg;
use crate::transport::RecvInfo;

/// State owned by one worker thread that outlives a message: `$var(...)`
/// values persist across messages, as in Kamailio's worker processes.
#[derive(Debug, Default)]
pub struct WorkerLocal {
    pub vars: WorkerVars,
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
#[derive(Debug)]
pub struct Ctx<'w> {
    worker: &'w mut WorkerLocal,
    msg: Option<(&'w mut SipMsg, RecvInfo)>,
    unwind: Option<Unwind>,
    drop_requested: bool,
}

impl<'w> Ctx<'w> {
    /// A context with no SIP message: a script's top level, or tooling.
    pub fn without_message(worker: &'w mut WorkerLocal) -> Ctx<'w> {
        Ctx {
            worker,
            msg: None,
            unwind: None,
            drop_requested: false,
        }
    }

    /// A context for routing `msg`, received as `recv` says.
    pub fn for_message(worker: &'w mut WorkerLocal, msg: &'w mut SipMsg, recv: RecvInfo) -> Ctx<'w> {
        Ctx {
            msg: Some((msg, recv)),
            ..Ctx::without_message(worker)
        }
    }

    /// Whether a SIP message is being routed.
    pub fn has_message(&self) -> bool {
        self.msg.is_some()
    }

    /// The message being routed.
    pub fn msg(&self) -> Option<&SipMsg> {
        self.msg.as_ref().map(|(m, _)| &**m)
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
