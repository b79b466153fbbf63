/*
 * cmd_hunt.c - `vaern hunt`: Sigma rules over Windows event logs (EVTX and JSON exports).
 *
 * Rules are loaded (sigma/rule.h) and compiled against the logsource mapping (sigma/engine.h).
 * EVTX events are matched on the reader's worker threads, each with its own engine scratch;
 * the hits (rule and matched fields) travel with the record to the calling thread, which
 * writes the alerts in input order, so the output is the same whatever the thread count.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/paths.h"
#include "core/vtime.h"
#include "evtx/evtx.h"
#include "json/winevent.h"
#include "sigma/engine.h"
#include "sigma/prefilter.h"

/* One rule hit: the rule and the indices of the event fields that matched. */
typedef struct hit {
    const va_sr_rule *rule;
    const uint32_t *fi;
    uint32_t nf;
} hit;

/* The hits of one event, in rule order (in the chunk's arena until it is delivered). */
typedef struct hits {
    uint32_t n;
    hit h[];
} hits;

/* A worker's scratch: engine state and the hits of the event being matched. */
typedef struct wstate {
    va_se_scratch *se;
    hit *h;
    uint32_t n, cap;
    uint32_t *fi; /* field indices of all hits of the event */
    uint32_t nfi, capfi;
    int oom;
} wstate;

typedef struct hunt {
    const va_se *engine;
    wstate *w; /* one per worker */
    int nw;
    int min_level;
    FILE *out;
    va_buf line;
    uint64_t events, alerts, problems;
    int out_err;
} hunt;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int level_rank(const char *l) {
    static const char *names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; l && i < 5; i++)
        if (!strcasecmp(l, names[i])) return i;
    return -1;
}

static void put_str(va_buf *b, const char *k, const char *v) {
    if (!v) return;
    va_buf_putc(b, ',');
    va_buf_json_str(b, k, strlen(k));
    va_buf_putc(b, ':');
    va_buf_json_str(b, v, strlen(v));
}

static void put_field(va_buf *b, const char *k, const va_field *f) {
    if (!f) return;
    va_buf_putc(b, ',');
    va_buf_json_str(b, k, strlen(k));
    va_buf_putc(b, ':');
    va_buf_json_str(b, f->val, f->vlen);
}

/* Hit callback on the matching thread: keep the rule and its matched fields. */
static int collect(void *ud, const va_sr_rule *r, const va_event *ev) {
    void **a = ud;
    hunt *h = a[0];
    wstate *w = a[1];
    if (level_rank(r->level) < h->min_level) return 0;
    if (w->n == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 16;
        hit *n = realloc(w->h, cap * sizeof *n);
        if (!n) {
            w->oom = 1;
            return 1;
        }
        w->h = n, w->cap = cap;
    }
    uint32_t need = va_se_hit_fields(w->se, NULL, 0);
    if (w->nfi + need > w->capfi) {
        uint32_t cap = w->capfi ? w->capfi : 64;
        while (cap < w->nfi + need) cap *= 2;
        uint32_t *n = realloc(w->fi, cap * sizeof *n);
        if (!n) {
            w->oom = 1;
            return 1;
        }
        w->fi = n, w->capfi = cap;
    }
    va_se_hit_fields(w->se, w->fi + w->nfi, need);
    w->h[w->n++] = (hit){r, (const uint32_t *)(uintptr_t)w->nfi, need}; /* offset for now */
    w->nfi += need;
    (void)ev;
    return 0;
}

/* Match ev with worker w's scratch; the hits are copied into arena a (NULL: none). */
static hits *match_event(hunt *h, int worker, const va_event *ev, va_arena *a) {
    wstate *w = &h->w[worker];
    w->n = w->nfi = 0;
    void *ud[2] = {h, w};
    va_se_match(h->engine, w->se, ev, collect, ud);
    if (!w->n) return NULL;
    hits *x = va_arena_alloc(a, sizeof *x + w->n * sizeof(hit));
    uint32_t *fi = va_arena_alloc(a, (w->nfi ? w->nfi : 1) * sizeof *fi);
    if (!x || !fi) {
        w->oom = 1;
        return NULL;
    }
    memcpy(fi, w->fi, w->nfi * sizeof *fi);
    x->n = w->n;
    for (uint32_t i = 0; i < w->n; i++) {
        x->h[i] = w->h[i];
        x->h[i].fi = fi + (uintptr_t)w->h[i].fi;
    }
    return x;
}

