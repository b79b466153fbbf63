/*
 * fuzz_sigma_rule.c - libFuzzer target: YAML text through the Sigma rule loader (sigma/rule.h).
 *
 * Every loaded rule is walked afterwards (conditions evaluated with an alternating answer) so
 * that pointers the loader leaves in the model are exercised, not just created.  The input is
 * then loaded as a file through va_rule_load_paths with a cache folder, twice: parsed (and
 * stored), then taken from the pack.  The cache promises to change nothing, so the three loads
 * must give the same rules and the same reports (compared as a hash of every field); any
 * difference aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/hash.h"
#include "sigma/rule.h"

static int alternate(void *ud, uint32_t idx) {
    (void)ud;
    return (int)(idx & 1);
}

static void touch(const va_rule_detection *d) {
    for (uint32_t i = 0; i < d->nconds; i++) (void)va_cond_eval(d->conds[i].ast, alternate, NULL);
    for (uint32_t i = 0; i < d->nsearches; i++)
        for (uint32_t m = 0; m < d->searches[i].nmaps; m++)
            for (uint32_t f = 0; f < d->searches[i].maps[m].n; f++)
                (void)d->searches[i].maps[m].fields[f].vals[0].text[0];
}

/* ---- a hash of everything a load gave ---------------------------------------------------- */

static uint64_t h_str(uint64_t h, const char *s) {
    return s ? va_hash_mem(s, strlen(s) + 1, h) : va_hash_u64(h, 1);
}

static uint64_t h_strs(uint64_t h, const va_rule_strs *x) {
    h = va_hash_u64(h, x->n);
    for (uint32_t i = 0; i < x->n; i++) h = h_str(h, x->v[i]);
    return h;
}

static uint64_t h_val(uint64_t h, const va_rule_value *v) {
    uint64_t f;
    memcpy(&f, &v->f, sizeof f);
    h = va_hash_u64(h_str(h, v->text), v->type);
    h = va_hash_u64(va_hash_u64(h, v->len), ((uint64_t)v->line << 32) | v->col);
    return va_hash_u64(va_hash_u64(h, (uint64_t)v->i), f);
}

static uint64_t h_det(uint64_t h, const va_rule_detection *d) {
    char buf[512];
    for (uint32_t i = 0; i < d->nsearches; i++) {
        const va_rule_search *s = &d->searches[i];
        h = va_hash_u64(h_str(h, s->name), ((uint64_t)s->kind << 48) ^ s->line ^ s->col << 24);
        for (uint32_t m = 0; m < s->nmaps; m++)
            for (uint32_t f = 0; f < s->maps[m].n; f++) {
                const va_rule_field *fl = &s->maps[m].fields[f];
                h = h_strs(h_str(h, fl->name), &fl->mods);
                h = va_hash_u64(h, ((uint64_t)fl->line << 32) ^ fl->col ^ (uint64_t)fl->is_list);
                for (uint32_t v = 0; v < fl->nvals; v++) h = h_val(h, &fl->vals[v]);
            }
        for (uint32_t k = 0; k < s->nkeywords; k++) h = h_val(h, &s->keywords[k]);
    }
    for (uint32_t i = 0; i < d->nconds; i++) {
        va_cond_format(d->conds[i].ast, buf, sizeof buf);
        h = h_str(h_str(h, d->conds[i].text), buf);
        h = va_hash_u64(h, ((uint64_t)d->conds[i].line << 32) | d->conds[i].col);
    }
    return h;
}

