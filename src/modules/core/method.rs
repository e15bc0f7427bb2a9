//! Testing the method of the message on `KSR` itself.
//!
//! A reply has no method of its own: these functions use the method of its
//! CSeq header, as Kamailio does. Standard method names compare
//! case-insensitively; an extension method only matches its exact text.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::pv::message_method;
use crate::sip::Method;

/// Whether the message's method (the CSeq method for replies) is `m`.
fn method_is(ctx: &Ctx, m: Method) -> bool {
    ctx.msg().and_then(message_method) == Some(m)
}

/// The standard method named `name` (any case); `None` for other names.
fn standard(name: &str) -> Option<Method> {
    const ALL: [Method; 19] = [
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Cancel,
        Method::Register,
        Method::Options,
        Method::Subscribe,
        Method::Notify,
        Method::Publish,
        Method::Refer,
        Method::Info,
        Method::Update,
        Method::Prack,
        Method::Message,
        Method::Kdmq,
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
    ];
    ALL.into_iter()
        .find(|m| m.as_str().is_some_and(|s| s.eq_ignore_ascii_case(name)))
}

/// Tells whether the method is one of a list of names.
///
/// For a request with an extension method the whole argument must equal
/// the method exactly (case-sensitive). Otherwise the argument is a list of
/// standard method names separated by `|` (or `,`), compared
/// case-insensitively; names of extension methods in the list never match.
///
/// # Parameters
/// - `method`: a method name, or a list such as `"INVITE|UPDATE"`.
///
/// # Returns
/// `true` when the method is in the list; `false` otherwise, and for an
/// empty argument or a reply without a valid CSeq (logged).
///
/// # Example
/// ```js
/// if (KSR.is_method("INVITE|UPDATE")) { KSR.info("session refresh or setup\n"); }
/// ```
#[kemi]
pub fn is_method(ctx: &mut Ctx, method: &str) -> bool {
    let Some(msg) = ctx.msg() else { return false };
    if method.is_empty() {
        log::warn("core", format_args!("is_method: empty method name"));
        return false;
    }
    if msg.method() == Some(Method::Other) {
        return msg.method_str() == Some(method);
    }
    let Some(current) = message_method(msg) else {
        log::error(
            "core",
            format_args!("is_method: the reply has no valid CSeq header"),
        );
        return false;
    };
    method
        .split(['|', ','])
        .filter_map(|name| standard(name.trim()))
        .any(|m| m == current)
}

/// Tells whether the method is one of those given by letter: `I` INVITE,
/// `A` ACK, `B` BYE, `C` CANCEL, `M` MESSAGE, `R` REGISTER, `E` PRACK,
/// `P` PUBLISH, `S` SUBSCRIBE, `N` NOTIFY, `O` OPTIONS, `F` REFER, `G`
/// GET, `U` UPDATE, `K` KDMQ, `D` DELETE, `T` POST, `V` PUT (either case).
/// Extension methods never match.
///
/// # Parameters
/// - `letters`: the method letters, such as `"IUB"`.
///
/// # Returns
/// `true` when the method is among them; `false` otherwise (unknown
/// letters are logged and ignored).
///
/// # Example
/// ```js
/// if (KSR.is_method_in("IUB")) { KSR.info("dialog request\n"); }
/// ```
#[kemi]
pub fn is_method_in(ctx: &mut Ctx, letters: &str) -> bool {
    let Some(current) = ctx.msg().and_then(message_method) else {
        return false;
    };
    letters.chars().any(|c| {
        let m = match c.to_ascii_uppercase() {
            'I' => Method::Invite,
            'A' => Method::Ack,
            'B' => Method::Bye,
            'C' => Method::Cancel,
            'M' => Method::Message,
            'R' => Method::Register,
            'E' => Method::Prack,
            'P' => Method::Publish,
            'S' => Method::Subscribe,
            'N' => Method::Notify,
            'O' => Method::Options,
            'F' => Method::Refer,
            'G' => Method::Get,
            'U' => Method::Update,
            'K' => Method::Kdmq,
            'D' => Method::Delete,
            'T' => Method::Post,
            'V' => Method::Put,
            other => {
                log::warn(
                    "core",
                    format_args!("is_method_in: unknown method letter `{other}`"),
                );
                return false;
            }
        };
        m == current
    })
}

