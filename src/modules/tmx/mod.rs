//! `KSR.tmx`: tm extensions — which route runs, and a few transaction
//! actions.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::tm::{self, RouteKind};

/// `modparam("tmx", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub precheck_trans: i64,
}

/// `loadmodule "tmx.so"`.
pub static MODULE: crate::module::Module<()> = crate::module::Module::new("tmx", "tm extensions");

fn yes(b: bool) -> i32 {
    if b {
        1
    } else {
        -1
    }
}

/// Tells whether another worker is processing the same request right now
/// (so this one is a retransmission that overtook the transaction's
/// creation). ACK and CANCEL are not tracked.
///
/// # Returns
/// 1 when the request is already being processed, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tmx.t_precheck_trans() > 0) { KSR.tm.t_check_trans(); KSR.x.exit(); }
/// ```
#[kemi]
pub fn t_precheck_trans(ctx: &mut Ctx) -> i32 {
    let Some(tm) = ctx.core().and_then(|c| c.tm()).cloned() else {
        return -1;
    };
    let Some(msg) = ctx.msg() else { return -1 };
    if matches!(
        msg.method(),
        Some(crate::sip::Method::Ack | crate::sip::Method::Cancel)
    ) {
        return -1;
    }
    let Some(key) = ctx.txn_key() else {
        return -1;
    };
    if tm.lookup_key(&key).is_some() {
        return 1;
    }
    if tm.precheck_begin(&key) {
        ctx.tm.precheck = Some(key);
        -1
    } else {
        1
    }
}

/// Tells whether the running route is the request route.
///
/// # Returns
/// 1 when it is, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tmx.t_is_request_route() > 0) { KSR.info("request route\n"); }
/// ```
#[kemi]
pub fn t_is_request_route(ctx: &mut Ctx) -> i32 {
    yes(ctx.tm.kind == RouteKind::Request && ctx.msg().is_some_and(|m| m.is_request()))
}

/// Tells whether the running route is the core reply route
/// (`ksr_reply_route`) or a transaction's reply route.
///
/// # Returns
/// 1 when it is, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tmx.t_is_reply_route() > 0) { KSR.info("reply route\n"); }
/// ```
#[kemi]
pub fn t_is_reply_route(ctx: &mut Ctx) -> i32 {
    yes(matches!(ctx.tm.kind, RouteKind::Reply | RouteKind::TmReply))
}

/// Tells whether the running route is a failure route.
///
/// # Returns
/// 1 when it is, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tmx.t_is_failure_route() > 0) { KSR.info("failure route\n"); }
/// ```
#[kemi]
pub fn t_is_failure_route(ctx: &mut Ctx) -> i32 {
    yes(ctx.tm.kind == RouteKind::Failure)
}

/// Tells whether the running route is a branch route.
///
/// # Returns
/// 1 when it is, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tmx.t_is_branch_route() > 0) { KSR.info("branch route\n"); }
/// ```
#[kemi]
pub fn t_is_branch_route(ctx: &mut Ctx) -> i32 {
    yes(ctx.tm.kind == RouteKind::Branch)
}

/// Copies the message flags set in this route into the transaction.
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tmx.t_flush_flags();
/// ```
#[kemi]
pub fn t_flush_flags(ctx: &mut Ctx) -> i32 {
    let flags = ctx.state().flags;
    match &ctx.tm.txn {
        Some(t) => {
            tm::lock(t).state.flags = flags;
            1
        }
        None => -1,
    }
}

/// In a transaction's reply route: sends CANCEL to branches.
///
/// # Parameters
/// - `mode`: `all` every pending branch, `others` all but the one of this
///   reply, `this` only the one of this reply.
///
/// # Returns
/// 1, or -1 outside a reply route or for an unknown mode.
///
/// # Example
/// ```js
/// KSR.tmx.t_cancel_branches("others");
/// ```
#[kemi]
pub fn t_cancel_branches(ctx: &mut Ctx, mode: &str) -> i32 {
    let (Some(t), Some(tm)) = (ctx.tm.txn.clone(), ctx.core().and_then(|c| c.tm()).cloned()) else {
        return -1;
    };
    let this = ctx.tm.branch;
    let mut g = tm::lock(&t);
    let n = g.branches.len();
    let pick: Vec<usize> = match mode {
        "all" => (0..n).collect(),
        "others" => (0..n).filter(|i| Some(*i) != this).collect(),
        "this" => this.into_iter().collect(),
        _ => return -1,
    };
    for i in pick {
        tm.cancel_branch(&mut g, i);
    }
    1
}

/// Drops the current transaction: no reply goes upstream from now on (the
/// transaction is marked answered with 500).
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tmx.t_drop();
/// ```
#[kemi]
pub fn t_drop(ctx: &mut Ctx) -> i32 {
    t_drop_rcode(ctx, 500)
}

/// Drops the current transaction, recording `code` as its status.
///
/// # Parameters
/// - `code`: the status to record.
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tmx.t_drop_rcode(404);
/// ```
#[kemi]
pub fn t_drop_rcode(ctx: &mut Ctx, code: i32) -> i32 {
    match &ctx.tm.txn {
        Some(t) => {
            let mut g = tm::lock(t);
            g.uas.status = u16::try_from(code).unwrap_or(500).max(200);
            g.free_at = Some(std::time::Instant::now() + std::time::Duration::from_secs(5));
            1
        }
        None => -1,
    }
}
