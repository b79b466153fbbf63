/*
 * sig.h - SIGINT and SIGTERM end a command cleanly instead of killing it mid-line.
 *
 * The handler only stores the signal's number in a flag that the command keeps in its own
 * context; the command's reader callbacks look at the flag and return nonzero, the readers
 * stop, and the command writes out whole records only, flushes, closes, says where the output
 * ends and exits with 128 + the signal's number, as shells expect (130, 143).
 */
#ifndef VA_CLI_SIG_H
#define VA_CLI_SIG_H

#include <signal.h>
#include <stdint.h>

/* The dispositions to put back: the caller's, from va_sig_catch to va_sig_release. */
typedef struct va_sig_saved {
    struct sigaction intr, term;
} va_sig_saved;

/* From now on SIGINT and SIGTERM store their number in *flag (the caller's, which must stay
 * valid until va_sig_release).  A signal that was ignored when vaern started (a background
 * job of a non-interactive shell) stays ignored.  The handler is reset when it runs, so a
 * second signal ends vaern at once (for a read that cannot be interrupted, such as a quiet
 * pipe). */
void va_sig_catch(volatile sig_atomic_t *flag, va_sig_saved *saved);
/* Put back the dispositions saved by va_sig_catch. */
void va_sig_release(const va_sig_saved *saved);
/* The exit status for signal sig: 128 + sig. */
int va_sig_exit_code(int sig);
/* Say on standard error that signal sig stopped the command and where its output ends: after
 * n whole items (what: "event", "record"), the last from path (NULL: unknown) at byte offset
 * off (< 0: unknown). */
void va_sig_report(int sig, const char *what, uint64_t n, const char *path, int64_t off);

#endif
