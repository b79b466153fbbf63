/*
 * cmd_hunt.c - `vaern hunt`: Sigma rules over Windows event logs (EVTX and JSON exports).
 *
 * Rules (vaern's built-in pack and --rules) are loaded (sigma/rule.h) and compiled against the
 * logsource mapping (sigma/engine.h).  EVTX events are matched on the reader's worker threads,
 * each with its own engine scratch; the hits (rule and matched fields) travel with the record
 * to the calling thread, which writes the alerts in input order, so the output is the same
 * whatever the thread count.  Hits of rules that correlations use also go to the correlation
 * engine (sigma/correlate.h), evaluated in event time once every event is in.  Alerts go
 * through the output layer (output/output.h): table, JSON lines or CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/paths.h"
#include "cli/sig.h"
#include "cli/stdin.h"
#include "core/array.h"
#include "core/vtime.h"
#include "evtx/evtx.h"
#include "json/winevent.h"
#include "output/output.h"
#include "output/progress.h"
#include "sigma/correlate.h"
#include "sigma/engine.h"
#include "sigma/pack.h"
#include "sigma/placeholders.h"
#include "sigma/prefilter.h"

/* Undecided alerts (a regex limit) reported one by one; the summary counts them all. */
#define UNDECIDED_REPORTS 10

/* One rule hit: the rule and the indices of the event fields that matched. */
typedef struct hit {
    const va_rule *rule;
    const uint32_t *fi;
    uint32_t nf;
    int show;              /* an alert of its own */
    int feed;              /* an input of correlations */
    const char *undecided; /* the field whose regex gave up at a limit, or NULL */
} hit;

/* The hits of one event, in rule order (in the chunk's arena until it is delivered). */
typedef struct hits {
    uint32_t n;
    hit h[];
} hits;

/* A worker's scratch: engine state and the hits of the event being matched. */
typedef struct wstate {
    va_engine_scratch *se;
    hit *h;
    uint32_t n;
    size_t cap;
    uint32_t *fi; /* field indices of all hits of the event */
    uint32_t nfi;
    size_t capfi;
    int oom;
} wstate;

typedef struct hunt {
    int quiet; /* -q: rules left out are not reported */
    const va_engine *engine;
    va_correlate *sx; /* correlations over the hits */
    wstate *w;        /* one per worker */
    int nw;
    int min_level; /* va_out_level rank; -1: every alert (rules without a level too) */
    va_out *out;
    va_kv *kv; /* matched fields of the alert being written */
    size_t kv_cap;
    uint64_t events, problems;
    uint64_t undecided_reported; /* undecided alerts reported one by one (the rest counted) */
    va_err out_err;
    int out_errno;             /* errno when out_err was set, before later calls overwrite it */
    int oom;                   /* a worker could not record hits */
    volatile sig_atomic_t sig; /* SIGINT or SIGTERM received (sig.h): stop reading */
    va_stdin sin;              /* "-": standard input, EVTX or JSON */
    /* The last event delivered, for the message when interrupted. */
    const char *last_src; /* the reader's pointer, to notice a new file */
    char last_path[1024];
    int64_t last_off;
    /* Progress: input files in delivery order with their sizes. */
    va_progress *prog;
    const char **ppath;
    uint64_t *psize;
    size_t np, pcur;
    uint64_t pdone;
} hunt;

