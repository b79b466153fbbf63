/*
 * engine_compile.c - a loaded rule set into compiled rules (see engine_int.h).
 *
 * Each detection or filter rule's logsource becomes routes (logsource.h), each field of each
 * search identifier a value matcher (value.h), and the searches used outside `not` are marked
 * (their fields explain a hit).  A rule that cannot be compiled is reported with its file,
 * line and reason and left out: a rule is never evaluated wrongly.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigma/engine_int.h"

static void report(va_diag_fn diag, void *ud, const va_rule *r, va_err code, const char *fmt,
                   const char *a, const char *b) {
    if (!diag) return;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    va_diag d = {VA_SEV_WARN, code, r->file, "line", (int64_t)r->line, -1, msg};
    diag(ud, &d);
}

static va_value_kind lit_kind(va_rule_vtype t) {
    switch (t) {
    case VA_RULE_INT:
        return VA_VALUE_INT;
    case VA_RULE_FLOAT:
        return VA_VALUE_FLOAT;
    case VA_RULE_BOOL:
        return VA_VALUE_BOOL;
    case VA_RULE_NULL:
        return VA_VALUE_NULL;
    default:
        return VA_VALUE_STR;
    }
}

/* Mark the search identifiers nd uses outside any `not`. */
static void mark_positive(const va_cond_node *nd, int neg, uint8_t *pos, uint32_t ns) {
    if (nd->kind == VA_COND_NOT) neg = !neg;
    if (!neg && (nd->kind == VA_COND_ID || nd->kind == VA_COND_OF))
        for (uint32_t i = 0; i < nd->nids; i++)
            if (nd->ids[i] < ns) pos[nd->ids[i]] = 1;
    for (uint32_t i = 0; i < nd->nkids; i++) mark_positive(nd->kids[i], neg, pos, ns);
}

/* Modifiers after which a keyword keeps its own comparison; any other keyword is searched
 * for anywhere in a value (the specification applies keywords to the whole log message). */
static int keyword_has_own_op(const va_rule_field *f) {
    static const char *const own[] = {
        "contains", "startswith", "endswith", "re",   "cidr", "lt",   "lte",   "gt",   "gte",
        "exists",   "fieldref",   "minute",   "hour", "day",  "week", "month", "year", NULL};
    for (uint32_t i = 0; i < f->mods.n; i++)
        for (int k = 0; own[k]; k++)
            if (!strcmp(f->mods.v[i], own[k])) return 1;
    return 0;
}

/* Compile one field (name|mods: values). */
static va_err compile_field(va_arena *a, const va_engine_opts *o, const va_rule_field *f,
                            cfield *out, const char **why) {
    memset(out, 0, sizeof *out); /* the arena does not zero: computed and res start clear */
    char mods[512];
    size_t ml = 0;
    int keyword = !f->name || !*f->name;
    for (uint32_t i = 0; i < f->mods.n; i++) {
        size_t l = strlen(f->mods.v[i]);
        if (ml + l + 2 > sizeof mods) {
            *why = "modifier chain too long";
            return VA_ELIMIT;
        }
        if (ml) mods[ml++] = '|';
        memcpy(mods + ml, f->mods.v[i], l);
        ml += l;
    }
    if (keyword && !keyword_has_own_op(f)) {
        if (ml + 10 > sizeof mods) {
            *why = "modifier chain too long";
            return VA_ELIMIT;
        }
        if (ml) mods[ml++] = '|';
        memcpy(mods + ml, "contains", 8);
        ml += 8;
    }
    va_value_lit lits[64] = {{0}};
    va_value_lit *lv = f->nvals <= 64 ? lits : malloc(f->nvals * sizeof *lv);
    if (!lv) return VA_ENOMEM;
    for (uint32_t i = 0; i < f->nvals; i++) {
        /* A keyword is text to find, even when YAML reads it as a number. */
        lv[i].kind =
            keyword && f->vals[i].type != VA_RULE_NULL ? VA_VALUE_STR : lit_kind(f->vals[i].type);
        lv[i].s = f->vals[i].text;
        lv[i].n = f->vals[i].len;
    }
    va_err err = va_value_compile(a, mods, ml, lv, f->nvals, o->placeholders, o->nplaceholders,
                                  &out->m, why);
    if (lv != lits) free(lv);
    if (err) return err;
    out->name = f->name ? f->name : "";
    out->nlen = (uint32_t)strlen(out->name);
    out->flags = va_value_flags(out->m);
    return VA_OK;
}

