/*
 * test_sigma_cases.c - table-driven conformance tests for the Sigma engine.
 *
 * Owns this runner, the case tables (the .yml files of tests/sigma_cases) and their format,
 * described in tests/sigma_cases/README.md.  A case is one YAML document: Sigma rules, flat events
 * and the exact alerts they must give (rule title -> indices of the events it fires on), or the
 * reason a rule must be rejected.  The runner takes the path `vaern hunt` takes: the rule loader
 * (rule.h), the built-in logsource mapping (logsource.h) and the engine (engine.h), with events
 * built through event.h.  Every case runs with the literal prefilter off and on (on with each
 * prefilter backend built in), and every run must give exactly the expected alerts: that is
 * the proof that the prefilter never changes a result.  Expectations come from the Sigma
 * specification, not from vaern's output.
 *
 * One cmocka test per table file.  A failure names the file and line, the case, the rule, the
 * event index and expected vs actual; the run ends with a one-line count of what was checked.
 * Environment: VAERN_SIGMA_CASE=text runs only the cases whose name contains text, and
 * VAERN_SIGMA_CASES_DIR=path reads the tables from another folder (to try out new cases).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <yaml.h>

#include "sigma/correlate.h"
#include "sigma/engine.h"
#include "sigma/prefilter.h"

#define CASES_DIR VAERN_TESTS_DIR "/sigma_cases"
/* `rule_files` paths are relative to the repository root, so that a case names a pack rule by
 * the path it has in rules/vaern. */
#define REPO_DIR VAERN_TESTS_DIR "/.."
/* The `repeat` helper builds long values; the bound keeps a typo from eating the machine. */
#define MAX_REPEAT (16u << 20)

/* ---- the case model -------------------------------------------------------------------- */

typedef struct tfield {
    const char *name, *val;
    size_t nlen, vlen;
    va_vtype type;
} tfield;

typedef struct tevent {
    tfield *f;
    uint32_t n, line;
} tevent;

typedef struct texpect {
    const char *title;
    uint32_t *idx;
    uint32_t n;
} texpect;

typedef struct tlerr {
    const char *title, *reason;
    uint32_t line; /* in the table file */
} tlerr;

/* One document of the `rules` text, as the runner itself reads it: alerts and diagnostics are
 * attributed to rules by title, and diagnostics reach a rule through their line. */
typedef struct tdoc {
    const char *title;
    uint32_t line; /* 1-based line of the document's start in the rules text */
} tdoc;

typedef struct tcase {
    const char *file, *name;
    uint32_t line;
    const char *rules;
    size_t rules_len;
    tevent *ev;
    uint32_t nev;
    texpect *exp;
    uint32_t nexp;
    tlerr *lerr;
    uint32_t nlerr;
    va_value_placeholder *ph;
    size_t nph;
    tdoc *docs;
    uint32_t ndocs;
} tcase;

/* What the summary line reports. */
static struct {
    uint32_t cases, rules, events, failed_cases, filtered;
    uint64_t evaluated, skipped; /* rule evaluations with the prefilter on, and those it saved */
    uint64_t spilled;            /* correlation runs written to disk with the prefilter off */
} totals;

/* The engine configurations every case runs in. */
typedef struct mode {
    const char *name;
    int prefilter_off;
    va_prefilter_backend backend;
} mode;

static const mode modes[] = {
    {"prefilter off", 1, VA_PREFILTER_AUTO},
    {"prefilter on", 0, VA_PREFILTER_AUTO},
#ifdef VAERN_HAVE_HYPERSCAN
    /* AUTO is Hyperscan here: the automaton must give the same answers. */
    {"prefilter on, automaton", 0, VA_PREFILTER_AUTOMATON},
#endif
};
#define NMODES (sizeof modes / sizeof modes[0])

/* The built-in logsource mapping, loaded once for every engine. */
static va_arena map_arena;
static va_logsource_map *map;

/* ---- reading the tables ---------------------------------------------------------------- */

typedef struct pctx {
    va_arena *a;
    yaml_document_t *doc;
    const char *file;
    unsigned errors;
} pctx;

static void perr(pctx *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(pctx *p, const yaml_node_t *n, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%u: case table: %s\n", p->file, n ? (unsigned)n->start_mark.line + 1 : 0,
            msg);
    p->errors++;
}

static yaml_node_t *node(pctx *p, int id) {
    return yaml_document_get_node(p->doc, id);
}

static const char *sv(const yaml_node_t *n) {
    return (const char *)n->data.scalar.value;
}

static size_t sl(const yaml_node_t *n) {
    return n->data.scalar.length;
}

static uint32_t line_of(const yaml_node_t *n) {
    return (uint32_t)n->start_mark.line + 1;
}

