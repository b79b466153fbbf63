/*
 * engine_index.c - compiled rules indexed by what their routes require (see engine_int.h), so
 * that an event meets only its candidates: (channel, event ID), a channel with any event ID,
 * or anything (routes without a channel).  Rules whose route takes any event ID of a channel
 * but whose detection demands some are keyed by those IDs, plus a KEY_REFINED list for events
 * whose EventID is not a plain number.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "sigma/engine_int.h"

static int key_eq(const ientry *x, const char *ch, size_t n, int64_t id) {
    if (x->event_id != id || x->clen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)x->channel[i] != ascii_lower((unsigned char)ch[i])) return 0;
    return 1;
}

const ientry *va_engine_index_find(const va_engine *e, uint64_t channel_hash, const char *ch,
                                   size_t n, int64_t id) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&e->idx_hash, index_hash(channel_hash, id), &it);
         i != VA_HASH_END; i = va_hash_next(&e->idx_hash, &it))
        if (key_eq(&e->idx[i], ch, n, id)) return &e->idx[i];
    return NULL;
}

#define NBITSETS (1 + VA_ENGINE_CLAUSES) /* an entry's rules, then its waivers per clause */

/* Add rule to the key (ch, id), with the clauses waive (bit j: clause j) waived there. */
static va_err index_key(va_engine *e, const char *ch, int64_t id, uint32_t rule, unsigned waive) {
    size_t n = strlen(ch);
    uint64_t hc = va_hash_mem_lower(ch, n, 0);
    ientry *x = (ientry *)va_engine_index_find(e, hc, ch, n, id);
    if (!x) {
        if (VA_ARRAY_GROW(e->idx, e->idx_cap, e->nidx + 1)) return VA_ENOMEM;
        char *low = va_arena_strndup(&e->arena, ch, n);
        uint64_t *bits = va_arena_alloc(&e->arena, NBITSETS * e->nwords * sizeof *bits);
        if (!low || !bits) return VA_ENOMEM;
        for (size_t i = 0; i < n; i++) low[i] = (char)ascii_lower((unsigned char)low[i]);
        memset(bits, 0, NBITSETS * e->nwords * sizeof *bits);
        if (va_hash_insert(&e->idx_hash, index_hash(hc, id), (uint32_t)e->nidx)) return VA_ENOMEM;
        x = &e->idx[e->nidx++];
        x->channel = low, x->clen = n, x->event_id = id, x->bits = bits;
        x->w0 = UINT32_MAX, x->w1 = 0;
        for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
            x->waive[j] = bits + (size_t)(j + 1) * e->nwords;
    }
    assert(rule < e->n && rule / 64 < e->nwords);
    x->bits[rule / 64] |= 1ull << (rule % 64);
    if (rule / 64 < x->w0) x->w0 = rule / 64;
    if (rule / 64 + 1 > x->w1) x->w1 = rule / 64 + 1;
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
        if (waive >> j & 1) x->waive[j][rule / 64] |= 1ull << (rule % 64);
    return VA_OK;
}

va_err va_engine_build_index(va_engine *e) {
    if (!(e->any = va_arena_alloc(&e->arena, NBITSETS * e->nwords * sizeof *e->any)))
        return VA_ENOMEM;
    memset(e->any, 0, NBITSETS * e->nwords * sizeof *e->any);
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
        e->any_waive[j] = e->any + (size_t)(j + 1) * e->nwords;
    for (uint32_t i = 0; i < e->n; i++) {
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_logsource_route *r = &e->r[i].routes[k];
            unsigned al = 0; /* the clauses waived on this route */
            for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
                al |= (unsigned)((e->r[i].waive_routes[j] >> (k < 63 ? k : 63)) & 1) << j;
            if (r->etw_provider) continue; /* never matches an event log record */
            if (!r->nchannels) {
                e->any[i / 64] |= 1ull << (i % 64);
                for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
                    if (al >> j & 1) e->any_waive[j][i / 64] |= 1ull << (i % 64);
                continue;
            }
            for (uint32_t c = 0; c < r->nchannels; c++) {
                if (!r->nevent_ids && e->r[i].neids) {
                    /* Keyed by the event IDs its detection demands; events whose EventID is
                     * not a plain number see it through the REFINED list instead. */
                    for (uint32_t d = 0; d < e->r[i].neids; d++)
                        if (index_key(e, r->channels[c], e->r[i].eids[d], i, al)) return VA_ENOMEM;
                    if (index_key(e, r->channels[c], KEY_REFINED, i, al)) return VA_ENOMEM;
                    continue;
                }
                if (!r->nevent_ids) {
                    if (index_key(e, r->channels[c], -1, i, al)) return VA_ENOMEM;
                    continue;
                }
                for (uint32_t d = 0; d < r->nevent_ids; d++)
                    if (index_key(e, r->channels[c], r->event_ids[d], i, al)) return VA_ENOMEM;
            }
        }
    }
    return VA_OK;
}

void va_engine_index_free(va_engine *e) {
    free(e->idx);
    va_hash_free(&e->idx_hash);
}