static va_err compile_rule(va_arena *a, const va_engine_opts *o, const va_rule *r, crule *c,
                           const char **why, const char **what) {
    memset(c, 0, sizeof *c);
    c->rule = r;
    const va_rule_detection *d = r->kind == VA_RULE_KIND_FILTER ? &r->filter.det : &r->detection;
    c->det = d;
    /* Zeroed, as are the field arrays below, so that a rule that fails half way can have the
     * matchers it did compile freed (free_matchers). */
    c->s = va_arena_alloc(a, (d->nsearches ? d->nsearches : 1) * sizeof *c->s);
    if (!c->s) return VA_ENOMEM;
    memset(c->s, 0, (d->nsearches ? d->nsearches : 1) * sizeof *c->s);
    c->ns = d->nsearches;
    for (uint32_t i = 0; i < d->nsearches; i++) {
        const va_rule_search *s = &d->searches[i];
        csearch *cs = &c->s[i];
        *what = s->name;
        if (s->kind == VA_RULE_SEARCH_KEYWORDS) {
            /* Keywords: one nameless field whose values are tried against every field. */
            cs->maps = va_arena_alloc(a, sizeof *cs->maps);
            cfield *cf = va_arena_alloc(a, sizeof *cf);
            if (!cs->maps || !cf) return VA_ENOMEM;
            memset(cf, 0, sizeof *cf);
            cs->maps[0].f = cf, cs->maps[0].n = 1;
            cs->nmaps = 1;
            va_rule_field kf = {0};
            kf.name = "";
            kf.vals = s->keywords, kf.nvals = s->nkeywords;
            va_err err = compile_field(a, o, &kf, cf, why);
            if (err) return err;
            continue;
        }
        cs->maps = va_arena_alloc(a, (s->nmaps ? s->nmaps : 1) * sizeof *cs->maps);
        if (!cs->maps) return VA_ENOMEM;
        memset(cs->maps, 0, (s->nmaps ? s->nmaps : 1) * sizeof *cs->maps);
        cs->nmaps = s->nmaps;
        for (uint32_t m = 0; m < s->nmaps; m++) {
            const va_rule_map *sm = &s->maps[m];
            cmap *cm = &cs->maps[m];
            cm->f = va_arena_alloc(a, (sm->n ? sm->n : 1) * sizeof *cm->f);
            if (!cm->f) return VA_ENOMEM;
            memset(cm->f, 0, (sm->n ? sm->n : 1) * sizeof *cm->f);
            cm->n = sm->n;
            for (uint32_t k = 0; k < sm->n; k++) {
                *what = sm->fields[k].name;
                va_err err = compile_field(a, o, &sm->fields[k], &cm->f[k], why);
                if (err) return err;
            }
        }
    }
    if (!(c->map_off = va_arena_alloc(a, (c->ns ? c->ns : 1) * sizeof *c->map_off)))
        return VA_ENOMEM;
    for (uint32_t i = 0; i < c->ns; i++)
        c->map_off[i] = c->nmaps_all, c->nmaps_all += c->s[i].nmaps;
    if (!(c->positive = va_arena_alloc(a, c->ns ? c->ns : 1))) return VA_ENOMEM;
    memset(c->positive, 0, c->ns ? c->ns : 1);
    for (uint32_t k = 0; k < d->nconds; k++) mark_positive(d->conds[k].ast, 0, c->positive, c->ns);
    return VA_OK;
}

/* Resolve how each field of c reads the event on each of c's routes, and flag the fields
 * that one of its routes computes rather than renames. */