static int is_plain(const yaml_node_t *n) {
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int tag_is(const yaml_node_t *n, const char *t) {
    return n->tag && !strcmp((const char *)n->tag, t);
}

static size_t count_items(const yaml_node_t *n) {
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return 0;
}

/* Zeroed arena memory for n items (n may be 0). */
static void *zalloc(pctx *p, const yaml_node_t *at, size_t n, size_t size) {
    void *m = va_arena_alloc(p->a, (n ? n : 1) * size);
    if (!m) {
        perr(p, at, "out of memory");
        return NULL;
    }
    return memset(m, 0, (n ? n : 1) * size);
}

static const char *dup_scalar(pctx *p, const yaml_node_t *n) {
    const char *s = va_arena_strndup(p->a, sv(n), sl(n));
    if (!s) perr(p, n, "out of memory");
    return s;
}

/* Scalar resolution of the YAML 1.2 core schema, for plain (unquoted) event values. */
static int core_null(const char *s, size_t n) {
    return n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static int core_bool(const char *s) {
    static const char *const b[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (!strcmp(s, b[i])) return 1;
    return 0;
}

static int all_of(const char *s, const char *set) {
    return *s && strspn(s, set) == strlen(s);
}

static int core_int(const char *s) {
    if (!strncmp(s, "0x", 2)) return all_of(s + 2, "0123456789abcdefABCDEF");
    if (!strncmp(s, "0o", 2)) return all_of(s + 2, "01234567");
    if (*s == '-' || *s == '+') s++;
    return all_of(s, "0123456789");
}

static int core_float(const char *s) {
    if (*s == '-' || *s == '+') s++;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, ".nan") ||
        !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return 1;
    size_t digits = strspn(s, "0123456789");
    s += digits;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        digits += frac;
        s += 1 + frac;
    }
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        if (!all_of(s, "0123456789")) return 0;
        return 1;
    }
    return *s == 0;
}

/* The va_vtype of an event value: an explicit tag (!str, !int, !uint, !real, !bool, !null),
 * else quoted -> string, else the core schema (non-negative integers are VA_V_UINT and
 * negative ones VA_V_INT, as the EVTX and JSON readers type them). */
static int value_type(pctx *p, const yaml_node_t *n, va_vtype *t) {
    static const struct {
        const char *tag;
        va_vtype t;
    } tags[] = {{"!str", VA_V_STR},   {"!int", VA_V_INT},   {"!uint", VA_V_UINT},
                {"!real", VA_V_REAL}, {"!bool", VA_V_BOOL}, {"!null", VA_V_NULL}};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (tag_is(n, tags[i].tag)) return *t = tags[i].t, 0;
    if (n->tag && n->tag[0] == '!') {
        perr(p, n, "unknown tag '%s' (use !str, !int, !uint, !real, !bool or !null)",
             (const char *)n->tag);
        return -1;
    }
    const char *s = sv(n);
    if (!is_plain(n))
        *t = VA_V_STR;
    else if (core_null(s, sl(n)))
        *t = VA_V_NULL;
    else if (core_bool(s))
        *t = VA_V_BOOL;
    else if (core_int(s))
        *t = s[0] == '-' ? VA_V_INT : VA_V_UINT;
    else if (core_float(s))
        *t = VA_V_REAL;
    else
        *t = VA_V_STR;
    return 0;
}

/* {repeat: TEXT, times: N, prefix: TEXT, suffix: TEXT}: a long string value, so that tables
 * need not carry 100 KB literals. */
static int repeat_value(pctx *p, const yaml_node_t *n, tfield *f) {
    const yaml_node_t *rep = NULL, *pre = NULL, *suf = NULL;
    unsigned long times = 0;
    int have_times = 0;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
            perr(p, n, "repeat helper: keys and values must be scalars");
            return -1;
        }
        if (!strcmp(sv(k), "repeat")) {
            rep = v;
        } else if (!strcmp(sv(k), "prefix")) {
            pre = v;
        } else if (!strcmp(sv(k), "suffix")) {
            suf = v;
        } else if (!strcmp(sv(k), "times")) {
            char *end;
            times = strtoul(sv(v), &end, 10);
            have_times = *sv(v) && !*end;
        } else {
            perr(p, k, "repeat helper: unknown key '%s' (repeat, times, prefix, suffix)", sv(k));
            return -1;
        }
    }
    if (!rep || !sl(rep) || !have_times) {
        perr(p, n, "repeat helper needs 'repeat' (non-empty text) and 'times' (a count)");
        return -1;
    }
    size_t pl = pre ? sl(pre) : 0, fl = suf ? sl(suf) : 0, rl = sl(rep);
    if (times > MAX_REPEAT / rl || pl + fl > MAX_REPEAT) {
        perr(p, n, "repeat helper: value longer than %u bytes", MAX_REPEAT);
        return -1;
    }
    size_t len = pl + rl * times + fl;
    char *s = va_arena_alloc(p->a, len + 1);
    if (!s) return perr(p, n, "out of memory"), -1;
    if (pl) memcpy(s, sv(pre), pl);
    for (size_t i = 0; i < times; i++) memcpy(s + pl + i * rl, sv(rep), rl);
    if (fl) memcpy(s + pl + rl * times, sv(suf), fl);
    s[len] = 0;
    f->val = s, f->vlen = len, f->type = VA_V_STR;
    return 0;
}

