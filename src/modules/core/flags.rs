//! Message, branch and script flags on `KSR` itself.
//!
//! Flags are numbered 0 to 31. Message flags belong to the message (and
//! its transaction), branch flags to one branch of the destination set
//! (branch 0 is the Request-URI), script flags to the running callback
//! only: each callback starts with them all reset.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;

/// The bit of flag `flag`, or `None` (logged) when it is not 0..=31.
fn bit(flag: i32) -> Option<u32> {
    match u32::try_from(flag) {
        Ok(f) if f < 32 => Some(1 << f),
        _ => {
            log::error("core", format_args!("invalid flag {flag} (range 0..31)"));
            None
        }
    }
}

/// The flag set of branch `branch`, or `None` (logged) when there is no
/// such branch.
fn branch_flags<'a>(ctx: &'a mut Ctx, branch: i32) -> Option<&'a mut u32> {
    let state = ctx.state_mut();
    let found = match usize::try_from(branch) {
        Ok(0) => Some(&mut state.branch_flags[0]),
        Ok(i) => state.branches.get_mut(i - 1).map(|b| &mut b.flags),
        Err(_) => None,
    };
    if found.is_none() {
        log::error(
            "core",
            format_args!("no branch {branch} to set branch flags on"),
        );
    }
    found
}

/// Sets message flag `flag`.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.setflag(1);
/// ```
#[kemi]
pub fn setflag(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag).map(|b| ctx.state_mut().flags |= b).is_some()
}

/// Resets message flag `flag`.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when reset; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.resetflag(1);
/// ```
#[kemi]
pub fn resetflag(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag).map(|b| ctx.state_mut().flags &= !b).is_some()
}

/// Tells whether message flag `flag` is set.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when not, or out of range (logged).
///
/// # Example
/// ```js
/// if (KSR.isflagset(1)) { KSR.info("accounting on\n"); }
/// ```
#[kemi]
pub fn isflagset(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag).is_some_and(|b| ctx.state().flags & b != 0)
}

/// Sets branch flag `flag` of the Request-URI branch (branch 0).
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.setbflag(6);
/// ```
#[kemi]
pub fn setbflag(ctx: &mut Ctx, flag: i32) -> bool {
    setbiflag(ctx, flag, 0)
}

/// Resets branch flag `flag` of the Request-URI branch (branch 0).
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when reset; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.resetbflag(6);
/// ```
#[kemi]
pub fn resetbflag(ctx: &mut Ctx, flag: i32) -> bool {
    resetbiflag(ctx, flag, 0)
}

/// Tells whether branch flag `flag` of the Request-URI branch is set.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when not, or out of range (logged).
///
/// # Example
/// ```js
/// if (KSR.isbflagset(6)) { KSR.info("behind NAT\n"); }
/// ```
#[kemi]
pub fn isbflagset(ctx: &mut Ctx, flag: i32) -> bool {
    isbiflagset(ctx, flag, 0)
}

/// Sets branch flag `flag` of branch `branch`.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
/// - `branch`: the branch index: 0 is the Request-URI, 1 and up the
///   branches added to the destination set.
///
/// # Returns
/// `true` when set; `false` when the flag is out of range or the branch
/// does not exist (logged).
///
/// # Example
/// ```js
/// KSR.setbiflag(6, 1);
/// ```
#[kemi]
pub fn setbiflag(ctx: &mut Ctx, flag: i32, branch: i32) -> bool {
    let Some(b) = bit(flag) else { return false };
    branch_flags(ctx, branch).map(|f| *f |= b).is_some()
}

/// Resets branch flag `flag` of branch `branch`.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
/// - `branch`: the branch index (0 is the Request-URI).
///
/// # Returns
/// `true` when reset; `false` when the flag is out of range or the branch
/// does not exist (logged).
///
/// # Example
/// ```js
/// KSR.resetbiflag(6, 1);
/// ```
#[kemi]
pub fn resetbiflag(ctx: &mut Ctx, flag: i32, branch: i32) -> bool {
    let Some(b) = bit(flag) else { return false };
    branch_flags(ctx, branch).map(|f| *f &= !b).is_some()
}

/// Tells whether branch flag `flag` of branch `branch` is set.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
/// - `branch`: the branch index (0 is the Request-URI).
///
/// # Returns
/// `true` when set; `false` when not, or when the flag is out of range or
/// the branch does not exist (logged).
///
/// # Example
/// ```js
/// if (KSR.isbiflagset(6, 1)) { KSR.info("branch 1 behind NAT\n"); }
/// ```
#[kemi]
pub fn isbiflagset(ctx: &mut Ctx, flag: i32, branch: i32) -> bool {
    let Some(b) = bit(flag) else { return false };
    branch_flags(ctx, branch).is_some_and(|f| *f & b != 0)
}

/// Sets script flag `flag`. Script flags last for the current callback
/// only.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.setsflag(2);
/// ```
#[kemi(toplevel)]
pub fn setsflag(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag)
        .map(|b| ctx.set_script_flags(ctx.script_flags() | b))
        .is_some()
}

/// Resets script flag `flag`.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when reset; `false` when the number is out of range (logged).
///
/// # Example
/// ```js
/// KSR.resetsflag(2);
/// ```
#[kemi(toplevel)]
pub fn resetsflag(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag)
        .map(|b| ctx.set_script_flags(ctx.script_flags() & !b))
        .is_some()
}

/// Tells whether script flag `flag` is set.
///
/// # Parameters
/// - `flag`: the flag number, 0 to 31.
///
/// # Returns
/// `true` when set; `false` when not, or out of range (logged).
///
/// # Example
/// ```js
/// if (KSR.issflagset(2)) { KSR.info("script flag 2\n"); }
/// ```
#[kemi(toplevel)]
pub fn issflagset(ctx: &mut Ctx, flag: i32) -> bool {
    bit(flag).is_some_and(|b| ctx.script_flags() & b != 0)
}