static uint64_t h_set(const va_rule_set *set) {
    uint64_t h = set->n;
    for (const va_rule *r = set->head; r; r = r->next) {
        h = va_hash_u64(h, ((uint64_t)r->kind << 56) ^ ((uint64_t)r->doc << 40) ^ r->line ^
                               (uint64_t)r->col << 20);
        const char *const s[] = {r->title,    r->id,      r->name,        r->status,
                                 r->level,    r->author,  r->description, r->date,
                                 r->modified, r->license, r->taxonomy};
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) h = h_str(h, s[i]);
        h = h_strs(h_strs(h_strs(h, &r->references), &r->tags), &r->falsepositives);
        h = h_strs(h_strs(h, &r->fields), &r->scope);
        for (uint32_t i = 0; i < r->nrelated; i++)
            h = h_str(h_str(h, r->related[i].type), r->related[i].id);
        h = h_str(h_str(h, r->logsource.product), r->logsource.category);
        h = h_str(h_str(h, r->logsource.service), r->logsource.definition);
        if (r->kind == VA_RULE_KIND_DETECTION) h = h_det(h, &r->detection);
        if (r->kind == VA_RULE_KIND_FILTER) h = h_det(h_strs(h, &r->filter.rules), &r->filter.det);
        if (r->kind == VA_RULE_KIND_CORRELATION) {
            const va_rule_correlation *c = &r->corr;
            h = h_strs(h_strs(va_hash_u64(h, c->type), &c->rules), &c->group_by);
            h = va_hash_u64(h_str(h, c->timespan), (uint64_t)c->timespan_s);
            for (uint32_t i = 0; i < c->ncmps; i++)
                h = h_val(va_hash_u64(h, c->cmps[i].op), &c->cmps[i].v);
            h = va_hash_u64(h_strs(h, &c->fields), (uint64_t)(c->generate + 1));
            for (uint32_t i = 0; i < c->naliases; i++) {
                h = h_str(h, c->aliases[i].alias);
                for (uint32_t j = 0; j < c->aliases[i].n; j++)
                    h = h_str(h_str(h, c->aliases[i].rule[j]), c->aliases[i].field[j]);
            }
        }
    }
    return h;
}

/* Reports, with positions, in order (the file name left out: it differs between the loads). */
static void on_diag(void *ud, const va_rule_diag *d) {
    uint64_t *h = ud;
    *h = va_hash_u64(h_str(*h, d->msg),
                     ((uint64_t)d->code << 56) ^ ((uint64_t)d->line << 24) ^ d->col);
}

typedef struct outcome {
    uint64_t rules, diags;
    va_rule_stats st;
    va_err e;
} outcome;

static char work[64]; /* a folder of this process's own: the input file and the cache */

static void remove_work(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd)) return;
}

static const char *work_dir(void) {
    if (!work[0]) {
        snprintf(work, sizeof work, "/tmp/fuzz_sigma_rule.%ld", (long)getpid());
        if (mkdir(work, 0700) && access(work, W_OK)) abort();
        atexit(remove_work);
    }
    return work;
}

static void load_cached(const char *path, const char *cache, outcome *o) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    memset(o, 0, sizeof *o);
    o->e = va_rule_load_paths(&a, 1, &path, 1, cache, &set, on_diag, &o->diags, &o->st);
    o->rules = h_set(&set);
    va_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats st = {0};
    outcome mem = {0};
    mem.e =
        va_rule_load_mem(&a, "fuzz.yml", (const char *)data, size, &set, on_diag, &mem.diags, &st);
    for (const va_rule *r = set.head; r; r = r->next) {
        if (r->kind == VA_RULE_KIND_DETECTION) touch(&r->detection);
        if (r->kind == VA_RULE_KIND_FILTER) touch(&r->filter.det);
    }
    mem.rules = h_set(&set);
    va_arena_free(&a);
    /* Nothing to compare: out of memory, or more than the loader reads from a file. */
    if (mem.e == VA_ENOMEM || size > (16u << 20)) return 0;

    /* The same bytes as a file, parsed and stored, then from the pack. */
    char path[128], cache[128];
    snprintf(path, sizeof path, "%s/fuzz.yml", work_dir());
    snprintf(cache, sizeof cache, "%s/cache", work_dir());
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
    outcome parsed, cached;
    load_cached(path, cache, &parsed);
    load_cached(path, cache, &cached);
    if (parsed.rules != mem.rules || cached.rules != mem.rules) abort();
    if (parsed.diags != mem.diags || cached.diags != mem.diags) abort();
    if (parsed.e != mem.e || cached.e != mem.e) abort();
    if (parsed.st.docs_failed != st.docs_failed || cached.st.docs_failed != st.docs_failed) abort();
    if (cached.st.cached != 1 && parsed.e != VA_ENOMEM) abort(); /* the pack was not used */
    return 0;
}