static int field_value(pctx *p, const yaml_node_t *v, tfield *f) {
    if (v->type == YAML_MAPPING_NODE) return repeat_value(p, v, f);
    if (v->type != YAML_SCALAR_NODE) {
        perr(p, v, "field '%s': a value is a scalar or a repeat helper", f->name);
        return -1;
    }
    if (value_type(p, v, &f->type)) return -1;
    if (f->type == VA_V_NULL) { /* null carries no text, as the readers produce it */
        f->val = "", f->vlen = 0;
        return 0;
    }
    f->val = sv(v), f->vlen = sl(v);
    return 0;
}

/* One event: a map of fields in order; a list value is a field repeated once per item. */
static int parse_event(pctx *p, const yaml_node_t *n, tevent *ev) {
    ev->line = line_of(n);
    if (n->type != YAML_MAPPING_NODE) {
        perr(p, n, "an event is a map of fields");
        return -1;
    }
    size_t cnt = 0;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *v = node(p, q->value);
        cnt += v && v->type == YAML_SEQUENCE_NODE ? count_items(v) : 1;
    }
    if (!(ev->f = zalloc(p, n, cnt, sizeof *ev->f))) return -1;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || !sl(k)) {
            perr(p, n, "event field names are non-empty scalars");
            return -1;
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            tfield *f = &ev->f[ev->n++];
            f->name = sv(k), f->nlen = sl(k);
            if (field_value(p, v, f)) return -1;
            continue;
        }
        if (!count_items(v)) {
            perr(p, v, "field '%s': an empty list gives no field; leave the field out", sv(k));
            return -1;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *item = node(p, *it);
            tfield *f = &ev->f[ev->n++];
            f->name = sv(k), f->nlen = sl(k);
            if (!item || field_value(p, item, f)) return -1;
        }
    }
    return 0;
}

static int parse_events(pctx *p, const yaml_node_t *n, tcase *c) {
    if (n->type != YAML_SEQUENCE_NODE) return perr(p, n, "'events' is a list of maps"), -1;
    c->nev = (uint32_t)count_items(n);
    if (!(c->ev = zalloc(p, n, c->nev, sizeof *c->ev))) return -1;
    uint32_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
        if (!node(p, *it) || parse_event(p, node(p, *it), &c->ev[i++])) return -1;
    return 0;
}

/* expect: {title: [event indices]}; checked against the events once all keys are read. */
static int parse_expect(pctx *p, const yaml_node_t *n, tcase *c) {
    if (n->type != YAML_MAPPING_NODE) return perr(p, n, "'expect' maps rule titles to lists"), -1;
    if (!(c->exp = zalloc(p, n, count_items(n), sizeof *c->exp))) return -1;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SEQUENCE_NODE) {
            perr(p, k ? k : n, "expect: each rule title maps to a list of event indices");
            return -1;
        }
        texpect *x = &c->exp[c->nexp++];
        x->title = sv(k);
        if (!(x->idx = zalloc(p, v, count_items(v), sizeof *x->idx))) return -1;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = node(p, *it);
            char *end = NULL;
            unsigned long i = e && e->type == YAML_SCALAR_NODE ? strtoul(sv(e), &end, 10) : 0;
            if (!end || end == sv(e) || *end || !all_of(sv(e), "0123456789") || i > UINT32_MAX) {
                perr(p, e ? e : v, "expect '%s': event indices are integers from 0", x->title);
                return -1;
            }
            for (uint32_t j = 0; j < x->n; j++)
                if (x->idx[j] == i) return perr(p, e, "expect '%s': %lu twice", x->title, i), -1;
            x->idx[x->n++] = (uint32_t)i;
        }
    }
    return 0;
}

static int parse_load_error(pctx *p, const yaml_node_t *n, tcase *c) {
    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, "'load_error' maps rule titles to reason text"), -1;
    if (!(c->lerr = zalloc(p, n, count_items(n), sizeof *c->lerr))) return -1;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE || !sl(v)) {
            perr(p, k ? k : n, "load_error: each rule title maps to a non-empty reason");
            return -1;
        }
        tlerr *x = &c->lerr[c->nlerr++];
        x->title = sv(k), x->reason = sv(v), x->line = line_of(k);
    }
    return 0;
}