static void free_arenas(va_arena *a, va_arena *ra, int n) {
    va_arena_free(a);
    for (int i = 0; i < n; i++) va_arena_free(&ra[i]);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Hit callback on the matching thread: keep the rule and its matched fields. */
static int collect(void *ud, const va_rule *r, const va_event *ev) {
    void **a = ud;
    hunt *h = a[0];
    wstate *w = a[1];
    /* Shown if its level is high enough and no correlation claims it (generate); kept anyway
     * when a correlation needs it. */
    int show = va_out_level_rank(r->level) >= h->min_level && va_correlate_standalone(h->sx, r);
    int feed = va_correlate_referenced(h->sx, r);
    if (!show && !feed) return 0;
    /* Matched fields straight into the room there is; only a rare overflow asks again. */
    if (VA_ARRAY_GROW(w->h, w->cap, (size_t)w->n + 1)) {
        w->oom = 1;
        return 1;
    }
    size_t room = w->capfi - w->nfi;
    uint32_t need = va_engine_hit_fields(w->se, w->fi ? w->fi + w->nfi : NULL, (uint32_t)room);
    if (need > room) {
        if (VA_ARRAY_GROW(w->fi, w->capfi, (size_t)w->nfi + need)) {
            w->oom = 1;
            return 1;
        }
        va_engine_hit_fields(w->se, w->fi + w->nfi, need);
    }
    w->h[w->n++] = (hit){r,    (const uint32_t *)(uintptr_t)w->nfi, need, show,
                         feed, va_engine_hit_undecided(w->se)}; /* fi: an offset for now */
    w->nfi += need;
    (void)ev;
    return 0;
}

/* Match ev with worker w's scratch; the hits are copied into arena a (NULL: none). */
static hits *match_event(hunt *h, int worker, const va_event *ev, va_arena *a) {
    wstate *w = &h->w[worker];
    w->n = w->nfi = 0;
    void *ud[2] = {h, w};
    va_engine_match(h->engine, w->se, ev, collect, ud);
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

/* Keep the first output error with its errno (VA_EIO: the sink's or fclose's). */
static void out_fail(hunt *h, va_err e) {
    if (!e || h->out_err) return;
    h->out_err = e;
    h->out_errno = e == VA_EIO ? errno : 0;
}

/* Write one alert (calling thread, input order). */
static void emit(hunt *h, const hit *x, const va_event *ev) {
    const va_rule *r = x->rule;
    if (VA_ARRAY_GROW(h->kv, h->kv_cap, x->nf)) {
        h->oom = 1;
        return;
    }
    for (uint32_t i = 0; i < x->nf; i++) {
        const va_field *f = &ev->f[x->fi[i]];
        h->kv[i] = (va_kv){f->name, f->val, f->nlen, f->vlen};
    }
    va_alert a = {0};
    a.kind = VA_ALERT_SIGMA;
    a.time_ns = ev->time_ns;
    a.title = r->title, a.id = r->id, a.level = r->level, a.author = r->author;
    a.tags = r->tags.v, a.ntags = r->tags.n;
    a.computer = ev->computer ? ev->computer->val : NULL;
    a.channel = ev->channel ? ev->channel->val : NULL;
    a.event_id = ev->event_id, a.record_id = ev->record_id;
    a.file = ev->src.path;
    a.fields = h->kv, a.nfields = x->nf;
    a.first_ns = VA_TIME_NONE;
    a.undecided = x->undecided;
    if (x->undecided && h->undecided_reported++ < UNDECIDED_REPORTS) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "rule '%s': a regular expression on %s stopped at PCRE2's match limit; the "
                 "alert is raised and marked undecided%s",
                 r->title ? r->title : "?", x->undecided,
                 h->undecided_reported == UNDECIDED_REPORTS ? " (further ones are only counted)"
                                                            : "");
        int rec = ev->record_id != 0; /* EVTX records have IDs; JSON lines have line numbers */
        va_diag d = {VA_SEV_WARN,
                     VA_ELIMIT,
                     ev->src.path,
                     rec ? "record" : "line",
                     rec ? (int64_t)ev->record_id : ev->src.unit,
                     ev->src.offset,
                     msg};
        va_progress_clear(h->prog);
        va_diag_print(NULL, &d);
    }
    va_err e = va_out_alert(h->out, &a);
    out_fail(h, e);
}

/* Bytes of input done so far: the files before ev's, plus ev's offset in its own. */
static void progress(hunt *h, const va_event *ev) {
    if (!h->prog) return;
    while (h->pcur < h->np && ev->src.path && h->ppath[h->pcur] != ev->src.path &&
           strcmp(h->ppath[h->pcur], ev->src.path))
        h->pdone += h->psize[h->pcur++];
    uint64_t at = h->pdone + (ev->src.offset > 0 ? (uint64_t)ev->src.offset : 0);
    va_out_stats st;
    va_out_get_stats(h->out, &st);
    va_progress_update(h->prog, at, h->events, st.alerts);
}

static void deliver(hunt *h, const hits *x, const va_event *ev) {
    h->events++;
    if (ev->src.path != h->last_src) {
        h->last_src = ev->src.path;
        snprintf(h->last_path, sizeof h->last_path, "%s", ev->src.path ? ev->src.path : "-");
    }
    h->last_off = ev->src.offset;
    for (uint32_t i = 0; x && i < x->n; i++) {
        if (x->h[i].feed) {
            va_err e = va_correlate_add(h->sx, x->h[i].rule, ev);
            if (e == VA_ENOMEM) h->oom = 1;
        }
        if (x->h[i].show) emit(h, &x->h[i], ev);
    }
    progress(h, ev);
}

