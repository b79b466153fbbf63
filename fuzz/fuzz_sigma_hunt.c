/*
 * fuzz_sigma_hunt.c - libFuzzer target: whole hunts, rules and events, with an oracle.
 *
 * Input: Sigma rule YAML, a line "=====", then events as JSON lines (NXLog flat or evtx_dump
 * style, as `vaern hunt` reads them).  The rules are compiled twice against the built-in
 * logsource mapping, once with the literal prefilter (the automaton backend: Hyperscan's
 * compile is too slow for a fuzzing loop, and tests/test_sigma_prefilter.c shows both
 * backends agree) and once without it, and every event is matched by both.  The prefilter
 * promises to change nothing, so the two must report the same rules in the same order, the
 * same matched fields and the same undecided marks; any difference aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "json/winevent.h"
#include "sigma/engine.h"
#include "sigma/prefilter.h"

#define MAX_HITS 64

typedef struct hitlog {
    va_engine_scratch *s;
    const va_rule *rule[MAX_HITS];
    uint32_t nf[MAX_HITS], f0[MAX_HITS];
    int undecided[MAX_HITS];
    uint32_t n;
} hitlog;

typedef struct hunt {
    va_engine *with, *without;
    va_engine_scratch *sw, *so;
} hunt;

static int on_hit(void *ud, const va_rule *r, const va_event *ev) {
    (void)ev;
    hitlog *h = ud;
    if (h->n == MAX_HITS) return 1;
    uint32_t idx[8];
    h->rule[h->n] = r;
    h->nf[h->n] = va_engine_hit_fields(h->s, idx, 8);
    h->f0[h->n] = h->nf[h->n] ? idx[0] : UINT32_MAX;
    h->undecided[h->n] = va_engine_hit_undecided(h->s) != NULL;
    h->n++;
    return 0;
}

static int on_event(void *ud, const va_event *ev) {
    hunt *x = ud;
    hitlog a = {.s = x->sw}, b = {.s = x->so};
    va_engine_match(x->with, x->sw, ev, on_hit, &a);
    va_engine_match(x->without, x->so, ev, on_hit, &b);
    if (va_engine_scratch_failures(x->sw) || va_engine_scratch_failures(x->so)) return 0;
    if (a.n != b.n) abort(); /* the prefilter dropped or added a hit */
    for (uint32_t i = 0; i < a.n; i++)
        if (a.rule[i] != b.rule[i] || a.nf[i] != b.nf[i] || a.f0[i] != b.f0[i] ||
            a.undecided[i] != b.undecided[i])
            abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n=====\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    size_t rl = cut ? (size_t)(cut - data) : size;
    const uint8_t *events = cut ? cut + sizeof sep - 1 : data + size;
    size_t el = (size_t)(data + size - events);
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats rs = {0};
    va_logsource_map *map = NULL;
    const char *err = NULL;
    hunt x = {0};
    va_rule_load_mem(&a, "fuzz.yml", (const char *)data, rl, &set, NULL, NULL, &rs);
    if (va_logsource_load(&a, NULL, &map, &err) != VA_OK) goto out;
    va_engine_opts on = {.logsources = map, .prefilter_backend = VA_PREFILTER_AUTOMATON};
    va_engine_opts off = {.logsources = map, .prefilter_off = 1};
    va_engine_stats st;
    if (va_engine_new(&set, &on, NULL, NULL, &x.with, &st) != VA_OK) goto out;
    if (va_engine_new(&set, &off, NULL, NULL, &x.without, &st) != VA_OK) goto out;
    if (!(x.sw = va_engine_scratch_new()) || !(x.so = va_engine_scratch_new())) goto out;
    va_jsonev_reader *r = va_jsonev_new("fuzz.json", NULL, NULL, NULL, on_event, &x);
    if (r) {
        va_jsonev_feed(r, events, el);
        va_jsonev_end(r);
        va_jsonev_free(r);
    }
out:
    va_engine_scratch_free(x.sw);
    va_engine_scratch_free(x.so);
    va_engine_free(x.with);
    va_engine_free(x.without);
    va_arena_free(&a);
    return 0;
}
