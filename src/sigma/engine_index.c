/*
 * engine_index.c - compiled rules indexed by what their routes require (see engine_int.h), so
 * that an event meets only its candidates: (channel, event ID), a channel with any event ID,
 * or anything (routes without a channel).  Rules whose route takes any event ID of a channel
 * but whose detection demands some are keyed by those IDs, plus a KEY_REFINED list for events
 * whose EventID is not a plain number.
 */
#include <stdlib.h>
#include <string.h>

#include "sigma/engine_int.h"

static uint64_t key_hash(const char *ch, size_t n, int64_t id) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)id;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)ascii_lower((unsigned char)ch[i])) * 1099511628211ull;
    return h ^ (h >> 31);
}

static int key_eq(const ientry *x, const char *ch, size_t n, int64_t id) {
    if (x->event_id != id || x->clen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)x->channel[i] != ascii_lower((unsigned char)ch[i])) return 0;
    return 1;
}

static ientry *slot_for(const va_engine *e, const char *ch, size_t n, int64_t id) {
    uint32_t j = (uint32_t)key_hash(ch, n, id) & (e->idx_cap - 1);
    while (e->idx[j].channel) {
        if (key_eq(&e->idx[j], ch, n, id)) return &e->idx[j];
        j = (j + 1) & (e->idx_cap - 1);
    }
    return &e->idx[j]; /* the empty slot where the key would go */
}

static int entry_add(ientry *x, uint32_t rule) {
    if (x->n && x->rules[x->n - 1] == rule) return 0; /* same rule, another route */
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 8;
        uint32_t *r = realloc(x->rules, cap * sizeof *r);
        if (!r) return -1;
        x->rules = r, x->cap = cap;
    }
    x->rules[x->n++] = rule;
    return 0;
}

static va_err index_key(va_engine *e, const char *ch, int64_t id, uint32_t rule) {
    size_t n = strlen(ch);
    ientry *x = slot_for(e, ch, n, id);
    if (!x->channel) {
        char *low = va_arena_strndup(&e->arena, ch, n);
        if (!low) return VA_ENOMEM;
        for (size_t i = 0; i < n; i++) low[i] = (char)ascii_lower((unsigned char)low[i]);
        x->channel = low, x->clen = n, x->event_id = id;
    }
    return entry_add(x, rule) ? VA_ENOMEM : VA_OK;
}

va_err va_engine_build_index(va_engine *e) {
    uint32_t keys = 0;
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_logsource_route *r = &e->r[i].routes[k];
            keys += r->nchannels * (r->nevent_ids ? r->nevent_ids : 1 + e->r[i].neids);
        }
    uint32_t cap = 64;
    while (cap < 2 * keys + 2) cap *= 2;
    if (!(e->idx = calloc(cap, sizeof *e->idx))) return VA_ENOMEM;
    e->idx_cap = cap;
    for (uint32_t i = 0; i < e->n; i++) {
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_logsource_route *r = &e->r[i].routes[k];
            if (r->etw_provider) continue; /* never matches an event log record */
            if (!r->nchannels) {
                if (entry_add(&e->any, i)) return VA_ENOMEM;
                continue;
            }
            for (uint32_t c = 0; c < r->nchannels; c++) {
                if (!r->nevent_ids && e->r[i].neids) {
                    /* Keyed by the event IDs its detection demands; events whose EventID is
                     * not a plain number see it through the REFINED list instead. */
                    for (uint32_t d = 0; d < e->r[i].neids; d++)
                        if (index_key(e, r->channels[c], e->r[i].eids[d], i)) return VA_ENOMEM;
                    if (index_key(e, r->channels[c], KEY_REFINED, i)) return VA_ENOMEM;
                    continue;
                }
                if (!r->nevent_ids) {
                    if (index_key(e, r->channels[c], -1, i)) return VA_ENOMEM;
                    continue;
                }
                for (uint32_t d = 0; d < r->nevent_ids; d++)
                    if (index_key(e, r->channels[c], r->event_ids[d], i)) return VA_ENOMEM;
            }
        }
    }
    return VA_OK;
}

const ientry *va_engine_index_find(const va_engine *e, const char *ch, size_t n, int64_t id) {
    if (!e->idx_cap) return NULL;
    const ientry *x = slot_for(e, ch, n, id);
    return x->channel ? x : NULL;
}
