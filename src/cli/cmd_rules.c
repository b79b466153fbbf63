/*
 * cmd_rules.c - `vaern rules check`: load Sigma rules and report what does not load.
 *
 * A thin layer over va_rule_load_paths (sigma/rule.h), on all cores as vaern hunt loads: one
 * line per failure as FILE:LINE:COL, then a summary by rule kind and by reason.  Reasons are
 * grouped by the diagnostic text with quoted specifics (identifier names, keys) blanked, so one
 * cause is counted once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/paths.h"
#include "core/array.h"
#include "sigma/correlate.h"
#include "sigma/engine.h"
#include "sigma/logsource.h"
#include "sigma/placeholders.h"
#include "sigma/rule.h"

typedef struct reason {
    char *text;
    uint32_t count;
} reason;

typedef struct check {
    reason *r;
    size_t n, cap;
    int oom;
} check;

/* "search identifier 'x' is not defined" -> "VA_EFORMAT: search identifier '...' is not
 * defined" */
static char *reason_key(const va_rule_diag *d) {
    size_t cap = 3 * strlen(d->msg) + 32; /* each '' pair may grow to '...' */
    char *k = malloc(cap);
    if (!k) return NULL;
    size_t o = (size_t)snprintf(k, cap, "%s: ", va_err_name(d->code));
    int inq = 0;
    for (const char *p = d->msg; *p && o + 6 < cap; p++) {
        if (*p == '\'') {
            if (!inq) {
                memcpy(k + o, "'...'", 5);
                o += 5;
            }
            inq = !inq;
            continue;
        }
        if (!inq) k[o++] = *p;
    }
    k[o] = 0;
    return k;
}

/* Count one reason (key is taken over). */
static void count_reason(check *c, char *k) {
    if (!k) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->r[i].text, k)) {
            c->r[i].count++;
            free(k);
            return;
        }
    }
    if (VA_ARRAY_GROW(c->r, c->cap, c->n + 1)) {
        free(k);
        c->oom = 1;
        return;
    }
    c->r[c->n].text = k;
    c->r[c->n++].count = 1;
}

static void on_diag(void *ud, const va_rule_diag *d) {
    check *c = ud;
    if (d->line)
        va_diag_printf(stdout, "%s:%u:%u: %s", d->file, d->line, d->col, d->msg);
    else
        va_diag_printf(stdout, "%s: %s", d->file, d->msg);
    count_reason(c, reason_key(d));
}

/* A rule the engine leaves out: printed, and counted by its reason without the rule's title
 * ("logsource 'linux' is not in the mapping (Title)" -> "... mapping"). */
static void on_compile_diag(void *ud, const va_diag *d) {
    check *c = ud;
    va_diag_printf(stdout, "%s:%lld: %s: %s", d->file ? d->file : "?", (long long)d->unit_no,
                   va_err_name(d->code), d->msg);
    const char *m = d->msg;
    const char *ex = strstr(m, "expand: ");
    if (ex) m = ex;
    size_t n = strlen(m);
    const char *open = strstr(m, " (");
    if (n && m[n - 1] == ')' && open) n = (size_t)(open - m);
    size_t cap = n + 32;
    char *k = malloc(cap);
    if (k) snprintf(k, cap, "%s: %.*s", va_err_name(d->code), (int)n, m);
    count_reason(c, k);
}

/* A rule id that an earlier rule already has: reported like a rule that fails, at the later
 * rule, naming the earlier one. */
static void on_dup(void *ud, const va_rule *first, const va_rule *again) {
    (void)ud;
    va_diag_printf(stdout, "%s:%u:%u: duplicate rule id %s (%s): also %s:%u:%u (%s)", again->file,
                   again->line, again->col, again->id, again->title ? again->title : "",
                   first->file, first->line, first->col, first->title ? first->title : "");
}

static int by_count(const void *x, const void *y) {
    const reason *a = x, *b = y;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    return strcmp(a->text, b->text);
}

/* One line per loaded rule (-v), escaped as a whole: titles and identifiers are the rule's. */
static void print_rule(const va_rule *r) {
    char buf[512];
    va_buf line;
    va_buf_init(&line);
    va_buf_printf(&line, "%s: doc %u: %s '%s'", r->file, r->doc, va_rule_kind_name(r->kind),
                  r->title ? r->title : "");
    const va_rule_detection *d = r->kind == VA_RULE_KIND_DETECTION ? &r->detection
                                 : r->kind == VA_RULE_KIND_FILTER  ? &r->filter.det
                                                                   : NULL;
    if (d) {
        va_buf_printf(&line, ", %u search identifiers", d->nsearches);
        for (uint32_t i = 0; i < d->nconds; i++) {
            va_cond_format(d->conds[i].ast, buf, sizeof buf);
            va_buf_printf(&line, ", condition %s", buf);
        }
    } else {
        va_buf_printf(&line, ", %s over %u rules, timespan %llds", va_rule_ctype_name(r->corr.type),
                      r->corr.rules.n, (long long)r->corr.timespan_s);
    }
    va_diag_printf(stdout, "%s", line.oom ? "(out of memory)" : line.p);
    va_buf_free(&line);
}