static va_err resolve_fields(va_arena *a, crule *c) {
    for (uint32_t i = 0; i < c->ns; i++)
        for (uint32_t m = 0; m < c->s[i].nmaps; m++)
            for (uint32_t k = 0; k < c->s[i].maps[m].n; k++) {
                cfield *f = &c->s[i].maps[m].f[k];
                if (!f->nlen) continue; /* keywords read every field */
                if (!(f->res = va_arena_alloc(a, c->nroutes * sizeof *f->res))) return VA_ENOMEM;
                for (uint32_t r = 0; r < c->nroutes; r++) {
                    const va_logsource_field *lf = route_field(&c->routes[r], f->name, f->nlen);
                    fres *x = &f->res[r];
                    x->spec = lf && lf->conv != VA_LOGSOURCE_RENAME ? lf : NULL;
                    x->name = lf && !x->spec ? lf->field : f->name;
                    x->len = (uint32_t)strlen(x->name);
                    x->hash = va_hash_mem(x->name, x->len, 0);
                    f->computed |= x->spec != NULL;
                }
            }
    return VA_OK;
}

/* Point each rule at the filters that name it (by id or name); names that match no compiled
 * rule are reported. */
static va_err attach_filters(va_engine *e, va_diag_fn diag, void *ud) {
    for (uint32_t f = 0; f < e->nflt; f++) {
        const va_rule *fr = e->flt[f].rule;
        for (uint32_t k = 0; k < fr->filter.rules.n; k++) {
            const char *ref = fr->filter.rules.v[k];
            int found = 0;
            for (uint32_t i = 0; i < e->n; i++) {
                const va_rule *r = e->r[i].rule;
                if (!((r->id && !strcasecmp(r->id, ref)) || (r->name && !strcmp(r->name, ref))))
                    continue;
                crule *c = &e->r[i];
                uint32_t *v = va_arena_alloc(&e->arena, (c->nfilters + 1) * sizeof *v);
                if (!v) return VA_ENOMEM;
                if (c->nfilters) memcpy(v, c->filters, c->nfilters * sizeof *v);
                v[c->nfilters++] = f;
                c->filters = v;
                found = 1;
            }
            if (!found)
                report(diag, ud, fr, VA_EFORMAT, "filter names rule '%s', which is not loaded (%s)",
                       ref, fr->title);
        }
    }
    return VA_OK;
}

/* The value matchers of c that were compiled (the arrays are zeroed before they are filled). */
static void free_matchers(crule *c) {
    for (uint32_t i = 0; c->s && i < c->ns; i++)
        for (uint32_t m = 0; c->s[i].maps && m < c->s[i].nmaps; m++)
            for (uint32_t f = 0; c->s[i].maps[m].f && f < c->s[i].maps[m].n; f++)
                va_value_free(c->s[i].maps[m].f[f].m);
}

/* One rule as a compiling thread leaves it, for the reports and counts made in rule order. */
typedef struct cjob {
    const va_rule *r;
    va_err err;          /* VA_OK; VA_ENOMEM; or why the rule is left out */
    int unmapped;        /* its logsource is not in the mapping */
    const char *unknown; /* the logsource part the mapping lacks */
    const char *why, *what;
    crule c;
} cjob;

/* The rules to compile, shared by the compiling threads. */
typedef struct cshared {
    const va_engine_opts *o;
    cjob *jobs;
    uint32_t n;
    _Atomic uint32_t next; /* the next rule to take, in batches */
} cshared;

typedef struct cthread {
    cshared *sh;
    va_arena *arena; /* the thread's own: va_engine.arena or one of va_engine.tarena */
} cthread;

static void compile_job(va_arena *a, const va_engine_opts *o, cjob *j) {
    const va_rule *r = j->r;
    uint32_t nroutes = 0;
    va_logsource_route *routes =
        va_logsource_routes(o->logsources, a, r->logsource.product, r->logsource.category,
                            r->logsource.service, &nroutes, &j->unknown);
    if (!routes && !j->unknown) {
        j->err = VA_ENOMEM;
        return;
    }
    if (!nroutes) {
        j->unmapped = 1;
        return;
    }
    j->err = compile_rule(a, o, r, &j->c, &j->why, &j->what);
    if (!j->err) {
        j->c.routes = routes, j->c.nroutes = nroutes;
        if (resolve_fields(a, &j->c)) j->err = VA_ENOMEM;
    }
    if (j->err) free_matchers(&j->c); /* a rule left out keeps nothing */
}

