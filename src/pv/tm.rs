//! The pseudo-variables of tm: `$T_reply_code`, `$T_branch_idx`, and
//! `$T_rpl(pv)` / `$T_req(pv)`, which evaluate another pseudo-variable on
//! the transaction's reply or request.

use super::{PvRef, PvSpec};
use crate::ctx::{Ctx, WorkerLocal};
use crate::sip::SipMsg;
use crate::tm::{self, RouteKind};

/// A tm pseudo-variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TmPv<'a> {
    /// `$T_reply_code`: the reply being processed (reply routes), the one
    /// chosen (failure route), or the last one sent upstream; 0 when none.
    ReplyCode,
    /// `$T_branch_idx`: the branch being processed (branch, reply,
    /// branch-failure routes); 0 elsewhere.
    BranchIdx,
    /// `$T_rpl(pv)`: `pv` evaluated on the reply: the one being processed
    /// in a transaction's reply route, the chosen one in a failure route.
    Rpl(&'a str),
    /// `$T_req(pv)`: `pv` evaluated on the transaction's request.
    Req(&'a str),
}

impl<'a> TmPv<'a> {
    /// The names without an argument.
    pub fn from_name(name: &str) -> Option<TmPv<'static>> {
        match name {
            "T_reply_code" => Some(TmPv::ReplyCode),
            "T_branch_idx" => Some(TmPv::BranchIdx),
            _ => None,
        }
    }

    /// `$T_rpl(...)` and `$T_req(...)`.
    pub fn with_inner(class: &str, inner: &'a str) -> Option<TmPv<'a>> {
        match class {
            "T_rpl" => Some(TmPv::Rpl(inner)),
            "T_req" => Some(TmPv::Req(inner)),
            _ => None,
        }
    }

    pub fn read<'c>(&self, ctx: &'c Ctx<'_>) -> PvRef<'c> {
        match *self {
            TmPv::ReplyCode => {
                if ctx.tm.reply_code > 0 {
                    return PvRef::Int(i64::from(ctx.tm.reply_code));
                }
                let code = ctx.tm.txn.as_ref().and_then(|t| {
                    let g = tm::lock(t);
                    if ctx.tm.kind == RouteKind::Failure {
                        g.best_failure().map(|i| g.branches[i].final_code)
                    } else {
                        (g.uas.status > 0).then_some(g.uas.status)
                    }
                });
                PvRef::Int(i64::from(code.unwrap_or(0)))
            }
            TmPv::BranchIdx => PvRef::Int(ctx.tm.branch.map_or(0, |b| b as i64)),
            TmPv::Rpl(inner) => {
                if ctx.tm.kind == RouteKind::TmReply {
                    return owned(eval_on_ctx(ctx, inner));
                }
                let bytes = ctx.tm.txn.as_ref().and_then(|t| {
                    let g = tm::lock(t);
                    let i = ctx.tm.branch.or_else(|| g.best_failure())?;
                    g.branches.get(i)?.final_reply.clone()
                });
                match bytes {
                    Some(b) => owned(eval_on(b, ctx, inner)),
                    None => PvRef::Null,
                }
            }
            TmPv::Req(inner) => {
                let bytes = ctx
                    .tm
                    .txn
                    .as_ref()
                    .map(|t| tm::lock(t).uas.request.to_bytes());
                match bytes {
                    Some(b) => owned(eval_on(b, ctx, inner)),
                    None => PvRef::Null,
                }
            }
        }
    }
}

fn owned(v: super::PvValue) -> PvRef<'static> {
    match v {
        super::PvValue::Null => PvRef::Null,
        super::PvValue::Int(i) => PvRef::Int(i),
        super::PvValue::Str(s) => PvRef::owned(s),
    }
}

fn eval_on_ctx(ctx: &Ctx<'_>, inner: &str) -> super::PvValue {
    match PvSpec::parse(inner) {
        Ok(spec) => spec.get(ctx),
        Err(e) => {
            crate::log::error("pv", format_args!("$T_rpl({inner}): {e}"));
            super::PvValue::Null
        }
    }
}

/// Evaluates `inner` on another message, seen from the same place.
fn eval_on(bytes: Vec<u8>, ctx: &Ctx<'_>, inner: &str) -> super::PvValue {
    let (Ok(mut msg), Some(recv)) = (SipMsg::parse(bytes), ctx.recv().copied()) else {
        return super::PvValue::Null;
    };
    let mut scratch = WorkerLocal::default();
    let other = Ctx::for_message(&mut scratch, &mut msg, recv);
    eval_on_ctx(&other, inner)
}