static void usage(FILE *f) {
    fputs("usage: vaern rules check [options] DIR|FILE...\n"
          "  Load Sigma rules (*.yml, *.yaml; directories recursively) and report every rule\n"
          "  that does not load as FILE:LINE:COL: reason, then a summary.\n"
          "  -v, --verbose       also print one line per loaded rule\n"
          "  -c, --compile       also compile the rules as vaern hunt does and report every\n"
          "                      rule it would leave out (logsource not mapped, placeholder\n"
          "                      not configured, ...), with a summary by reason\n"
          "  --logsources F      with --compile: the logsource mapping (default: built in)\n"
          "  --placeholders F    with --compile: values for `expand` placeholders\n"
          "  --cache DIR         keep the rules' parsed YAML in DIR, as vaern hunt does\n"
          "                      (default: $XDG_CACHE_HOME/vaern or ~/.cache/vaern);\n"
          "                      --no-cache: none\n",
          f);
}

/* --logsources and --placeholders, read before any rule so that a bad path is a usage error
 * before any work.  Returns VA_EXIT_OK, or the exit code after saying why. */
static int compile_inputs(va_arena *a, const char *lspath, const char *phpath,
                          va_logsource_map **ls, va_value_placeholder **ph, size_t *nph) {
    const char *lerr = NULL;
    va_err e = va_logsource_load(a, lspath, ls, &lerr);
    if (e) {
        va_diag_printf(stderr, "vaern: --logsources: %s", lerr ? lerr : va_err_str(e));
        return e == VA_ENOMEM ? VA_EXIT_FATAL : VA_EXIT_USAGE;
    }
    char pherr[512];
    if (phpath && (e = va_placeholders_load_file(a, phpath, ph, nph, pherr, sizeof pherr))) {
        va_diag_printf(stderr, "vaern: --placeholders: %s", pherr);
        return e == VA_ENOMEM ? VA_EXIT_FATAL : VA_EXIT_USAGE;
    }
    return VA_EXIT_OK;
}

/* --compile: the engine's and the correlation engine's verdict on the loaded rules. */
static int compile_check(const va_rule_set *set, va_logsource_map *ls, va_value_placeholder *ph,
                         size_t nph) {
    check c = {0};
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    va_engine_opts o = {.logsources = ls,
                        .placeholders = ph,
                        .nplaceholders = nph,
                        .prefilter_off = 1,
                        .threads = np > 0 ? (int)np : 1};
    va_engine *eng = NULL;
    va_engine_stats st;
    va_correlate *sx = NULL;
    va_correlate_stats xst = {0};
    int rc = VA_EXIT_OK;
    if (va_engine_new(set, &o, on_compile_diag, &c, &eng, &st) != VA_OK ||
        va_correlate_new(set, NULL, on_compile_diag, &c, &sx, &xst) != VA_OK) {
        fprintf(stderr, "vaern: cannot compile the rules: out of memory\n");
        rc = VA_EXIT_FATAL;
    } else {
        uint32_t out = st.unmapped + st.unsupported + st.failed + xst.failed;
        printf("compiled for hunting: %u detection rules, %u correlations, %u filters; %u left "
               "out\n",
               st.rules, xst.rules, st.filters, out);
        if (out) rc = VA_EXIT_INPUT; /* a rule hunt would not run is a failure */
        if (c.n) {
            qsort(c.r, c.n, sizeof *c.r, by_count);
            puts("left out by reason:");
            for (size_t i = 0; i < c.n; i++)
                va_diag_printf(stdout, "  %6u  %s", c.r[i].count, c.r[i].text);
        }
    }
    for (size_t i = 0; i < c.n; i++) free(c.r[i].text);
    free(c.r);
    va_correlate_free(sx);
    va_engine_free(eng);
    return rc ? rc : c.oom ? VA_EXIT_FATAL : VA_EXIT_OK;
}