static uintptr_t evtx_work(void *ud, int worker, const va_evtx_rec *r, va_arena *a) {
    return r->ev ? (uintptr_t)match_event(ud, worker, r->ev, a) : 0;
}

/* Write one alert (calling thread, input order). */
static void emit(hunt *h, const hit *x, const va_event *ev) {
    const va_sr_rule *r = x->rule;
    h->alerts++;
    va_buf *b = &h->line;
    va_buf_clear(b);
    char t[48] = "";
    if (ev->time_ns != VA_TIME_NONE) va_time_fmt_ns(ev->time_ns, 7, t);
    va_buf_puts(b, "{\"time\":");
    va_buf_json_str(b, t, strlen(t));
    put_str(b, "rule", r->title);
    put_str(b, "id", r->id);
    put_str(b, "level", r->level);
    put_str(b, "author", r->author);
    va_buf_puts(b, ",\"tags\":[");
    for (uint32_t i = 0; i < r->tags.n; i++) {
        if (i) va_buf_putc(b, ',');
        va_buf_json_str(b, r->tags.v[i], strlen(r->tags.v[i]));
    }
    va_buf_putc(b, ']');
    put_field(b, "computer", ev->computer);
    put_field(b, "channel", ev->channel);
    if (ev->event_id >= 0) va_buf_printf(b, ",\"event_id\":%" PRId64, ev->event_id);
    if (ev->record_id) va_buf_printf(b, ",\"record_id\":%" PRIu64, ev->record_id);
    put_str(b, "file", ev->src.path);
    va_buf_puts(b, ",\"fields\":{");
    for (uint32_t i = 0; i < x->nf; i++) {
        const va_field *f = &ev->f[x->fi[i]];
        if (i) va_buf_putc(b, ',');
        va_buf_json_str(b, f->name, f->nlen);
        va_buf_putc(b, ':');
        va_buf_json_str(b, f->val, f->vlen);
    }
    va_buf_puts(b, "}}\n");
    if (!b->oom && fwrite(b->p, 1, b->len, h->out) != b->len) h->out_err = errno ? errno : EIO;
}

static void deliver(hunt *h, const hits *x, const va_event *ev) {
    h->events++;
    for (uint32_t i = 0; x && i < x->n; i++) emit(h, &x->h[i], ev);
}

static int on_evtx(void *ud, const va_evtx_rec *r) {
    hunt *h = ud;
    if (r->ev) deliver(h, (const hits *)r->work, r->ev);
    return h->out_err != 0;
}

static int on_json(void *ud, const va_event *ev) {
    hunt *h = ud;
    /* JSON exports are read on this thread, after the EVTX files: worker 0's scratch is free. */
    deliver(h, match_event(h, 0, ev, ev->arena), ev);
    return h->out_err != 0;
}

static void on_diag(void *ud, const va_diag *d) {
    ((hunt *)ud)->problems++;
    va_diag_print(NULL, d);
}

static void on_rule_diag(void *ud, const va_sr_diag *d) {
    (void)ud;
    fprintf(stderr, "vaern: rule: %s:%u:%u: %s: %s\n", d->file, d->line, d->col,
            va_err_name(d->code), d->msg);
}