/* placeholders: {name: value or [values]} for `expand` (va_engine_opts.placeholders). */
static int parse_placeholders(pctx *p, const yaml_node_t *n, tcase *c) {
    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, "'placeholders' maps names to a value or a list of values"), -1;
    if (!(c->ph = zalloc(p, n, count_items(n), sizeof *c->ph))) return -1;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || v->type == YAML_MAPPING_NODE) {
            perr(p, k ? k : n, "placeholders: a name maps to a value or a list of values");
            return -1;
        }
        size_t nv = v->type == YAML_SCALAR_NODE ? 1 : count_items(v);
        const char **vals = zalloc(p, v, nv, sizeof *vals);
        if (!vals) return -1;
        if (v->type == YAML_SCALAR_NODE) {
            vals[0] = sv(v);
        } else {
            size_t i = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = node(p, *it);
                if (!e || e->type != YAML_SCALAR_NODE)
                    return perr(p, v, "placeholder '%s': values are scalars", sv(k)), -1;
                vals[i++] = sv(e);
            }
        }
        c->ph[c->nph++] = (va_value_placeholder){sv(k), vals, nv};
    }
    return 0;
}

/* The documents of the rules text with their titles and first lines.  The runner reads them
 * itself because a rule the loader rejects is not in the loaded set at all. */
static int parse_docs(pctx *p, const yaml_node_t *rules_node, tcase *c) {
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) return perr(p, rules_node, "out of memory"), -1;
    yaml_parser_set_input_string(&ps, (const unsigned char *)c->rules, c->rules_len);
    uint32_t cap = 0;
    int rc = 0;
    for (;;) {
        yaml_document_t d;
        if (!yaml_parser_load(&ps, &d)) {
            perr(p, rules_node, "rules: YAML error at line %u: %s",
                 (unsigned)ps.problem_mark.line + 1, ps.problem ? ps.problem : "?");
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&d);
        if (!root) { /* end of stream */
            yaml_document_delete(&d);
            break;
        }
        const char *title = NULL;
        int empty = root->type == YAML_SCALAR_NODE && core_null(sv(root), sl(root));
        if (root->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
                 q < root->data.mapping.pairs.top && !title; q++) {
                yaml_node_t *k = yaml_document_get_node(&d, q->key);
                yaml_node_t *v = yaml_document_get_node(&d, q->value);
                /* A plain `title: null` (or Null, ~) is no title, as for the loader. */
                if (k && v && k->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE &&
                    !strcmp(sv(k), "title") && !(is_plain(v) && core_null(sv(v), sl(v))))
                    title = va_arena_strndup(p->a, sv(v), sl(v));
            }
        uint32_t line = (uint32_t)d.start_mark.line + 1;
        yaml_document_delete(&d);
        if (empty) continue; /* "---" alone: no rule, as for the loader */
        if (!title) {
            perr(p, rules_node,
                 "rules: document at line %u has no title (rules are named by title)", line);
            rc = -1;
            break;
        }
        for (uint32_t i = 0; i < c->ndocs; i++)
            if (!strcmp(c->docs[i].title, title)) {
                perr(p, rules_node, "rules: title '%s' is used twice", title);
                rc = -1;
            }
        if (rc) break;
        if (c->ndocs == cap) {
            uint32_t nc = cap ? cap * 2 : 8;
            tdoc *nd = zalloc(p, rules_node, nc, sizeof *nd);
            if (!nd) {
                rc = -1;
                break;
            }
            if (c->ndocs) memcpy(nd, c->docs, c->ndocs * sizeof *nd);
            c->docs = nd, cap = nc;
        }
        c->docs[c->ndocs++] = (tdoc){title, line};
    }
    yaml_parser_delete(&ps);
    if (!rc && !c->ndocs) perr(p, rules_node, "rules: no rule"), rc = -1;
    return rc;
}

static int doc_index(const tcase *c, const char *title) {
    for (uint32_t i = 0; i < c->ndocs; i++)
        if (!strcmp(c->docs[i].title, title)) return (int)i;
    return -1;
}

/* Cross-checks that catch typos in a table: every title named exists, indices are in range,
 * a rule is not both expected to alert and to be rejected. */
static int check_case(pctx *p, const yaml_node_t *n, tcase *c) {
    unsigned before = p->errors;
    for (uint32_t i = 0; i < c->nexp; i++) {
        const texpect *x = &c->exp[i];
        if (doc_index(c, x->title) < 0)
            perr(p, n, "case '%s': expect names '%s', which is not a rule title", c->name,
                 x->title);
        for (uint32_t j = 0; j < x->n; j++)
            if (x->idx[j] >= c->nev)
                perr(p, n, "case '%s': expect '%s' names event %u of %u", c->name, x->title,
                     x->idx[j], c->nev);
        for (uint32_t j = 0; j < c->nlerr; j++)
            if (!strcmp(c->lerr[j].title, x->title) && x->n)
                perr(p, n, "case '%s': '%s' cannot both alert and be rejected", c->name, x->title);
    }
    for (uint32_t i = 0; i < c->nlerr; i++)
        if (doc_index(c, c->lerr[i].title) < 0)
            perr(p, n, "case '%s': load_error names '%s', which is not a rule title", c->name,
                 c->lerr[i].title);
    return p->errors == before ? 0 : -1;
}