#define COMPILE_BATCH 16

static void *compile_thread(void *arg) {
    cthread *t = arg;
    cshared *sh = t->sh;
    for (;;) {
        uint32_t from = atomic_fetch_add(&sh->next, COMPILE_BATCH);
        if (from >= sh->n) break;
        uint32_t to = sh->n - from > COMPILE_BATCH ? from + COMPILE_BATCH : sh->n;
        for (uint32_t i = from; i < to; i++) compile_job(t->arena, sh->o, &sh->jobs[i]);
    }
    return NULL;
}

va_err va_engine_compile_rules(va_engine *e, const va_rule_set *set, const va_engine_opts *o,
                               va_diag_fn diag, void *ud, va_engine_stats *st) {
    uint32_t nfilter_rules = 0, n = 0;
    for (const va_rule *r = set->head; r; r = r->next) {
        nfilter_rules += r->kind == VA_RULE_KIND_FILTER;
        n += r->kind != VA_RULE_KIND_CORRELATION; /* correlate.h evaluates those */
    }
    if (nfilter_rules && !(e->flt = calloc(nfilter_rules, sizeof *e->flt))) return VA_ENOMEM;
    cjob *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs) return VA_ENOMEM;
    uint32_t k = 0;
    for (const va_rule *r = set->head; r; r = r->next)
        if (r->kind != VA_RULE_KIND_CORRELATION) jobs[k++].r = r;
    /* Rules compile independently (PCRE2 and its JIT are most of it), each thread into its
     * own arena; what is reported and kept is then taken in rule order, so the engine and its
     * diagnostics are the same whatever the number of threads. */
    uint32_t batches = (n + COMPILE_BATCH - 1) / COMPILE_BATCH;
    uint32_t nt = o->threads > 1 ? (uint32_t)o->threads : 1;
    if (nt > VA_ENGINE_MAX_THREADS) nt = VA_ENGINE_MAX_THREADS;
    if (nt > batches) nt = batches ? batches : 1;
    cshared sh = {.o = o, .jobs = jobs, .n = n};
    atomic_init(&sh.next, 0);
    cthread th[VA_ENGINE_MAX_THREADS];
    pthread_t tid[VA_ENGINE_MAX_THREADS];
    int started[VA_ENGINE_MAX_THREADS] = {0};
    for (uint32_t t = 0; t < nt; t++) {
        va_arena *a = &e->arena;
        if (t) {
            if (e->ntarena < t) {
                va_arena_init(&e->tarena[t - 1], 256 * 1024);
                e->ntarena = t;
            }
            a = &e->tarena[t - 1];
        }
        th[t] = (cthread){&sh, a};
    }
    /* A thread that cannot be started leaves its share to the others. */
    for (uint32_t t = 1; t < nt; t++)
        started[t] = !pthread_create(&tid[t], NULL, compile_thread, &th[t]);
    compile_thread(&th[0]);
    for (uint32_t t = 1; t < nt; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    va_err ret = VA_OK;
    for (uint32_t i = 0; i < n; i++) {
        cjob *j = &jobs[i];
        const va_rule *r = j->r;
        if (ret || j->err == VA_ENOMEM) {
            ret = VA_ENOMEM;
            if (!j->err) free_matchers(&j->c);
            continue;
        }
        if (j->unmapped) {
            st->unmapped++;
            report(diag, ud, r, VA_EUNSUPPORTED, "logsource '%s' is not in the mapping (%s)",
                   j->unknown ? j->unknown : "?", r->title);
            continue;
        }
        if (j->err) {
            if (j->err == VA_EUNSUPPORTED)
                st->unsupported++;
            else
                st->failed++;
            report(diag, ud, r, j->err, "%s: %s", j->what ? j->what : "detection",
                   j->why ? j->why : "");
            continue;
        }
        if (r->kind == VA_RULE_KIND_FILTER) {
            e->flt[e->nflt++] = j->c;
            st->filters++;
        } else {
            e->r[e->n++] = j->c;
            st->rules++;
        }
    }
    free(jobs);
    return ret ? ret : attach_filters(e, diag, ud);
}
