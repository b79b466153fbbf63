/*
 * sig.c - the SIGINT/SIGTERM handler of the vaern command (see sig.h).
 *
 * A handler receives nothing but the signal's number, so the one thing it can reach has to be
 * static: the address of the running command's flag.  That pointer is the only static state;
 * it is set before the handlers are installed and cleared after they are taken down, and the
 * handler does nothing but one store through it (async-signal-safe).
 */
#include "cli/sig.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

static volatile sig_atomic_t *volatile target;

static void on_signal(int sig) {
    volatile sig_atomic_t *t = target;
    if (t) *t = sig;
}

static void catch_one(int sig, struct sigaction *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    memset(old, 0, sizeof *old);
    old->sa_handler = SIG_DFL;
    if (sigaction(sig, NULL, old) == 0 && old->sa_handler == SIG_IGN) return;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: writes and reads in progress go on, so stdio never sees EINTR. */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(sig, &sa, NULL);
}

void va_sig_catch(volatile sig_atomic_t *flag, va_sig_saved *saved) {
    *flag = 0;
    target = flag;
    catch_one(SIGINT, &saved->intr);
    catch_one(SIGTERM, &saved->term);
}

void va_sig_release(const va_sig_saved *saved) {
    sigaction(SIGINT, &saved->intr, NULL);
    sigaction(SIGTERM, &saved->term, NULL);
    target = NULL;
}

int va_sig_exit_code(int sig) {
    return 128 + sig;
}

void va_sig_report(int sig, const char *what, uint64_t n, const char *path, int64_t off) {
    const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
    char where[1200] = "";
    if (n && path && off >= 0)
        snprintf(where, sizeof where, " (%s, offset 0x%" PRIx64 ")", path, (uint64_t)off);
    else if (n && path)
        snprintf(where, sizeof where, " (from %s)", path);
    va_diag_printf(stderr,
                   "vaern: interrupted by %s: output is complete up to %s %" PRIu64
                   "%s; the rest was not read",
                   name, what, n, where);
}