static char *read_all(const char *path, size_t *len);

/* `rule_files: [rules/vaern/x.yml, ...]`: the files' text is appended to the case's `rules`
 * text, one YAML document stream after the other, so that a case tests a rule exactly as it
 * ships (the pack is these files, built into the binary). */
static int add_rule_files(pctx *p, const yaml_node_t *n, tcase *c) {
    if (n->type != YAML_SEQUENCE_NODE || !count_items(n))
        return perr(p, n, "rule_files is a list of file paths"), -1;
    size_t total = c->rules_len;
    char **texts = zalloc(p, n, count_items(n), sizeof *texts);
    size_t *lens = zalloc(p, n, count_items(n), sizeof *lens);
    if (!texts || !lens) return -1;
    size_t k = 0;
    int rc = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, k++) {
        yaml_node_t *f = node(p, *it);
        if (!f || f->type != YAML_SCALAR_NODE || !sl(f)) {
            perr(p, n, "rule_files: each item is a file path");
            rc = -1;
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", REPO_DIR, sv(f));
        if (!(texts[k] = read_all(path, &lens[k]))) {
            perr(p, f, "rule_files: cannot read %s", path);
            rc = -1;
            break;
        }
        total += lens[k] + 5; /* "\n---\n" before each file */
    }
    char *all = rc ? NULL : va_arena_alloc(p->a, total + 1);
    if (!rc && !all) perr(p, n, "out of memory"), rc = -1;
    if (!rc) {
        size_t at = 0;
        memcpy(all, c->rules, c->rules_len), at = c->rules_len;
        for (size_t i = 0; i < k; i++) {
            memcpy(all + at, "\n---\n", 5), at += 5;
            memcpy(all + at, texts[i], lens[i]), at += lens[i];
        }
        all[at] = 0;
        c->rules = all, c->rules_len = at;
    }
    for (size_t i = 0; i < k; i++) free(texts[i]);
    return rc;
}

static int parse_case(pctx *p, const yaml_node_t *root, tcase *c) {
    memset(c, 0, sizeof *c);
    c->file = p->file;
    c->line = line_of(root);
    if (root->type != YAML_MAPPING_NODE) return perr(p, root, "a case is a map"), -1;
    static const char *const keys[] = {"case",       "rules",        "events",    "expect",
                                       "load_error", "placeholders", "rule_files"};
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    const yaml_node_t *val[NKEYS] = {0}, *rules_node = NULL;
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
         q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) return perr(p, root, "bad case key"), -1;
        size_t i = 0;
        while (i < NKEYS && strcmp(sv(k), keys[i])) i++;
        if (i == NKEYS) return perr(p, k, "unknown case key '%s'", sv(k)), -1;
        if (val[i]) return perr(p, k, "case key '%s' given twice", sv(k)), -1;
        val[i] = v;
    }
    if (!val[0] || val[0]->type != YAML_SCALAR_NODE || !sl(val[0]))
        return perr(p, root, "a case needs 'case: NAME'"), -1;
    if (!(c->name = dup_scalar(p, val[0]))) return -1;
    rules_node = val[1] ? val[1] : val[6];
    if (!rules_node || (val[1] && val[1]->type != YAML_SCALAR_NODE))
        return perr(p, root, "case '%s' needs 'rules' (YAML text of the rules) or 'rule_files'",
                    c->name),
               -1;
    c->rules = val[1] ? sv(val[1]) : "", c->rules_len = val[1] ? sl(val[1]) : 0;
    if (val[6] && add_rule_files(p, val[6], c)) return -1;
    if (!val[3] && !val[4])
        return perr(p, root, "case '%s' asserts nothing: give 'expect' or 'load_error'", c->name),
               -1;
    if (val[2] && parse_events(p, val[2], c)) return -1;
    if (val[3] && parse_expect(p, val[3], c)) return -1;
    if (val[4] && parse_load_error(p, val[4], c)) return -1;
    if (val[5] && parse_placeholders(p, val[5], c)) return -1;
    if (parse_docs(p, rules_node, c)) return -1;
    return check_case(p, root, c);
}

/* ---- running a case -------------------------------------------------------------------- */

typedef struct tdiag {
    uint32_t line;
    char *msg;
} tdiag;

typedef struct run {
    const tcase *c;
    const char *mode; /* mode name, for messages */
    tdiag *d;
    uint32_t nd, capd;
    int oom;
    uint32_t *got; /* alerts per (rule document, event) */
    uint32_t cur, hits;
    unsigned fails;
    va_correlate *sx; /* correlations over the hits */
} run;

static void fail_case(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_case(run *r, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%u: case '%s' [%s]: %s\n", r->c->file, (unsigned)r->c->line, r->c->name,
            r->mode, msg);
    r->fails++;
}

