/*
 * progress.c - the terminal progress bar (see progress.h).
 *
 * Cheap by construction: an update stores the counts and decrements a countdown; only when
 * it reaches zero is the clock read.  The countdown's length (the stride) adapts so that the
 * clock is read every few milliseconds whether events arrive at ten a second or ten million.
 * Rates are smoothed with an exponential average so the MB/s and the ETA do not jump about.
 * The line is plain ASCII and erased with spaces, not escape sequences, so it works on any
 * terminal that honours \r.
 */
#include "output/progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS     1000000LL
#define REDRAW_NS     (125 * NS_PER_MS) /* at most 8 redraws a second */
#define CHECK_FAST_NS (1 * NS_PER_MS)   /* clock read sooner than this: read it less often */
#define CHECK_SLOW_NS (20 * NS_PER_MS)  /* later than this: read it more often */
/* Bounds the stall when events suddenly slow down (a stride is used up before the clock is
 * read again): 256 events, while reading the coarse clock every 256 events costs nothing. */
#define MAX_STRIDE    256u
#define RATE_TAU_NS   2e9 /* smoothing time constant of the rates */
#define DEFAULT_WIDTH 80u
#define MAX_LINE      256u
#define MAX_BAR       40

struct va_progress {
    FILE *f;
    int active;
    uint64_t total, done, events, alerts;
    uint32_t stride, countdown;
    int64_t (*clock_ns)(void *ud);
    void *clock_ud;
    unsigned width;
    int64_t t0, last_check, last_draw, delay_ns;
    int drawn_once;
    size_t drawn; /* columns of the bar now on screen; 0 if none */
    /* smoothed rates, per second */
    double byte_rate, ev_rate;
    uint64_t rate_bytes, rate_events;
    int64_t rate_t;
};

static int64_t coarse_ns(void *ud) {
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

va_progress *va_progress_new_opts(FILE *tty, uint64_t total_bytes, const va_progress_opts *o) {
    va_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int force = o && o->force;
    p->f = tty;
    p->total = total_bytes;
    p->active = tty && total_bytes && (force || isatty(fileno(tty)));
    p->clock_ns = o && o->clock_ns ? o->clock_ns : coarse_ns;
    p->clock_ud = o ? o->clock_ud : NULL;
    p->width = o ? o->width : 0;
    p->delay_ns = (o && o->delay_ms ? (int64_t)o->delay_ms : 500) * NS_PER_MS;
    p->stride = p->countdown = 1;
    if (p->active) p->t0 = p->last_check = p->rate_t = p->clock_ns(p->clock_ud);
    return p;
}

va_progress *va_progress_new(FILE *tty, uint64_t total_bytes) {
    return va_progress_new_opts(tty, total_bytes, NULL);
}

static unsigned columns(const va_progress *p) {
    if (p->width) return p->width;
    struct winsize ws;
    int fd = fileno(p->f);
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return DEFAULT_WIDTH;
}

/* 950, 12.3k, 4.5M: events per second in at most 6 characters. */
static void human(char *out, size_t n, double v) {
    if (v < 1000)
        snprintf(out, n, "%.0f", v);
    else if (v < 1e6)
        snprintf(out, n, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(out, n, "%.1fM", v / 1e6);
    else
        snprintf(out, n, "%.1fG", v / 1e9);
}

static void eta(char *out, size_t n, double secs) {
    if (!(secs >= 0) || secs > 99 * 3600.0) {
        snprintf(out, n, "--:--");
        return;
    }
    unsigned s = (unsigned)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, n, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%u:%02u", s / 60, s % 60);
}

static void put_spaces(FILE *f, size_t n) {
    static const char sp[] = "                                ";
    while (n) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        fwrite(sp, 1, k, f);
        n -= k;
    }
}

static void draw(va_progress *p, int64_t now) {
    double dt = (double)(now - p->rate_t);
    if (dt > 0) {
        double ib = (double)(p->done - p->rate_bytes) * 1e9 / dt;
        double ie = (double)(p->events - p->rate_events) * 1e9 / dt;
        if (!p->drawn_once) {
            p->byte_rate = ib, p->ev_rate = ie;
        } else {
            double a = dt / (RATE_TAU_NS + dt);
            p->byte_rate += a * (ib - p->byte_rate);
            p->ev_rate += a * (ie - p->ev_rate);
        }
        p->rate_bytes = p->done, p->rate_events = p->events, p->rate_t = now;
    }
    p->drawn_once = 1;
    p->last_draw = now;
    uint64_t done = p->done < p->total ? p->done : p->total;
    double frac = (double)done / (double)p->total;
    char ev[16], left[24], tail[128];
    human(ev, sizeof ev, p->ev_rate);
    eta(left, sizeof left, p->byte_rate > 0 ? (double)(p->total - done) / p->byte_rate : -1);
    int tl = snprintf(tail, sizeof tail, " %.1f MB/s  %s ev/s  %llu alerts  ETA %s",
                      p->byte_rate / 1e6, ev, (unsigned long long)p->alerts, left);
    if (tl < 0) return;
    /* One column short of the width: a full line would wrap on some terminals and \r would
     * then return to the wrong row. */
    unsigned w = columns(p);
    size_t room = w > 1 ? w - 1 : 0;
    if (room > MAX_LINE) room = MAX_LINE;
    char line[MAX_LINE + 1];
    int n = snprintf(line, sizeof line, "%3u%%", (unsigned)(frac * 100));
    int bar = (int)room - n - (int)tl - 3;
    if (bar > MAX_BAR) bar = MAX_BAR;
    if (bar >= 10) {
        int fill = (int)(frac * bar);
        line[n++] = ' ', line[n++] = '[';
        for (int i = 0; i < bar; i++) line[n++] = i < fill ? '#' : '-';
        line[n++] = ']';
    }
    size_t len = (size_t)n + (size_t)tl;
    if (len > sizeof line - 1) len = sizeof line - 1;
    memcpy(line + n, tail, len - (size_t)n);
    if (len > room) len = room;
    /* Blank what a longer previous line left; the cursor may rest after the blanks: the next
     * draw starts with \r and va_progress_clear erases every column ever drawn. */
    fputc('\r', p->f);
    fwrite(line, 1, len, p->f);
    if (p->drawn > len)
        put_spaces(p->f, p->drawn - len);
    else
        p->drawn = len;
    fflush(p->f);
}

void va_progress_update(va_progress *p, uint64_t done_bytes, uint64_t events, uint64_t alerts) {
    if (!p || !p->active) return;
    p->done = done_bytes, p->events = events, p->alerts = alerts;
    if (--p->countdown) return;
    int64_t now = p->clock_ns(p->clock_ud);
    int64_t since = now - p->last_check;
    p->last_check = now;
    if (since < CHECK_FAST_NS && p->stride < MAX_STRIDE)
        p->stride *= 2;
    else if (since > CHECK_SLOW_NS && p->stride > 1)
        p->stride /= 2;
    p->countdown = p->stride;
    if (now - p->t0 < p->delay_ns) return;
    if (p->drawn_once && p->drawn && now - p->last_draw < REDRAW_NS) return;
    draw(p, now);
}

void va_progress_clear(va_progress *p) {
    if (!p || !p->active || !p->drawn) return;
    fputc('\r', p->f);
    put_spaces(p->f, p->drawn);
    fputc('\r', p->f);
    fflush(p->f);
    p->drawn = 0;
    p->countdown = 1; /* redraw at the next update */
}

void va_progress_end(va_progress *p) {
    va_progress_clear(p);
    free(p);
}
