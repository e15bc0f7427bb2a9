/*
 * squirrel-sys shim: the few things a Rust embedder of Squirrel 3.1 cannot do
 * through the plain C API.
 *
 * 1. Print capture. SQPRINTFUNCTION is C-variadic (printf-style) and stable
 *    Rust cannot define a variadic function. The shim provides the two
 *    variadic functions, formats the message with vsnprintf and hands the
 *    finished text to one non-variadic callback supplied by Rust.
 *
 * 2. Interrupt guard. Squirrel 3.1 has no way to stop a running script from
 *    the outside: the debug hook's result is ignored, sq_throwerror() inside
 *    the hook only stores an error that nobody raises, sq_suspendvm() only
 *    works from a native function called directly by the script, and a loop
 *    such as `while(true){}` emits no line event at all. build.rs therefore
 *    adds one check at the top of the interpreter loop in sqvm.cpp
 *    (KEMID_SQ_INTERRUPT_POLL below, in a copy made at build time) and this
 *    shim implements it: a per-thread instruction countdown that, when it
 *    runs out, asks a host callback whether to stop the script.
 *
 * Everything here is the project's own code; it is compiled together with the
 * Squirrel sources by build.rs.
 */
#ifndef KEMID_SQ_SHIM_H
#define KEMID_SQ_SHIM_H

#include <stddef.h>
#include "squirrel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- print capture ---------------------------------------------------- */

/* Receives one formatted message. `is_error` is 0 for print(), 1 for
 * error() and the error/compiler handlers of sqstdaux. `msg` is not
 * NUL-terminated for the callee's purposes: use `len` bytes. */
typedef void (*kemid_sq_print_cb)(HSQUIRRELVM v, int is_error, const SQChar *msg, size_t len);

/* Sets the process-wide callback used by kemid_sq_print/kemid_sq_error
 * (NULL drops output). Dispatch per VM in the callback, e.g. through
 * sq_getforeignptr(v) or sq_getsharedforeignptr(v). */
void kemid_sq_set_print_callback(kemid_sq_print_cb cb);

/* The variadic SQPRINTFUNCTIONs themselves. */
void kemid_sq_print(HSQUIRRELVM v, const SQChar *fmt, ...);
void kemid_sq_error(HSQUIRRELVM v, const SQChar *fmt, ...);

/* Shorthand for sq_setprintfunc(v, kemid_sq_print, kemid_sq_error). The print
 * functions live in the VM's shared state, so threads created with
 * sq_newthread() share them. */
void kemid_sq_install_print(HSQUIRRELVM v);

/* ---- interrupt guard ---------------------------------------------------- */

/* Asked every `interval` VM instructions while the guard is armed on this
 * thread. Return non-zero to stop the script. Must not run script code. */
typedef SQBool (*kemid_sq_interrupt_cb)(HSQUIRRELVM v, SQUserPointer userdata);

/* Arms the guard for every Squirrel VM that executes on the calling thread.
 * `interval` (>= 1) is the number of instructions between two calls of `cb`;
 * with cb == NULL the guard trips after `interval` instructions (a pure
 * instruction budget). Resets the tripped state. */
void kemid_sq_interrupt_arm(SQInteger interval, kemid_sq_interrupt_cb cb, SQUserPointer userdata);

/* Disarms the guard on this thread and clears the tripped state. Must be
 * called before running further script code on this thread once the guard
 * has tripped: while tripped, every script instruction raises. */
void kemid_sq_interrupt_disarm(void);

/* Whether the guard has stopped a script since it was last armed. */
SQBool kemid_sq_interrupt_tripped(void);

/* Trips the guard at once (e.g. from a native function); the script stops at
 * its next instruction. No effect unless the guard is armed. */
void kemid_sq_interrupt_trip(void);

/* The error message raised in the script when the guard trips:
 * "script execution interrupted by the host". */
const SQChar *kemid_sq_interrupt_message(void);

/* Slow path of KEMID_SQ_INTERRUPT_POLL; internal. Returns non-zero (and has
 * set the VM's last error) when the script must stop. */
SQBool kemid_sq_interrupt_poll_slow(HSQUIRRELVM v);

#ifdef __cplusplus
} /* extern "C" */
#endif

/* Per-thread guard state. `countdown` is decremented once per instruction;
 * the slow path runs when it reaches zero. While disarmed it holds a huge
 * value, so the check costs one decrement and one compare. */
struct kemid_sq_interrupt_state {
    SQInteger countdown;
    SQInteger interval;
    kemid_sq_interrupt_cb cb;
    SQUserPointer userdata;
    int armed;
    int tripped;
};

#if defined(_MSC_VER)
#define KEMID_SQ_THREAD_LOCAL __declspec(thread)
#else
/* initial-exec: no __tls_get_addr call in the interpreter loop. */
#define KEMID_SQ_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))
#endif

#ifdef __cplusplus
extern "C" {
#endif
extern KEMID_SQ_THREAD_LOCAL struct kemid_sq_interrupt_state kemid_sq_interrupt_tls;
#ifdef __cplusplus
}
#endif

/* Inserted by build.rs at the top of the interpreter loop in SQVM::Execute:
 *     if (KEMID_SQ_INTERRUPT_POLL(this)) { SQ_THROW(); }
 * SQ_THROW unwinds like any script error. Because a tripped guard raises
 * again at the first instruction of every catch block, try/catch in the
 * script cannot swallow the interruption. */
#define KEMID_SQ_INTERRUPT_POLL(v) \
    (--kemid_sq_interrupt_tls.countdown <= 0 && kemid_sq_interrupt_poll_slow(v))

#endif /* KEMID_SQ_SHIM_H */