static int on_correlation(void *ud, const va_alert *a) {
    hunt *h = ud;
    if (va_out_level_rank(a->level) < h->min_level) return 0;
    va_err e = va_out_alert(h->out, a);
    out_fail(h, e);
    return h->out_err != VA_OK;
}

static int on_evtx(void *ud, const va_evtx_rec *r) {
    hunt *h = ud;
    if (h->sig) return 1; /* stop reading: nothing after the signal */
    if (r->ev) deliver(h, (const hits *)r->work, r->ev);
    return h->out_err != VA_OK;
}

static int on_json(void *ud, const va_event *ev) {
    hunt *h = ud;
    if (h->sig) return 1;
    /* JSON exports are read on this thread, after the EVTX files: worker 0's scratch is free. */
    deliver(h, match_event(h, 0, ev, ev->arena), ev);
    return h->out_err != VA_OK;
}

static void on_diag(void *ud, const va_diag *d) {
    hunt *h = ud;
    h->problems++;
    va_progress_clear(h->prog);
    va_diag_print(NULL, d);
}

/* Correlations report rules left out at compile time (unit "line": quiet hides them) and,
 * during the hunt, bounds and spill problems (always shown and counted). */
static void on_corr_diag(void *ud, const va_diag *d) {
    hunt *h = ud;
    if (d->unit && !strcmp(d->unit, "line")) { /* left out: like detection rules left out */
        if (!h->quiet) va_diag_print(NULL, d);
        return;
    }
    on_diag(h, d);
}

static void on_rule_diag(void *ud, const va_rule_diag *d) {
    (void)ud;
    if (d->line)
        va_diag_printf(stderr, "vaern: rule: %s:%u:%u: %s: %s", d->file, d->line, d->col,
                       va_err_name(d->code), d->msg);
    else /* the file or folder as a whole */
        va_diag_printf(stderr, "vaern: rule: %s: %s: %s", d->file, va_err_name(d->code), d->msg);
}

static void on_dup(void *ud, const va_rule *first, const va_rule *again) {
    (void)ud;
    va_diag_printf(stderr, "vaern: rule: %s:%u:%u: duplicate rule id %s (%s): also %s:%u:%u (%s)",
                   again->file, again->line, again->col, again->id,
                   again->title ? again->title : "", first->file, first->line, first->col,
                   first->title ? first->title : "");
}

static void usage(FILE *f) {
    fputs("usage: vaern hunt [--rules DIR|FILE]... [options] PATH...\n"
          "  Match Sigma rules against Windows events: EVTX files and JSON exports\n"
          "  (directories are searched for *.evtx, *.json, *.jsonl, *.ndjson; - is standard\n"
          "  input, EVTX or JSON).  vaern's own\n"
          "  detection pack (rules/vaern, built in) is always used, unless --no-pack.\n"
          "options:\n"
          "  -r, --rules P      more Sigma rules: a file or a directory (repeatable)\n"
          "  --no-pack          leave out vaern's own detection pack\n"
          "  -f, --format F     table (timeline sorted by time), jsonl or csv; default:\n"
          "                     table on a terminal, else jsonl (see docs/output.md)\n"
          "  -o, --output F     write alerts to F instead of standard output\n"
          "  --min-level L      only alerts of level L or higher\n"
          "                     (informational, low, medium, high, critical)\n"
          "  --color WHEN       auto (default), always or never\n"
          "  --summary          print alerts per level, rule and host to standard error\n"
          "                     (the default on a terminal); --no-summary: never\n"
          "  --no-progress      no progress bar (shown on a terminal during long runs)\n"
          "  --placeholders F   values for the `expand` modifier's %placeholders% (YAML;\n"
          "                     see config/sigma/placeholders.yml)\n"
          "  --correlation-memory SIZE  memory for correlation inputs waiting to be\n"
          "                     evaluated in event time; beyond, they spill to disk\n"
          "                     (default 8M; K, M, G; unlimited)\n"
          "  --correlation-state N  bound on correlation window state (groups, values)\n"
          "  --tmpdir DIR       where spilled inputs go (default: $TMPDIR, else /tmp)\n"
          "  --logsources F     logsource mapping (default: the built-in copy of\n"
          "                     config/sigma/logsources.yml)\n"
          "  --strict-crc       skip EVTX chunks whose CRC32 does not match (default: read\n"
          "                     them and report the mismatch)\n"
          "  -t, --threads N    threads reading and matching EVTX (default: all cores)\n"
          "  --prefilter M      literal prefilter: auto (default), hyperscan, automaton, off\n"
          "  --cache DIR        keep parsed rules and compiled prefilter databases in DIR\n"
          "                     (default: $XDG_CACHE_HOME/vaern or ~/.cache/vaern);\n"
          "                     --no-cache: none\n"
          "  --stats            print timings and prefilter counters at the end\n"
          "  -q, --quiet        do not report rules left out\n"
          "  -h, --help         this help\n"
          "exit status: 0 done; 1 done, but some input or rule could not be read (reported);\n"
          "  2 bad command line; 3 could not continue (output error, out of memory)\n",
          f);
}