int va_cmd_rules(int argc, char **argv) {
    static const struct option opts[] = {{"verbose", no_argument, NULL, 'v'},
                                         {"compile", no_argument, NULL, 'c'},
                                         {"logsources", required_argument, NULL, 'L'},
                                         {"placeholders", required_argument, NULL, 'P'},
                                         {"cache", required_argument, NULL, 'C'},
                                         {"no-cache", no_argument, NULL, 'N'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int compile = 0, no_cache = 0;
    const char *lspath = NULL, *phpath = NULL, *cache_dir = NULL;
    if (argc < 2 || strcmp(argv[1], "check")) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            usage(stdout);
            return VA_EXIT_OK;
        }
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    argc--;
    argv++;
    int verbose = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "vch", opts, NULL)) != -1) {
        if (opt == 'v')
            verbose = 1;
        else if (opt == 'c')
            compile = 1;
        else if (opt == 'L')
            lspath = optarg;
        else if (opt == 'P')
            phpath = optarg;
        else if (opt == 'C')
            cache_dir = optarg;
        else if (opt == 'N')
            no_cache = 1;
        else if (opt == 'h') {
            usage(stdout);
            return VA_EXIT_OK;
        } else {
            usage(stderr);
            return VA_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    if (!compile && (lspath || phpath)) {
        fprintf(stderr, "vaern: %s is for --compile\n", lspath ? "--logsources" : "--placeholders");
        return VA_EXIT_USAGE;
    }
    if (cache_dir && !no_cache && va_paths_cache_check(cache_dir)) return VA_EXIT_USAGE;
    char cache_buf[4096];
    if (!no_cache && !cache_dir) cache_dir = va_paths_cache_default(cache_buf, sizeof cache_buf);
    if (no_cache) cache_dir = NULL;
    va_arena arena;
    va_arena_init(&arena, 1 << 20);
    va_logsource_map *ls = NULL;
    va_value_placeholder *ph = NULL;
    size_t nph = 0;
    int ic = compile ? compile_inputs(&arena, lspath, phpath, &ls, &ph, &nph) : VA_EXIT_OK;
    if (ic) {
        va_arena_free(&arena);
        return ic;
    }
    va_rule_set set = {0};
    va_rule_stats st = {0};
    check c = {0};
    int fatal = 0, failed = 0;
    /* All cores, each thread into its own arena; reports and set as loading one by one.
     * Besides rules that fail, a folder that cannot be read (or loops) is a failure. */
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    int nload = np < 1 ? 1 : np > VA_RULE_MAX_THREADS ? VA_RULE_MAX_THREADS : (int)np;
    va_arena ra[VA_RULE_MAX_THREADS];
    for (int i = 0; i < nload; i++) va_arena_init(&ra[i], 1 << 20);
    va_err e = va_rule_load_paths(ra, nload, (const char *const *)argv + optind,
                                  (size_t)(argc - optind), cache_dir, &set, on_diag, &c, &st);
    if (e == VA_ENOMEM) fatal = 1;
    if (e) failed = 1;
    uint32_t ndup = 0;
    if (!fatal && va_rule_duplicate_ids(&set, on_dup, NULL, &ndup) != VA_OK) fatal = 1;
    if (ndup) failed = 1;
    if (verbose)
        for (const va_rule *r = set.head; r; r = r->next) print_rule(r);
    printf("files: %u read, %u with failures\n", st.files, st.files_failed);
    printf("rules: %u loaded (%u detection, %u filter, %u correlation), %u failed\n", set.n,
           st.by_kind[VA_RULE_KIND_DETECTION], st.by_kind[VA_RULE_KIND_FILTER],
           st.by_kind[VA_RULE_KIND_CORRELATION], st.docs_failed);
    if (ndup) printf("duplicate ids: %u (each reported above)\n", ndup);
    if (c.n) {
        qsort(c.r, c.n, sizeof *c.r, by_count);
        puts("failures by reason:");
        for (size_t i = 0; i < c.n; i++)
            va_diag_printf(stdout, "  %6u  %s", c.r[i].count, c.r[i].text);
    }
    for (size_t i = 0; i < c.n; i++) free(c.r[i].text);
    free(c.r);
    int crc = compile && !fatal ? compile_check(&set, ls, ph, nph) : VA_EXIT_OK;
    for (int i = 0; i < nload; i++) va_arena_free(&ra[i]);
    va_arena_free(&arena);
    if (fflush(stdout) || ferror(stdout) || c.oom) fatal = 1;
    if (fatal) return VA_EXIT_FATAL;
    if (crc) return crc;
    return failed || st.docs_failed ? VA_EXIT_INPUT : VA_EXIT_OK;
}