static void add_diag(run *r, uint32_t line, const char *msg) {
    if (r->nd == r->capd) {
        uint32_t nc = r->capd ? r->capd * 2 : 8;
        tdiag *nd = realloc(r->d, nc * sizeof *nd);
        if (!nd) {
            r->oom = 1;
            return;
        }
        r->d = nd, r->capd = nc;
    }
    char *m = strdup(msg ? msg : "");
    if (!m) {
        r->oom = 1;
        return;
    }
    r->d[r->nd++] = (tdiag){line, m};
}

static void on_load_diag(void *ud, const va_rule_diag *d) {
    add_diag(ud, d->line, d->msg);
}

/* The engine reports a rule it leaves out with the rule's line as the unit number; the line
 * leads to the rule's document, hence its title (the loader's line is the problem's). */
static void on_engine_diag(void *ud, const va_diag *d) {
    add_diag(ud, d->unit_no > 0 && d->unit_no <= UINT32_MAX ? (uint32_t)d->unit_no : 0, d->msg);
}

static int on_hit(void *ud, const va_rule *rule, const va_event *ev) {
    (void)ev;
    run *r = ud;
    r->hits++;
    if (r->sx && va_correlate_referenced(r->sx, rule) && va_correlate_add(r->sx, rule, ev) != VA_OK)
        fail_case(r, "event %u: va_correlate_add failed", r->cur);
    /* generate: a rule a correlation uses alerts on its own only if asked to */
    if (r->sx && !va_correlate_standalone(r->sx, rule)) return 0;
    int i = rule->title ? doc_index(r->c, rule->title) : -1;
    if (i < 0)
        fail_case(r, "event %u: alert from a rule the case does not name ('%s')", r->cur,
                  rule->title ? rule->title : "?");
    else
        r->got[(size_t)i * r->c->nev + r->cur]++;
    return 0;
}

/* A correlation alert is listed at the event that completed it (record ID = index + 1). */
static int on_correlation(void *ud, const va_alert *a) {
    run *r = ud;
    int i = a->title ? doc_index(r->c, a->title) : -1;
    if (i < 0 || !a->record_id || a->record_id > r->c->nev)
        fail_case(r, "correlation alert '%s' at record %llu: not a rule and event of the case",
                  a->title ? a->title : "?", (unsigned long long)a->record_id);
    else
        r->got[(size_t)i * r->c->nev + (a->record_id - 1)]++;
    return 0;
}

/* The rule document holding a line of the rules text (the last one starting at or before). */
static int doc_at_line(const tcase *c, uint32_t line) {
    int d = -1;
    for (uint32_t i = 0; i < c->ndocs && line; i++)
        if (c->docs[i].line <= line) d = (int)i;
    return d;
}

/* Every diagnostic must belong to a rule listed in load_error and carry its reason, and every
 * listed rule must have been reported. */
static void check_diags(run *r) {
    const tcase *c = r->c;
    for (uint32_t i = 0; i < r->nd; i++) {
        int d = doc_at_line(c, r->d[i].line);
        const tlerr *want = NULL;
        for (uint32_t j = 0; d >= 0 && j < c->nlerr && !want; j++)
            if (!strcmp(c->lerr[j].title, c->docs[d].title)) want = &c->lerr[j];
        if (!want)
            fail_case(r, "rule '%s': unexpected load error: %s", d >= 0 ? c->docs[d].title : "?",
                      r->d[i].msg);
        else if (!strcasestr(r->d[i].msg, want->reason))
            fail_case(r, "rule '%s': load error \"%s\" does not contain \"%s\"", want->title,
                      r->d[i].msg, want->reason);
    }
    for (uint32_t j = 0; j < c->nlerr; j++) {
        int found = 0;
        for (uint32_t i = 0; i < r->nd && !found; i++) {
            int d = doc_at_line(c, r->d[i].line);
            found = d >= 0 && !strcmp(c->docs[d].title, c->lerr[j].title);
        }
        if (!found)
            fail_case(r,
                      "rule '%s': expected a load error containing \"%s\" (line %u), the rule "
                      "loaded",
                      c->lerr[j].title, c->lerr[j].reason, c->lerr[j].line);
    }
}

static int expected(const tcase *c, uint32_t doc, uint32_t ev) {
    for (uint32_t i = 0; i < c->nexp; i++) {
        if (strcmp(c->exp[i].title, c->docs[doc].title)) continue;
        for (uint32_t j = 0; j < c->exp[i].n; j++)
            if (c->exp[i].idx[j] == ev) return 1;
    }
    return 0;
}