/* EVTX by extension; standard input by its first bytes. */
static int input_is_evtx(const hunt *h, const char *path) {
    return strcmp(path, "-") ? va_path_is_evtx(path) : h->sin.evtx;
}

/* Sizes of the inputs in the order events are delivered (EVTX first, then JSON). */
static int plan_progress(hunt *h, const va_paths *p) {
    h->ppath = calloc(p->n ? p->n : 1, sizeof *h->ppath);
    h->psize = calloc(p->n ? p->n : 1, sizeof *h->psize);
    if (!h->ppath || !h->psize) return -1;
    uint64_t total = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < p->n; i++) {
            if (input_is_evtx(h, p->v[i]) != (pass == 0)) continue;
            struct stat sb;
            h->ppath[h->np] = p->v[i];
            h->psize[h->np] = stat(p->v[i], &sb) ? 0 : (uint64_t)sb.st_size;
            total += h->psize[h->np++];
        }
    h->prog = va_progress_new(stderr, total);
    return h->prog ? 0 : -1;
}

static int when_parse(const char *s, int *out) {
    if (!strcmp(s, "auto"))
        *out = -1;
    else if (!strcmp(s, "always"))
        *out = 1;
    else if (!strcmp(s, "never"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* The command line, parsed. */
typedef struct hunt_args {
    const char *rules[64]; /* --rules paths */
    int nrules, quiet, pf_off, stats, color, summary, show_prog, have_fmt, no_cache, no_pack;
    int min_level;
    va_out_fmt fmt;
    va_prefilter_backend pf_backend;
    const char *lspath, *outpath, *cache_dir, *phpath;
    va_correlate_opts co; /* --correlation-memory, --correlation-state, --tmpdir */
    va_evtx_opts eo;
    int argc, first; /* the inputs are argv[first..argc) */
    char **argv;
} hunt_args;

/* Returns -1 to go on, else the exit code (help, or a bad command line, said why). */
static int parse_args(int argc, char **argv, hunt_args *o) {
    enum {
        O_LS = 256,
        O_MIN,
        O_STRICT,
        O_IGN,
        O_PF,
        O_STATS,
        O_COLOR,
        O_SUM,
        O_NOSUM,
        O_NOPROG,
        O_CACHE,
        O_NOCACHE,
        O_NOPACK,
        O_PH,
        O_CMEM,
        O_CSTATE,
        O_TMPDIR
    };
    static const struct option opts[] = {{"rules", required_argument, 0, 'r'},
                                         {"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"threads", required_argument, 0, 't'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {"logsources", required_argument, 0, O_LS},
                                         {"min-level", required_argument, 0, O_MIN},
                                         {"strict-crc", no_argument, 0, O_STRICT},
                                         {"ignore-crc", no_argument, 0, O_IGN},
                                         {"prefilter", required_argument, 0, O_PF},
                                         {"stats", no_argument, 0, O_STATS},
                                         {"color", required_argument, 0, O_COLOR},
                                         {"summary", no_argument, 0, O_SUM},
                                         {"no-summary", no_argument, 0, O_NOSUM},
                                         {"no-progress", no_argument, 0, O_NOPROG},
                                         {"cache", required_argument, 0, O_CACHE},
                                         {"no-cache", no_argument, 0, O_NOCACHE},
                                         {"no-pack", no_argument, 0, O_NOPACK},
                                         {"placeholders", required_argument, 0, O_PH},
                                         {"correlation-memory", required_argument, 0, O_CMEM},
                                         {"correlation-state", required_argument, 0, O_CSTATE},
                                         {"tmpdir", required_argument, 0, O_TMPDIR},
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->color = -1, o->summary = -1, o->show_prog = 1, o->min_level = -1;
    o->fmt = VA_OUT_JSONL;
    o->pf_backend = VA_PREFILTER_AUTO;
    o->eo.ignore_crc = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:f:o:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nrules == 64) {
                fprintf(stderr, "vaern: at most 64 --rules\n");
                return VA_EXIT_USAGE;
            }
            o->rules[o->nrules++] = optarg;
            break;
        case 'f':
            if (va_out_fmt_parse(optarg, &o->fmt)) {
                fprintf(stderr, "vaern: --format takes table, jsonl or csv\n");
                return VA_EXIT_USAGE;
            }
            o->have_fmt = 1;
            break;
        case 'o':
            o->outpath = optarg;
            break;
        case 't':
            if (va_parse_threads(optarg, &o->eo.threads)) return VA_EXIT_USAGE;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return VA_EXIT_OK;
        case O_LS:
            o->lspath = optarg;
            break;
        case O_MIN:
            /* va_out_level_rank gives -1 for a name it does not know */
            if ((o->min_level = va_out_level_rank(optarg)) < 0) {
                fprintf(stderr,
                        "vaern: --min-level takes informational, low, medium, high or critical\n");
                return VA_EXIT_USAGE;
            }
            break;
        case O_STRICT:
            o->eo.ignore_crc = 0;
            break;
        case O_IGN: /* the default since hunts read damaged chunks; kept for scripts */
            o->eo.ignore_crc = 1;
            break;
        case O_PF:
            if (!strcmp(optarg, "off")) {
                o->pf_off = 1;
            } else if (!strcmp(optarg, "auto")) {
                o->pf_backend = VA_PREFILTER_AUTO;
            } else if (!strcmp(optarg, "hyperscan")) {
                o->pf_backend = VA_PREFILTER_HYPERSCAN;
            } else if (!strcmp(optarg, "automaton")) {
                o->pf_backend = VA_PREFILTER_AUTOMATON;
            } else {
                fprintf(stderr, "vaern: --prefilter takes auto, hyperscan, automaton or off\n");
                return VA_EXIT_USAGE;
            }
            break;
        case O_STATS:
            o->stats = 1;
            break;
        case O_COLOR:
            if (when_parse(optarg, &o->color)) {
                fprintf(stderr, "vaern: --color takes auto, always or never\n");
                return VA_EXIT_USAGE;
            }
            break;
        case O_SUM:
            o->summary = 1;
            break;
        case O_NOSUM:
            o->summary = 0;
            break;
        case O_NOPROG:
            o->show_prog = 0;
            break;
        case O_CACHE:
            o->cache_dir = optarg;
            break;
        case O_NOCACHE:
            o->no_cache = 1;
            break;
        case O_NOPACK:
            o->no_pack = 1;
            break;
        case O_CMEM:
            if (va_parse_size("--correlation-memory", optarg, &o->co.memory)) return VA_EXIT_USAGE;
            break;
        case O_CSTATE:
            if (va_parse_count("--correlation-state", optarg, &o->co.max_state))
                return VA_EXIT_USAGE;
            break;
        case O_TMPDIR:
            o->co.tmpdir = optarg;
            break;
        case O_PH:
            o->phpath = optarg;
            break;
        default:
            usage(stderr);
            return VA_EXIT_USAGE;
        }
    }
    if (optind >= argc || (!o->nrules && o->no_pack)) {
        if (!o->nrules && o->no_pack) fprintf(stderr, "vaern: --no-pack needs --rules\n");
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    if (va_stdin_twice(argc, argv, optind)) return VA_EXIT_USAGE;
    o->argc = argc, o->argv = argv, o->first = optind;
    return -1;
}

/* Everything after the command line: load, compile, hunt, report.  Returns the exit code. */
static int run(hunt *h, hunt_args *o) {
    va_evtx_opts eo = o->eo;
    int rc = VA_EXIT_OK;
    int64_t t0 = now_ns();
    va_arena a, ra[VA_RULE_MAX_THREADS];
    int nload = 0;
    va_arena_init(&a, 1 << 20);
    /* The files the command line names come first: a mistake in one is a usage error (or, for
     * the output, exit 3) before any work, and before the output file is truncated. */
    /* An explicit --cache must be usable: a directory, made here if it is missing. */
    if (o->cache_dir && !o->no_cache && va_paths_cache_check(o->cache_dir)) {
        free_arenas(&a, ra, nload);
        return VA_EXIT_USAGE;
    }
    for (int i = 0; i < o->nrules; i++) {
        struct stat sb;
        if (stat(o->rules[i], &sb)) {
            va_diag_printf(stderr, "vaern: --rules %s: %s", o->rules[i], strerror(errno));
            free_arenas(&a, ra, nload);
            return VA_EXIT_USAGE;
        }
    }
    va_logsource_map *ls = NULL;
    const char *lerr = NULL;
    va_err e;
    e = va_logsource_load(&a, o->lspath, &ls, &lerr);
    if (e) {
        va_diag_printf(stderr, "vaern: --logsources: %s", lerr ? lerr : va_err_str(e));
        free_arenas(&a, ra, nload);
        return e == VA_ENOMEM ? VA_EXIT_FATAL : VA_EXIT_USAGE;
    }
    va_value_placeholder *ph = NULL;
    size_t nph = 0;
    char pherr[512];
    if (o->phpath &&
        (e = va_placeholders_load_file(&a, o->phpath, &ph, &nph, pherr, sizeof pherr)) != VA_OK) {
        va_diag_printf(stderr, "vaern: --placeholders: %s", pherr);
        free_arenas(&a, ra, nload);
        return e == VA_ENOMEM ? VA_EXIT_FATAL : VA_EXIT_USAGE;
    }
    FILE *outf = o->outpath ? va_paths_create(o->outpath) : stdout;
    if (!outf) {
        free_arenas(&a, ra, nload);
        return VA_EXIT_FATAL;
    }
    va_rule_set set = {0};
    va_rule_stats rst = {0};
    int rule_problems = 0;
    size_t npack = 0;
    const va_pack_file *pack = o->no_pack ? NULL : va_pack_files(&npack);
    for (size_t i = 0; i < npack; i++)
        if (va_rule_load_mem(&a, pack[i].name, pack[i].text, pack[i].len, &set, on_rule_diag, NULL,
                             &rst) != VA_OK)
            rule_problems = 1;
    /* Rule folders are loaded on all cores, each thread into its own arena. */
    if (!eo.threads) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        eo.threads = np > 0 ? (int)np : 1;
    }
    if (eo.threads > 64) eo.threads = 64;
    nload = eo.threads < VA_RULE_MAX_THREADS ? eo.threads : VA_RULE_MAX_THREADS;
    for (int i = 0; i < nload; i++) va_arena_init(&ra[i], 1 << 20);
    /* The cache holds the rule folders' parsed YAML as well as the prefilter databases. */
    char cache_buf[4096];
    const char *cache_dir = o->no_cache    ? NULL
                            : o->cache_dir ? o->cache_dir
                                           : va_paths_cache_default(cache_buf, sizeof cache_buf);
    if (o->nrules && va_rule_load_paths(ra, nload, o->rules, (size_t)o->nrules, cache_dir, &set,
                                        on_rule_diag, NULL, &rst) != VA_OK)
        rule_problems = 1;
    uint32_t ndup = 0;
    if (va_rule_duplicate_ids(&set, on_dup, NULL, &ndup) != VA_OK) h->oom = 1;
    if (ndup) rule_problems = 1;
    if (h->sig) { /* interrupted while loading: no compiling */
        if (outf != stdout) fclose(outf);
        free_arenas(&a, ra, nload);
        va_sig_report(h->sig, "event", 0, NULL, -1);
        return va_sig_exit_code(h->sig);
    }
    int64_t t1 = now_ns();
    va_engine_opts so = {.logsources = ls,
                         .placeholders = ph,
                         .nplaceholders = nph,
                         .prefilter_off = o->pf_off,
                         .prefilter_backend = o->pf_backend};
    so.cache_dir = cache_dir;
    so.threads = eo.threads;
    va_engine *engine = NULL;
    va_engine_stats est;
    e = va_engine_new(&set, &so, o->quiet ? NULL : va_diag_print, NULL, &engine, &est);
    if (e) {
        fprintf(stderr, "vaern: cannot compile the rules: %s\n", va_err_str(e));
        if (outf != stdout) fclose(outf);
        free_arenas(&a, ra, nload);
        return VA_EXIT_FATAL;
    }
    va_correlate_stats xst = {0};
    h->quiet = o->quiet;
    e = va_correlate_new(&set, &o->co, on_corr_diag, h, &h->sx, &xst);
    if (e) {
        fprintf(stderr, "vaern: cannot compile the correlations: %s\n", va_err_str(e));
        va_engine_free(engine);
        if (outf != stdout) fclose(outf);
        free_arenas(&a, ra, nload);
        return VA_EXIT_FATAL;
    }
    int64_t t2 = now_ns();
    fprintf(stderr,
            "vaern: %u rules compiled, %u correlations, %u filters (%u left out: %u logsource not "
            "mapped, %u not supported, %u did not compile)\n",
            est.rules, xst.rules, est.filters,
            est.unmapped + est.unsupported + est.failed + xst.failed, est.unmapped,
            est.unsupported + xst.failed, est.failed);
    h->engine = engine;
    h->nw = eo.threads;
    int ok = (h->w = calloc((size_t)h->nw, sizeof *h->w)) != NULL;
    for (int i = 0; ok && i < h->nw; i++) ok = (h->w[i].se = va_engine_scratch_new()) != NULL;
    int out_tty = isatty(fileno(outf)), err_tty = isatty(fileno(stderr));
    if (!o->have_fmt) o->fmt = out_tty ? VA_OUT_TABLE : VA_OUT_JSONL;
    va_out_opts oo = {o->fmt, o->color < 0 ? out_tty && !getenv("NO_COLOR") : o->color, 0, 0};
    static const char *const exts[] = {".evtx", ".json", ".jsonl", ".ndjson", NULL};
    va_paths paths = {0};
    int missing = va_paths_add_args(&paths, o->argc, o->argv, o->first, exts);
    /* Standard input: EVTX is kept whole in a file first (left out, reported, if it cannot be),
     * JSON is read as a stream in its turn. */
    ptrdiff_t in = va_paths_find(&paths, "-");
    if (in >= 0 && va_stdin_is_evtx(&h->sin, &h->sig) &&
        va_stdin_spool(&h->sin, &h->sig, on_diag, h))
        va_paths_remove(&paths, (size_t)in);
    if (!ok || (e = va_out_open(&oo, outf, &h->out)) != VA_OK) {
        fprintf(stderr, "vaern: %s\n", ok ? va_err_str(e) : "out of memory");
        rc = VA_EXIT_FATAL;
    } else {
        /* The bar shares the terminal only with output that is not streaming to it. */
        if (o->show_prog && err_tty && !(out_tty && o->fmt != VA_OUT_TABLE) &&
            plan_progress(h, &paths))
            h->oom = 1;
        /* EVTX files together (their chunks are read and matched in parallel), then JSON. */
        const char **ev = calloc(paths.n ? paths.n : 1, sizeof *ev);
        size_t nev = 0;
        for (size_t i = 0; ev && i < paths.n; i++)
            if (input_is_evtx(h, paths.v[i])) ev[nev++] = paths.v[i];
        eo.want_event = 1;
        eo.work_fn = evtx_work, eo.work_ud = h;
        va_evtx_stats st = {0};
        if (nev && !h->sig) va_evtx_read_files(ev, nev, &eo, on_diag, h, &st, on_evtx, NULL, h);
        free(ev);
        for (size_t i = 0; i < paths.n && !h->out_err && !h->sig; i++) {
            if (input_is_evtx(h, paths.v[i])) continue;
            va_jsonev_stats js = {0};
            if (strcmp(paths.v[i], "-"))
                va_jsonev_read_file(paths.v[i], NULL, on_diag, h, &js, on_json, h);
            else
                va_stdin_json(&h->sin, &h->sig, on_diag, h, &js, on_json, h);
        }
        /* Correlations in event time, once every event is in (files need not be in time
         * order with one another); when interrupted, over the events read, so that the output
         * is complete up to the last of them. */
        if (!h->out_err) {
            e = va_correlate_flush(h->sx, INT64_MAX, on_correlation, h);
            if (e == VA_ENOMEM) h->oom = 1;
        }
        va_progress_end(h->prog);
        h->prog = NULL;
        for (int i = 0; i < h->nw; i++)
            h->oom |= h->w[i].oom || va_engine_scratch_failures(h->w[i].se) != 0;
        va_out_stats ost;
        va_out_get_stats(h->out, &ost);
        if (o->summary < 0) o->summary = err_tty;
        /* The summary goes after the timeline, which the table prints when it is closed. */
        char *sum = NULL;
        size_t sum_len = 0;
        FILE *ms = o->summary ? open_memstream(&sum, &sum_len) : NULL;
        if (ms) {
            va_out_summary(h->out, ms, o->color < 0 ? err_tty && !getenv("NO_COLOR") : o->color);
            fclose(ms);
        }
        e = va_out_close(h->out);
        out_fail(h, e);
        h->out = NULL;
        if (outf == stdout && fflush(stdout)) out_fail(h, VA_EIO);
        if (sum) fwrite(sum, 1, sum_len, stderr);
        free(sum);
        if (outf != stdout && fclose(outf)) out_fail(h, VA_EIO);
        outf = NULL;
        if (h->out_err) {
            fprintf(stderr, "vaern: cannot write alerts: %s\n",
                    h->out_errno ? strerror(h->out_errno) : va_err_str(h->out_err));
            rc = VA_EXIT_FATAL;
        }
        if (h->oom) {
            fprintf(stderr, "vaern: out of memory: some alerts may be missing\n");
            rc = VA_EXIT_FATAL;
        }
        fprintf(stderr, "vaern: %" PRIu64 " events, %" PRIu64 " alerts", h->events, ost.alerts);
        if (ost.undecided)
            fprintf(stderr, " (%" PRIu64 " undecided: a regular expression hit its match limit)",
                    ost.undecided);
        fputc('\n', stderr);
        if (o->stats) {
            uint64_t ev_n = 0, sk_n = 0;
            for (int i = 0; i < h->nw; i++) {
                uint64_t a1, a2;
                va_engine_scratch_counts(h->w[i].se, &a1, &a2);
                ev_n += a1, sk_n += a2;
            }
            fprintf(stderr,
                    "vaern: stats: load %.3f s, compile %.3f s, hunt %.3f s; prefilter: %u of %u "
                    "rules, %u literals, %s%s; rules evaluated %" PRIu64 ", skipped %" PRIu64 "\n",
                    (t1 - t0) / 1e9, (t2 - t1) / 1e9, (now_ns() - t2) / 1e9, est.prefiltered,
                    est.rules, est.literals, est.backend ? est.backend : "off",
                    est.cached ? " (cached)" : "", ev_n, sk_n);
            va_correlate_stats cs;
            va_correlate_stats_get(h->sx, &cs);
            fprintf(stderr,
                    "vaern: stats: correlations: %u, alerts decided %" PRIu64
                    "; inputs: peak memory %" PRIu64 " bytes, spilled %" PRIu64 " runs (%" PRIu64
                    " bytes, %" PRIu64 " merges), spill failures %" PRIu64 ", lost %" PRIu64
                    "; state bound drops %" PRIu64 ", late %" PRIu64 ", untimed %" PRIu64 "\n",
                    cs.rules, cs.alerts, cs.memory_peak, cs.spilled_runs, cs.spilled_bytes,
                    cs.spill_merges, cs.spill_failed, cs.spill_lost, cs.state_dropped, cs.late,
                    cs.untimed);
        }
        if (rc == VA_EXIT_OK && (missing || h->problems || rule_problems)) rc = VA_EXIT_INPUT;
        if (h->sig && rc != VA_EXIT_FATAL) {
            va_sig_report(h->sig, "event", h->events, h->last_path, h->last_off);
            rc = va_sig_exit_code(h->sig);
        }
    }
    if (h->out) va_out_close(h->out);
    if (outf && outf != stdout) fclose(outf);
    for (int i = 0; h->w && i < h->nw; i++) {
        va_engine_scratch_free(h->w[i].se);
        free(h->w[i].h);
        free(h->w[i].fi);
    }
    free(h->w);
    free(h->kv);
    free(h->ppath);
    free(h->psize);
    va_correlate_free(h->sx);
    va_engine_free(engine);
    va_paths_free(&paths);
    free_arenas(&a, ra, nload);
    return rc;
}

int va_cmd_hunt(int argc, char **argv) {
    hunt_args o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    hunt h = {0};
    h.min_level = o.min_level;
    va_sig_saved sigs;
    va_sig_catch(&h.sig, &sigs);
    rc = run(&h, &o);
    va_sig_release(&sigs);
    return rc;
}