/// Tells whether the message is an INVITE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for INVITE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_INVITE()) { KSR.info("new call\n"); }
/// ```
#[kemi(name = "is_INVITE")]
pub fn is_invite(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Invite)
}

/// Tells whether the message is an ACK request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for ACK, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_ACK()) { KSR.info("ACK\n"); }
/// ```
#[kemi(name = "is_ACK")]
pub fn is_ack(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Ack)
}

/// Tells whether the message is a BYE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for BYE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_BYE()) { KSR.info("BYE\n"); }
/// ```
#[kemi(name = "is_BYE")]
pub fn is_bye(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Bye)
}

/// Tells whether the message is a CANCEL request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for CANCEL, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_CANCEL()) { KSR.info("CANCEL\n"); }
/// ```
#[kemi(name = "is_CANCEL")]
pub fn is_cancel(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Cancel)
}

/// Tells whether the message is a REGISTER request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for REGISTER, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_REGISTER()) { KSR.info("REGISTER\n"); }
/// ```
#[kemi(name = "is_REGISTER")]
pub fn is_register(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Register)
}

/// Tells whether the message is an OPTIONS request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for OPTIONS, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_OPTIONS()) { KSR.info("OPTIONS\n"); }
/// ```
#[kemi(name = "is_OPTIONS")]
pub fn is_options(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Options)
}

/// Tells whether the message is a SUBSCRIBE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for SUBSCRIBE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_SUBSCRIBE()) { KSR.info("SUBSCRIBE\n"); }
/// ```
#[kemi(name = "is_SUBSCRIBE")]
pub fn is_subscribe(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Subscribe)
}

/// Tells whether the message is a PUBLISH request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for PUBLISH, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_PUBLISH()) { KSR.info("PUBLISH\n"); }
/// ```
#[kemi(name = "is_PUBLISH")]
pub fn is_publish(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Publish)
}

/// Tells whether the message is a NOTIFY request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for NOTIFY, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_NOTIFY()) { KSR.info("NOTIFY\n"); }
/// ```
#[kemi(name = "is_NOTIFY")]
pub fn is_notify(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Notify)
}

/// Tells whether the message is a REFER request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for REFER, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_REFER()) { KSR.info("REFER\n"); }
/// ```
#[kemi(name = "is_REFER")]
pub fn is_refer(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Refer)
}

/// Tells whether the message is an INFO request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for INFO, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_INFO()) { KSR.info("INFO\n"); }
/// ```
#[kemi(name = "is_INFO")]
pub fn is_info(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Info)
}

/// Tells whether the message is an UPDATE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for UPDATE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_UPDATE()) { KSR.info("UPDATE\n"); }
/// ```
#[kemi(name = "is_UPDATE")]
pub fn is_update(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Update)
}

/// Tells whether the message is a PRACK request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for PRACK, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_PRACK()) { KSR.info("PRACK\n"); }
/// ```
#[kemi(name = "is_PRACK")]
pub fn is_prack(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Prack)
}

/// Tells whether the message is a MESSAGE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for MESSAGE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_MESSAGE()) { KSR.info("MESSAGE\n"); }
/// ```
#[kemi(name = "is_MESSAGE")]
pub fn is_message(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Message)
}

/// Tells whether the message is a KDMQ request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for KDMQ, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_KDMQ()) { KSR.info("KDMQ\n"); }
/// ```
#[kemi(name = "is_KDMQ")]
pub fn is_kdmq(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Kdmq)
}

/// Tells whether the message is a GET request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for GET, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_GET()) { KSR.info("GET\n"); }
/// ```
#[kemi(name = "is_GET")]
pub fn is_get(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Get)
}

/// Tells whether the message is a POST request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for POST, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_POST()) { KSR.info("POST\n"); }
/// ```
#[kemi(name = "is_POST")]
pub fn is_post(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Post)
}

/// Tells whether the message is a PUT request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for PUT, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_PUT()) { KSR.info("PUT\n"); }
/// ```
#[kemi(name = "is_PUT")]
pub fn is_put(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Put)
}

/// Tells whether the message is a DELETE request, or a reply to one (by its
/// CSeq method).
///
/// # Returns
/// `true` for DELETE, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_DELETE()) { KSR.info("DELETE\n"); }
/// ```
#[kemi(name = "is_DELETE")]
pub fn is_delete(ctx: &mut Ctx) -> bool {
    method_is(ctx, Method::Delete)
}