static void check_alerts(run *r) {
    const tcase *c = r->c;
    for (uint32_t d = 0; d < c->ndocs; d++)
        for (uint32_t i = 0; i < c->nev; i++) {
            uint32_t got = r->got[(size_t)d * c->nev + i];
            int want = expected(c, d, i);
            if (want && !got)
                fail_case(r, "rule '%s', event %u (line %u): expected an alert, got none",
                          c->docs[d].title, i, c->ev[i].line);
            else if (!want && got)
                fail_case(r, "rule '%s', event %u (line %u): expected no alert, got one",
                          c->docs[d].title, i, c->ev[i].line);
            else if (got > 1)
                fail_case(r, "rule '%s', event %u: one alert expected, got %u", c->docs[d].title, i,
                          got);
        }
}

/* Events are built in their own arena, reset between events, as a reader would. */
static void match_events(run *r, const va_engine *e, va_engine_scratch *s) {
    const tcase *c = r->c;
    va_arena ea;
    va_arena_init(&ea, 0);
    for (uint32_t i = 0; i < c->nev; i++) {
        va_arena_reset(&ea);
        va_event ev;
        va_event_init(&ev, &ea);
        int ok = 1;
        for (uint32_t k = 0; k < c->ev[i].n && ok; k++) {
            const tfield *f = &c->ev[i].f[k];
            ok = va_event_add_copy(&ev, f->name, f->nlen, f->val, f->vlen, f->type) == VA_OK;
        }
        if (!ok) {
            fail_case(r, "event %u: out of memory building the event", i);
            continue;
        }
        va_event_finish(&ev);
        ev.record_id = i + 1; /* how a correlation alert names its completing event */
        r->cur = i;
        r->hits = 0;
        uint32_t n = va_engine_match(e, s, &ev, on_hit, r);
        if (n != r->hits)
            fail_case(r, "event %u: va_engine_match counted %u alerts, the callback saw %u", i, n,
                      r->hits);
    }
    va_arena_free(&ea);
}

static unsigned run_case(const tcase *c, const mode *md) {
    run r = {.c = c, .mode = md->name};
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats rs = {0};
    va_engine *e = NULL;
    va_engine_scratch *s = NULL;
    va_engine_stats st = {0};
    r.got = calloc((size_t)c->ndocs * (c->nev ? c->nev : 1), sizeof *r.got);
    if (!r.got) {
        fail_case(&r, "out of memory");
        goto out;
    }
    if (va_rule_load_mem(&a, c->file, c->rules, c->rules_len, &set, on_load_diag, &r, &rs) ==
        VA_ENOMEM) {
        fail_case(&r, "out of memory loading the rules");
        goto out;
    }
    /* Designated: options the engine grows later keep their defaults. */
    va_engine_opts o = {.logsources = map,
                        .placeholders = c->ph,
                        .nplaceholders = c->nph,
                        .prefilter_off = md->prefilter_off,
                        .prefilter_backend = md->backend};
    if (va_engine_new(&set, &o, on_engine_diag, &r, &e, &st) != VA_OK) {
        fail_case(&r, "va_engine_new failed");
        goto out;
    }
    if (r.oom || !(s = va_engine_scratch_new())) {
        fail_case(&r, "out of memory");
        goto out;
    }
    va_correlate_stats xst = {0};
    /* With the prefilter off, correlation inputs go through the spill path too: with a budget of
     * one byte every waiting match but the newest is written to a run on disk, and the flush
     * merges them back. */
    va_correlate_opts xo = {.memory = md->prefilter_off ? 1 : 0};
    if (va_correlate_new(&set, &xo, on_engine_diag, &r, &r.sx, &xst) != VA_OK) {
        fail_case(&r, "va_correlate_new failed");
        goto out;
    }
    check_diags(&r);
    /* A rule left out without a word would pass every "no alert" expectation: count them. */
    uint32_t compiled = st.rules + st.filters + xst.rules;
    if (compiled != c->ndocs - c->nlerr)
        fail_case(&r, "%u rules compiled, the case expects %u (%u rules, %u rejected)", compiled,
                  c->ndocs - c->nlerr, c->ndocs, c->nlerr);
    match_events(&r, e, s);
    if (va_correlate_flush(r.sx, INT64_MAX, on_correlation, &r) != VA_OK)
        fail_case(&r, "va_correlate_flush failed");
    va_correlate_stats_get(r.sx, &xst);
    if (xst.spill_failed || xst.spill_lost || xst.state_dropped || xst.buffered)
        fail_case(&r, "correlation inputs: %llu spills failed, %llu lost, %llu dropped, %llu left",
                  (unsigned long long)xst.spill_failed, (unsigned long long)xst.spill_lost,
                  (unsigned long long)xst.state_dropped, (unsigned long long)xst.buffered);
    if (md->prefilter_off) totals.spilled += xst.spilled_runs;
    check_alerts(&r);
    uint64_t evaluated = 0, skipped = 0;
    va_engine_scratch_counts(s, &evaluated, &skipped);
    if (md->prefilter_off && skipped)
        fail_case(&r, "the prefilter is off but skipped %llu rule evaluations",
                  (unsigned long long)skipped);
    if (!md->prefilter_off) totals.evaluated += evaluated, totals.skipped += skipped;
out:
    va_correlate_free(r.sx);
    va_engine_scratch_free(s);
    va_engine_free(e);
    va_arena_free(&a);
    for (uint32_t i = 0; i < r.nd; i++) free(r.d[i].msg);
    free(r.d);
    free(r.got);
    return r.fails;
}