static void usage(FILE *f) {
    fputs("usage: vaern hunt --rules DIR|FILE [options] PATH...\n"
          "  Match Sigma rules against Windows events: EVTX files and JSON exports\n"
          "  (directories are searched for *.evtx, *.json, *.jsonl, *.ndjson).\n"
          "  Alerts are printed as one JSON object per line.\n"
          "options:\n"
          "  -r, --rules P      Sigma rules (file or directory; repeatable; required)\n"
          "  --logsources F     logsource mapping (default: the built-in copy of\n"
          "                     config/sigma/logsources.yml)\n"
          "  --min-level L      only alerts of level L or higher\n"
          "                     (informational, low, medium, high, critical)\n"
          "  --ignore-crc       read EVTX chunks whose CRC32 does not match\n"
          "  -t, --threads N    EVTX reader threads (default: all cores)\n"
          "  -o, --output F     write alerts to F\n"
          "  -q, --quiet        do not report rules left out\n"
          "  --stats            print timings and prefilter counters at the end\n"
          "  --prefilter M      literal prefilter: auto (default), hyperscan, automaton, off\n"
          "  -h, --help         this help\n",
          f);
}

int va_cmd_hunt(int argc, char **argv) {
    static const struct option opts[] = {{"rules", required_argument, 0, 'r'},
                                         {"logsources", required_argument, 0, 'L'},
                                         {"min-level", required_argument, 0, 'm'},
                                         {"ignore-crc", no_argument, 0, 'c'},
                                         {"threads", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"prefilter", required_argument, 0, 'P'},
                                         {"stats", no_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *rules[64];
    int nrules = 0, quiet = 0, pf_off = 0, stats = 0;
    va_pf_backend pf_backend = VA_PF_AUTO;
    const char *lspath = NULL, *outpath = NULL;
    hunt h = {0};
    va_evtx_opts eo = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:t:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (nrules == 64) {
                fprintf(stderr, "vaern: at most 64 --rules\n");
                return VA_EXIT_USAGE;
            }
            rules[nrules++] = optarg;
            break;
        case 'L':
            lspath = optarg;
            break;
        case 'm':
            if ((h.min_level = level_rank(optarg)) < 0) {
                fprintf(stderr, "vaern: unknown level '%s'\n", optarg);
                return VA_EXIT_USAGE;
            }
            break;
        case 'c':
            eo.ignore_crc = 1;
            break;
        case 't':
            if (va_parse_threads(optarg, &eo.threads)) return VA_EXIT_USAGE;
            break;
        case 'o':
            outpath = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'S':
            stats = 1;
            break;
        case 'P':
            if (!strcmp(optarg, "off")) {
                pf_off = 1;
            } else if (!strcmp(optarg, "auto")) {
                pf_backend = VA_PF_AUTO;
            } else if (!strcmp(optarg, "hyperscan")) {
                pf_backend = VA_PF_HYPERSCAN;
            } else if (!strcmp(optarg, "automaton")) {
                pf_backend = VA_PF_AUTOMATON;
            } else {
                fprintf(stderr, "vaern: --prefilter takes auto, hyperscan, automaton or off\n");
                return VA_EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return VA_EXIT_OK;
        default:
            usage(stderr);
            return VA_EXIT_USAGE;
        }
    }
    if (!nrules || optind >= argc) {
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    int rc = VA_EXIT_OK;
    int64_t t0 = now_ns();
    va_arena a;
    va_arena_init(&a, 1 << 20);
    va_sr_set set = {0};
    va_sr_stats rst = {0};
    int rule_problems = 0;
    for (int i = 0; i < nrules; i++)
        if (va_sr_load_path(&a, rules[i], &set, on_rule_diag, NULL, &rst) != VA_OK)
            rule_problems = 1;
    va_sl_map *ls = NULL;
    const char *lerr = NULL;
    va_err e;
    if (lspath) {
        e = va_sl_load_file(&a, lspath, &ls, &lerr);
    } else {
        size_t len;
        const char *y = va_sl_default_yaml(&len);
        e = va_sl_load_mem(&a, "logsources.yml (built in)", y, len, &ls, &lerr);
    }
    if (e) {
        fprintf(stderr, "vaern: %s\n", lerr ? lerr : va_err_str(e));
        va_arena_free(&a);
        return VA_EXIT_USAGE;
    }
    int64_t t1 = now_ns();
    va_se_opts so = {ls, NULL, 0, pf_off, pf_backend};
    va_se *engine = NULL;
    va_se_stats est;
    e = va_se_new(&set, &so, quiet ? NULL : va_diag_print, NULL, &engine, &est);
    if (e) {
        fprintf(stderr, "vaern: cannot compile the rules: %s\n", va_err_str(e));
        va_arena_free(&a);
        return VA_EXIT_FATAL;
    }
    fprintf(stderr,
            "vaern: %u rules compiled (%u left out: %u logsource not mapped, %u not supported "
            "yet, %u did not compile)\n",
            est.rules, est.unmapped + est.unsupported + est.failed, est.unmapped, est.unsupported,
            est.failed);
    int64_t t2 = now_ns();
    h.engine = engine;
    if (!eo.threads) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        eo.threads = np > 0 ? (int)np : 1;
    }
    if (eo.threads > 64) eo.threads = 64;
    h.nw = eo.threads;
    int scratch_ok = (h.w = calloc((size_t)h.nw, sizeof *h.w)) != NULL;
    for (int i = 0; scratch_ok && i < h.nw; i++)
        scratch_ok = (h.w[i].se = va_se_scratch_new()) != NULL;
    va_buf_init(&h.line);
    h.out = outpath ? fopen(outpath, "w") : stdout;
    static const char *const exts[] = {".evtx", ".json", ".jsonl", ".ndjson", NULL};
    va_paths paths = {0};
    int missing = va_paths_add_args(&paths, argc, argv, optind, exts);
    if (!h.out || !scratch_ok) {
        fprintf(stderr, "vaern: %s\n", !h.out ? strerror(errno) : "out of memory");
        rc = VA_EXIT_FATAL;
    } else {
        /* EVTX files together (their chunks are read in parallel), then JSON exports. */
        const char **ev = calloc(paths.n ? paths.n : 1, sizeof *ev);
        size_t nev = 0;
        for (size_t i = 0; ev && i < paths.n; i++)
            if (va_path_is_evtx(paths.v[i])) ev[nev++] = paths.v[i];
        eo.want_event = 1;
        eo.work_fn = evtx_work, eo.work_ud = &h;
        va_evtx_stats st = {0};
        if (nev) va_evtx_read_files(ev, nev, &eo, on_diag, &h, &st, on_evtx, NULL, &h);
        free(ev);
        for (size_t i = 0; i < paths.n && !h.out_err; i++) {
            if (va_path_is_evtx(paths.v[i])) continue;
            va_jsonev_stats js = {0};
            va_jsonev_read_file(paths.v[i], NULL, on_diag, &h, &js, on_json, &h);
        }
        if (fflush(h.out) && !h.out_err) h.out_err = errno;
        if (h.out_err) {
            fprintf(stderr, "vaern: cannot write alerts: %s\n", strerror(h.out_err));
            rc = VA_EXIT_FATAL;
        }
        fprintf(stderr, "vaern: %" PRIu64 " events, %" PRIu64 " alerts\n", h.events, h.alerts);
        if (stats) {
            uint64_t ev_n = 0, sk_n = 0;
            for (int i = 0; i < h.nw; i++) {
                uint64_t a1, a2;
                va_se_scratch_counts(h.w[i].se, &a1, &a2);
                ev_n += a1, sk_n += a2;
            }
            fprintf(stderr,
                    "vaern: stats: load %.3f s, compile %.3f s, hunt %.3f s; prefilter: %u of %u "
                    "rules, %u literals; rules evaluated %" PRIu64 ", skipped %" PRIu64 "\n",
                    (t1 - t0) / 1e9, (t2 - t1) / 1e9, (now_ns() - t2) / 1e9, est.prefiltered,
                    est.rules, est.literals, ev_n, sk_n);
        }
        if (rc == VA_EXIT_OK && (missing || h.problems || rule_problems)) rc = VA_EXIT_INPUT;
    }
    if (h.out && h.out != stdout) fclose(h.out);
    va_buf_free(&h.line);
    for (int i = 0; h.w && i < h.nw; i++) {
        va_se_scratch_free(h.w[i].se);
        free(h.w[i].h);
        free(h.w[i].fi);
    }
    free(h.w);
    va_se_free(engine);
    va_paths_free(&paths);
    va_arena_free(&a);
    return rc;
}
