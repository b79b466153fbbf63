/*
 * engine.c - the Sigma detection engine's life cycle (see engine.h): a rule set goes through
 * the stages of engine_int.h once (compile, event-ID and literal requirements, index,
 * prefilter), and the result is freed at once.  Matching is engine_match.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigma/engine_int.h"

va_err va_engine_new(const va_rule_set *set, const va_engine_opts *o, va_diag_fn diag, void *ud,
                     va_engine **out, va_engine_stats *st) {
    va_engine_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    va_engine *e = calloc(1, sizeof *e);
    if (!e) return VA_ENOMEM;
    va_arena_init(&e->arena, 256 * 1024);
    /* The monotonic clock when it was made: an engine made where a freed one was is made
     * after that one, so its id differs (engine_int.h). */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->id = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    e->r = calloc(set->n ? set->n : 1, sizeof *e->r);
    if (!e->r) {
        free(e);
        return VA_ENOMEM;
    }
    if (va_engine_compile_rules(e, set, o, diag, ud, st) != VA_OK) {
        va_engine_free(e);
        return VA_ENOMEM;
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (va_engine_rule_eids(e, &e->r[i])) {
            va_engine_free(e);
            return VA_ENOMEM;
        }
    e->nwords = (e->n + 63) / 64 ? (e->n + 63) / 64 : 1;
    if (!o->prefilter_off) {
        const char *why = NULL;
        va_err err = va_engine_build_prefilter(e, o, &why);
        if (err) {
            if (diag && why) {
                va_diag d = {VA_SEV_ERROR, err, "prefilter", NULL, -1, -1, why};
                diag(ud, &d);
            }
            va_engine_free(e);
            return err;
        }
        for (uint32_t i = 0; i < e->n; i++) st->prefiltered += !e->always[i];
        st->literals = e->nused;
        for (uint32_t g = 0; g < e->ngroups && !st->backend; g++)
            if (e->grp[g].db) st->backend = va_prefilter_backend_name(e->grp[g].db);
        st->cached = e->pf_cached;
    }
    /* After the prefilter: the index marks the routes where a rule cannot be prefiltered. */
    if (va_engine_build_index(e) != VA_OK) {
        va_engine_free(e);
        return VA_ENOMEM;
    }
    *out = e;
    return VA_OK;
}

static void free_field_matchers(va_engine *e) {
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t s = 0; s < e->r[i].ns; s++)
            for (uint32_t m = 0; m < e->r[i].s[s].nmaps; m++)
                for (uint32_t f = 0; f < e->r[i].s[s].maps[m].n; f++)
                    va_value_free(e->r[i].s[s].maps[m].f[f].m);
}

void va_engine_free(va_engine *e) {
    if (!e) return;
    free_field_matchers(e);
    for (uint32_t i = 0; i < e->nflt; i++)
        for (uint32_t s = 0; s < e->flt[i].ns; s++)
            for (uint32_t m = 0; m < e->flt[i].s[s].nmaps; m++)
                for (uint32_t f = 0; f < e->flt[i].s[s].maps[m].n; f++)
                    va_value_free(e->flt[i].s[s].maps[m].f[f].m);
    free(e->flt);
    va_engine_index_free(e);
    for (uint32_t g = 0; g < VA_ENGINE_GROUPS; g++) {
        va_prefilter_free(e->grp[g].db);
        free(e->grp[g].ids);
    }
    free(e->pins);
    free(e->namesets);
    free(e->nameset_n);
    va_hash_free(&e->nameset_hash);
    va_hash_free(&e->pin_hash);
    free(e->lit_off);
    free(e->lit_rules);
    free(e->always);
    free(e->r);
    va_arena_free(&e->arena);
    for (uint32_t t = 0; t < e->ntarena; t++) va_arena_free(&e->tarena[t]);
    free(e);
}
