/*
 * squirrel-sys shim; see kemid_sq_shim.h for why it exists.
 * Uses only Squirrel's public API.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <atomic>

#include "kemid_sq_shim.h"

#ifdef SQUNICODE
#error "squirrel-sys supports only the 8-bit SQChar build of Squirrel (SQUNICODE undefined)"
#endif

#define KEMID_SQ_COUNTDOWN_IDLE ((SQInteger)(((SQUnsignedInteger)-1) >> 1))

/* ---- print capture ---------------------------------------------------- */

static std::atomic<kemid_sq_print_cb> g_print_cb(NULL);

extern "C" void kemid_sq_set_print_callback(kemid_sq_print_cb cb)
{
    g_print_cb.store(cb, std::memory_order_release);
}

static void kemid_sq_vemit(HSQUIRRELVM v, int is_error, const SQChar *fmt, va_list args)
{
    kemid_sq_print_cb cb = g_print_cb.load(std::memory_order_acquire);
    if (cb == NULL || fmt == NULL) {
        return;
    }
    char stackbuf[1024];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, copy);
    va_end(copy);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(stackbuf)) {
        cb(v, is_error, stackbuf, (size_t)n);
        return;
    }
    /* Longer than the stack buffer: format again into a heap buffer. */
    char *heapbuf = (char *)malloc((size_t)n + 1);
    if (heapbuf == NULL) {
        cb(v, is_error, stackbuf, sizeof(stackbuf) - 1);
        return;
    }
    va_copy(copy, args);
    int m = vsnprintf(heapbuf, (size_t)n + 1, fmt, copy);
    va_end(copy);
    if (m >= 0) {
        cb(v, is_error, heapbuf, (size_t)m < (size_t)n ? (size_t)m : (size_t)n);
    }
    free(heapbuf);
}

extern "C" void kemid_sq_print(HSQUIRRELVM v, const SQChar *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kemid_sq_vemit(v, 0, fmt, args);
    va_end(args);
}

extern "C" void kemid_sq_error(HSQUIRRELVM v, const SQChar *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kemid_sq_vemit(v, 1, fmt, args);
    va_end(args);
}

extern "C" void kemid_sq_install_print(HSQUIRRELVM v)
{
    sq_setprintfunc(v, kemid_sq_print, kemid_sq_error);
}

/* ---- interrupt guard ---------------------------------------------------- */

extern "C" {
KEMID_SQ_THREAD_LOCAL struct kemid_sq_interrupt_state kemid_sq_interrupt_tls = {
    KEMID_SQ_COUNTDOWN_IDLE, 0, NULL, NULL, 0, 0
};
}

static const SQChar g_interrupt_message[] = "script execution interrupted by the host";

extern "C" const SQChar *kemid_sq_interrupt_message(void)
{
    return g_interrupt_message;
}

extern "C" void kemid_sq_interrupt_arm(SQInteger interval, kemid_sq_interrupt_cb cb, SQUserPointer userdata)
{
    struct kemid_sq_interrupt_state *s = &kemid_sq_interrupt_tls;
    if (interval < 1) {
        interval = 1;
    }
    s->interval = interval;
    s->cb = cb;
    s->userdata = userdata;
    s->armed = 1;
    s->tripped = 0;
    s->countdown = interval;
}

extern "C" void kemid_sq_interrupt_disarm(void)
{
    struct kemid_sq_interrupt_state *s = &kemid_sq_interrupt_tls;
    s->armed = 0;
    s->tripped = 0;
    s->cb = NULL;
    s->userdata = NULL;
    s->interval = 0;
    s->countdown = KEMID_SQ_COUNTDOWN_IDLE;
}

extern "C" SQBool kemid_sq_interrupt_tripped(void)
{
    return kemid_sq_interrupt_tls.tripped ? SQTrue : SQFalse;
}

extern "C" void kemid_sq_interrupt_trip(void)
{
    struct kemid_sq_interrupt_state *s = &kemid_sq_interrupt_tls;
    if (s->armed) {
        s->tripped = 1;
        s->countdown = 0;
    }
}

extern "C" SQBool kemid_sq_interrupt_poll_slow(HSQUIRRELVM v)
{
    struct kemid_sq_interrupt_state *s = &kemid_sq_interrupt_tls;
    if (!s->armed) {
        s->countdown = KEMID_SQ_COUNTDOWN_IDLE;
        return SQFalse;
    }
    if (!s->tripped) {
        /* Reload first, so that a callback that re-enters the VM sees a
         * consistent countdown. */
        s->countdown = s->interval;
        if (s->cb == NULL || s->cb(v, s->userdata)) {
            s->tripped = 1;
        }
    }
    if (s->tripped) {
        /* Stay on the slow path: every further instruction raises, which is
         * what makes the interruption impossible to catch in the script. */
        s->countdown = 0;
        sq_throwerror(v, g_interrupt_message);
        return SQTrue;
    }
    return SQFalse;
}