/* ---- files and main ---------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb, cap = nc;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static const char *cases_dir(void) {
    const char *d = getenv("VAERN_SIGMA_CASES_DIR");
    return d && *d ? d : CASES_DIR;
}

/* One table file: parse every case and run it in every mode.  No cmocka assertion is made
 * before the end, so that all memory is released before a failure is reported. */
static void run_file(void **state) {
    const char *name = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", cases_dir(), name);
    size_t len = 0;
    char *text = read_all(path, &len);
    if (!text) fail_msg("%s: cannot read", path);
    const char *only = getenv("VAERN_SIGMA_CASE");
    va_arena a;
    va_arena_init(&a, 0);
    pctx p = {.a = &a, .file = name};
    unsigned fails = 0, ncases = 0;
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) {
        free(text);
        fail_msg("out of memory");
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t d;
        if (!yaml_parser_load(&ps, &d)) {
            fprintf(stderr, "%s:%u: YAML: %s %s\n", name, (unsigned)ps.problem_mark.line + 1,
                    ps.problem ? ps.problem : "error", ps.context ? ps.context : "");
            fails++;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&d);
        if (!root) {
            yaml_document_delete(&d);
            break;
        }
        p.doc = &d;
        tcase c;
        unsigned errs = p.errors;
        if (parse_case(&p, root, &c) || p.errors != errs) {
            fails++;
            totals.failed_cases++; /* a case that does not parse counts as failed */
        } else if (!only || strstr(c.name, only)) {
            ncases++;
            unsigned f = 0;
            for (size_t m = 0; m < NMODES; m++) f += run_case(&c, &modes[m]);
            fails += f;
            totals.cases++;
            totals.rules += c.ndocs;
            totals.events += c.nev;
            totals.failed_cases += f != 0;
        } else {
            totals.filtered++;
        }
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&ps);
    va_arena_free(&a);
    free(text);
    if (fails) fail_msg("%s: %u failure(s), see above", name, fails);
    if (!ncases && !only) fail_msg("%s: no case", name);
}

static int has_yml_suffix(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".yml");
}

/* Byte order, so that the run order does not depend on the locale. */
static int by_name(const struct dirent **x, const struct dirent **y) {
    return strcmp((*x)->d_name, (*y)->d_name);
}

int main(void) {
    size_t len;
    const char *y = va_logsource_default_yaml(&len);
    const char *err = NULL;
    va_arena_init(&map_arena, 0);
    if (va_logsource_load_mem(&map_arena, "logsources.yml", y, len, &map, &err) != VA_OK) {
        fprintf(stderr, "built-in logsource mapping: %s\n", err ? err : "does not load");
        return 1;
    }
    struct dirent **ents = NULL;
    int n = scandir(cases_dir(), &ents, has_yml_suffix, by_name);
    if (n <= 0) {
        fprintf(stderr, "%s: no case tables (*.yml)\n", cases_dir());
        va_arena_free(&map_arena);
        free(ents);
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    if (!tests) {
        fprintf(stderr, "out of memory\n");
        for (int i = 0; i < n; i++) free(ents[i]);
        free(ents);
        va_arena_free(&map_arena);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        tests[i].name = ents[i]->d_name;
        tests[i].test_func = run_file;
        tests[i].initial_state = ents[i]->d_name;
    }
    int rc = _cmocka_run_group_tests("sigma_cases", tests, (size_t)n, NULL, NULL);
    fflush(stderr); /* the summary comes last, after cmocka's report */
    if (rc == 0 && totals.failed_cases == 0)
        printf("sigma cases: %u cases, %u rules, %u events, all passed%s\n", totals.cases,
               totals.rules, totals.events,
               totals.filtered ? " (filtered by VAERN_SIGMA_CASE)" : "");
    else
        printf("sigma cases: %u cases, %u rules, %u events, %u case(s) FAILED\n", totals.cases,
               totals.rules, totals.events, totals.failed_cases);
    /* Shows that the equivalence runs exercised the prefilter rather than an idle one. */
    printf("sigma cases: each case ran in %zu modes (", NMODES);
    for (size_t m = 0; m < NMODES; m++) printf("%s%s", m ? "; " : "", modes[m].name);
    printf("); with the prefilter on, %llu rule evaluations ran and %llu were skipped\n",
           (unsigned long long)totals.evaluated, (unsigned long long)totals.skipped);
    printf("sigma cases: with the prefilter off, correlation inputs were spilled to %llu runs on "
           "disk and merged back\n",
           (unsigned long long)totals.spilled);
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    free(tests);
    va_arena_free(&map_arena);
    return rc;
}
