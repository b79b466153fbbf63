/*
 * logsource.c - loading the logsource mapping and selecting routes (see logsource.h).
 *
 * The mapping file is configuration a user edits, so the loader is strict: an unknown key, a
 * non-integer event ID or a wrong shape is an error with its line and column, rather than a
 * route that silently selects nothing.
 */
#include "sigma/logsource.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_MAP_FILE (4u << 20)

typedef struct sl {
    va_arena *a;
    yaml_document_t *doc;
    const char *file;
    char msg[256];
    va_err code;
} sl;

static va_err fail(sl *L, const yaml_node_t *n, const char *what) {
    snprintf(L->msg, sizeof L->msg, "%s:%lu:%lu: %s", L->file,
             n ? (unsigned long)n->start_mark.line + 1 : 0UL,
             n ? (unsigned long)n->start_mark.column + 1 : 0UL, what);
    L->code = VA_EFORMAT;
    return VA_EFORMAT;
}

static va_err nomem(sl *L) {
    snprintf(L->msg, sizeof L->msg, "%s: out of memory", L->file);
    L->code = VA_ENOMEM;
    return VA_ENOMEM;
}

static yaml_node_t *node(sl *L, int id) {
    return yaml_document_get_node(L->doc, id);
}

static const char *scalar(sl *L, yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    return va_arena_strndup(L->a, (const char *)n->data.scalar.value, n->data.scalar.length);
}

static int key_is(yaml_node_t *k, const char *s) {
    return k && k->type == YAML_SCALAR_NODE && strlen(s) == k->data.scalar.length &&
           !memcmp(k->data.scalar.value, s, k->data.scalar.length);
}

/* A sequence of scalars (or one scalar) into strings. */
static va_err strings(sl *L, yaml_node_t *n, const char ***out, uint32_t *cnt) {
    if (n->type == YAML_SCALAR_NODE) {
        const char **v = va_arena_alloc(L->a, sizeof *v);
        if (!v || !(v[0] = scalar(L, n))) return nomem(L);
        *out = v, *cnt = 1;
        return VA_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) return fail(L, n, "expected a list of strings");
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    const char **v = va_arena_alloc(L->a, (k ? k : 1) * sizeof *v);
    if (!v) return nomem(L);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = node(L, n->data.sequence.items.start[i]);
        if (!it || it->type != YAML_SCALAR_NODE) return fail(L, it ? it : n, "expected a string");
        if (!(v[i] = scalar(L, it))) return nomem(L);
    }
    *out = v, *cnt = (uint32_t)k;
    return VA_OK;
}

/* A map of scalars to scalars into parallel key and value arrays. */
static va_err pairs(sl *L, yaml_node_t *n, const char ***keys, const char ***vals, uint32_t *cnt) {
    if (n->type != YAML_MAPPING_NODE) return fail(L, n, "expected a map of strings to strings");
    size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    const char **ks = va_arena_alloc(L->a, (k ? k : 1) * sizeof *ks);
    const char **vs = va_arena_alloc(L->a, (k ? k : 1) * sizeof *vs);
    if (!ks || !vs) return nomem(L);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *a = node(L, n->data.mapping.pairs.start[i].key);
        yaml_node_t *b = node(L, n->data.mapping.pairs.start[i].value);
        if (!a || !b || a->type != YAML_SCALAR_NODE || b->type != YAML_SCALAR_NODE)
            return fail(L, a ? a : n, "expected string: string");
        if (!(ks[i] = scalar(L, a)) || !(vs[i] = scalar(L, b))) return nomem(L);
    }
    *keys = ks, *vals = vs, *cnt = (uint32_t)k;
    return VA_OK;
}

/* The event fields one top entry reads (its own, its items' and its conditions'). */
typedef struct partset {
    const char *v[VA_LOGSOURCE_MAX_PARTS];
    uint32_t n;
} partset;

static va_err part_of(sl *L, yaml_node_t *at, partset *ps, const char *name, uint32_t *idx) {
    for (uint32_t i = 0; i < ps->n; i++)
        if (!strcmp(ps->v[i], name)) {
            *idx = i;
            return VA_OK;
        }
    if (ps->n == VA_LOGSOURCE_MAX_PARTS)
        return fail(L, at, "a rule field reads at most 8 event fields");
    *idx = ps->n;
    ps->v[ps->n++] = name;
    return VA_OK;
}

/* `Field: value` or `Field: [values]` pairs of a map into conditions on parts of ps. */
static va_err conditions(sl *L, yaml_node_t *n, partset *ps, va_logsource_cond **out,
                         uint32_t *cnt) {
    if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top == n->data.mapping.pairs.start)
        return fail(L, n, "conditions are a map of event field: value (or list of values)");
    size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    va_logsource_cond *c = va_arena_alloc(L->a, k * sizeof *c);
    if (!c) return nomem(L);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *a = node(L, n->data.mapping.pairs.start[i].key);
        yaml_node_t *b = node(L, n->data.mapping.pairs.start[i].value);
        if (!a || !b || a->type != YAML_SCALAR_NODE)
            return fail(L, a ? a : n, "a condition is event field: value");
        const char *name = scalar(L, a);
        if (!name) return nomem(L);
        va_err e = part_of(L, a, ps, name, &c[i].part);
        if (!e) e = strings(L, b, &c[i].values, &c[i].nvalues);
        if (e) return e;
        if (!c[i].nvalues) return fail(L, b, "a condition needs at least one value");
    }
    *out = c, *cnt = (uint32_t)k;
    return VA_OK;
}

static va_err entry(sl *L, yaml_node_t *v, va_logsource_field *f, partset *ps, int depth);

/* The items of a join or of `first`: a list of entries. */
static va_err items(sl *L, yaml_node_t *n, va_logsource_field *f, partset *ps, int depth) {
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(L, n, "expected a list of fields (or conversions)");
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!k) return fail(L, n, "expected at least one field");
    f->items = va_arena_alloc(L->a, k * sizeof *f->items);
    if (!f->items) return nomem(L);
    memset(f->items, 0, k * sizeof *f->items);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = node(L, n->data.sequence.items.start[i]);
        if (!it) return fail(L, n, "broken list");
        f->items[i].name = "";
        va_err e = entry(L, it, &f->items[i], ps, depth + 1);
        if (e) return e;
    }
    f->nitems = (uint32_t)k;
    return VA_OK;
}

/* One entry of a route's field map (or an item of one): `Event` (a rename) or a map of
 * field, convert (hex, dword), map, prefix, join (with separator), first (with skip) and
 * when.  Event fields it reads are added to ps. */
static va_err entry(sl *L, yaml_node_t *v, va_logsource_field *f, partset *ps, int depth) {
    if (depth > 4) return fail(L, v, "conversions nest at most 4 deep");
    if (v->type == YAML_SCALAR_NODE) {
        if (!(f->field = scalar(L, v))) return nomem(L);
        return depth ? part_of(L, v, ps, f->field, &f->src) : VA_OK;
    }
    if (v->type != YAML_MAPPING_NODE)
        return fail(L, v,
                    "a field map entry is an event field name or a map (field, convert, "
                    "map, prefix, join, separator, first, skip, when)");
    int kinds = 0;
    yaml_node_t *skip = NULL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *pk = node(L, p->key), *pv = node(L, p->value);
        if (!pk || !pv) return fail(L, v, "broken field map entry");
        va_err e = VA_OK;
        if (key_is(pk, "field")) {
            if (!(f->field = scalar(L, pv))) return fail(L, pv, "field is an event field name");
            e = part_of(L, pv, ps, f->field, &f->src);
        } else if (key_is(pk, "convert")) {
            if (key_is(pv, "hex"))
                f->conv = VA_LOGSOURCE_HEX;
            else if (key_is(pv, "dword"))
                f->conv = VA_LOGSOURCE_DWORD;
            else
                return fail(L, pv, "convert takes hex or dword");
            kinds++;
        } else if (key_is(pk, "map")) {
            e = pairs(L, pv, &f->keys, &f->values, &f->nkeys);
            f->conv = VA_LOGSOURCE_MAP, kinds++;
        } else if (key_is(pk, "prefix")) {
            e = pairs(L, pv, &f->keys, &f->values, &f->nkeys);
            f->conv = VA_LOGSOURCE_PREFIX, kinds++;
        } else if (key_is(pk, "join")) {
            e = items(L, pv, f, ps, depth);
            f->conv = VA_LOGSOURCE_JOIN, kinds++;
        } else if (key_is(pk, "first")) {
            e = items(L, pv, f, ps, depth);
            f->conv = VA_LOGSOURCE_FIRST, kinds++;
        } else if (key_is(pk, "separator")) {
            if (!(f->sep = scalar(L, pv))) return fail(L, pv, "separator is a string");
        } else if (key_is(pk, "skip")) {
            skip = pv;
            e = strings(L, pv, &f->skip, &f->nskip);
        } else if (key_is(pk, "when")) {
            e = conditions(L, pv, ps, &f->when, &f->nwhen);
        } else {
            return fail(L, pk,
                        "unknown key in a field map entry (field, convert, map, prefix, "
                        "join, separator, first, skip, when)");
        }
        if (e) return e;
    }
    if (kinds > 1)
        return fail(L, v, "one conversion per field (convert, map, prefix, join or first)");
    if (f->conv == VA_LOGSOURCE_JOIN || f->conv == VA_LOGSOURCE_FIRST) {
        if (f->field) return fail(L, v, "join and first name their fields themselves: no field");
        f->field = ps->v[0];
    } else if (!f->field) {
        return fail(L, v, "a conversion needs the event field it reads (field)");
    }
    if (f->sep && f->conv != VA_LOGSOURCE_JOIN) return fail(L, v, "separator goes with join");
    if (!f->sep) f->sep = "";
    if (skip && f->conv != VA_LOGSOURCE_FIRST) return fail(L, skip, "skip goes with first");
    if (f->conv == VA_LOGSOURCE_RENAME && f->nwhen) f->conv = VA_LOGSOURCE_COPY;
    return VA_OK;
}

/* A top entry of a route's field map; a conversion lists the event fields it reads. */
static va_err field_entry(sl *L, yaml_node_t *k, yaml_node_t *v, va_logsource_field *f) {
    if (!(f->name = scalar(L, k))) return nomem(L);
    partset ps = {.n = 0};
    va_err e = entry(L, v, f, &ps, 0);
    if (e || f->conv == VA_LOGSOURCE_RENAME) return e;
    f->parts = va_arena_alloc(L->a, ps.n * sizeof *f->parts);
    if (!f->parts) return nomem(L);
    memcpy(f->parts, ps.v, ps.n * sizeof *f->parts);
    f->nparts = ps.n;
    return VA_OK;
}

/* A route's `conditions` as a TEST entry. */
static va_err route_test(sl *L, yaml_node_t *n, va_logsource_route *r) {
    va_logsource_field *t = va_arena_alloc(L->a, sizeof *t);
    if (!t) return nomem(L);
    memset(t, 0, sizeof *t);
    partset ps = {.n = 0};
    va_err e = conditions(L, n, &ps, &t->when, &t->nwhen);
    if (e) return e;
    t->name = "", t->sep = "", t->conv = VA_LOGSOURCE_TEST;
    t->parts = va_arena_alloc(L->a, ps.n * sizeof *t->parts);
    if (!t->parts) return nomem(L);
    memcpy(t->parts, ps.v, ps.n * sizeof *t->parts);
    t->nparts = ps.n;
    t->field = t->parts[0];
    r->test = t;
    return VA_OK;
}

static va_err route(sl *L, yaml_node_t *n, va_logsource_route *r) {
    memset(r, 0, sizeof *r);
    r->line = (uint32_t)n->start_mark.line + 1;
    if (n->type != YAML_MAPPING_NODE) return fail(L, n, "a route is a map");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (!k || !v) return fail(L, n, "broken route");
        va_err e = VA_OK;
        if (key_is(k, "channels")) {
            e = strings(L, v, &r->channels, &r->nchannels);
        } else if (key_is(k, "event_ids")) {
            const char **ids;
            uint32_t nids;
            if ((e = strings(L, v, &ids, &nids))) return e;
            r->event_ids = va_arena_alloc(L->a, (nids ? nids : 1) * sizeof *r->event_ids);
            if (!r->event_ids) return nomem(L);
            for (uint32_t i = 0; i < nids; i++) {
                char *end;
                errno = 0;
                long long x = strtoll(ids[i], &end, 10);
                if (!*ids[i] || *end || errno || x < 0) return fail(L, v, "event IDs are integers");
                r->event_ids[i] = x;
            }
            r->nevent_ids = nids;
        } else if (key_is(k, "fields")) {
            if (v->type != YAML_MAPPING_NODE)
                return fail(L, v, "fields is a map of rule field: event field (or conversion)");
            size_t nf = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            r->fields = va_arena_alloc(L->a, (nf ? nf : 1) * sizeof *r->fields);
            if (!r->fields) return nomem(L);
            memset(r->fields, 0, (nf ? nf : 1) * sizeof *r->fields);
            for (size_t i = 0; i < nf; i++) {
                yaml_node_pair_t *fp = &v->data.mapping.pairs.start[i];
                yaml_node_t *fk = node(L, fp->key), *fv = node(L, fp->value);
                if (!fk || fk->type != YAML_SCALAR_NODE || !fv)
                    return fail(L, fk ? fk : v, "a field map entry is rule field: event field");
                if ((e = field_entry(L, fk, fv, &r->fields[i]))) return e;
            }
            r->nfields = (uint32_t)nf;
        } else if (key_is(k, "conditions")) {
            e = route_test(L, v, r);
        } else if (key_is(k, "etw_provider")) {
            if (!(r->etw_provider = scalar(L, v))) return fail(L, v, "etw_provider is a string");
        } else {
            return fail(L, k,
                        "unknown key in a route (channels, event_ids, conditions, fields, "
                        "etw_provider)");
        }
        if (e) return e;
    }
    return VA_OK;
}

static int same_channel(const va_logsource_route *a, const va_logsource_route *b) {
    if (!a->nchannels || !b->nchannels) return 1;
    for (uint32_t i = 0; i < a->nchannels; i++)
        for (uint32_t j = 0; j < b->nchannels; j++)
            if (!strcasecmp(a->channels[i], b->channels[j])) return 1;
    return 0;
}

static int same_event_id(const va_logsource_route *a, const va_logsource_route *b) {
    if (!a->nevent_ids || !b->nevent_ids) return 1;
    for (uint32_t i = 0; i < a->nevent_ids; i++)
        for (uint32_t j = 0; j < b->nevent_ids; j++)
            if (a->event_ids[i] == b->event_ids[j]) return 1;
    return 0;
}

/* The engine picks a rule's route by channel and event ID alone, so a route with conditions
 * cannot share them with another route of its source: that route would never be tried. */
static va_err overlaps(sl *L, yaml_node_t *list, const va_logsource_source *s) {
    for (uint32_t j = 1; j < s->nroutes; j++)
        for (uint32_t i = 0; i < j; i++) {
            const va_logsource_route *a = &s->routes[i], *b = &s->routes[j];
            if ((!a->test && !b->test) || a->etw_provider || b->etw_provider) continue;
            if (!same_channel(a, b) || !same_event_id(a, b)) continue;
            yaml_node_t *at = node(L, list->data.sequence.items.start[j]);
            char msg[160];
            snprintf(msg, sizeof msg,
                     "this route and the one at line %u select the same channel and event ID, "
                     "and one has conditions",
                     a->line);
            return fail(L, at ? at : list, msg);
        }
    return VA_OK;
}

static va_err sources(sl *L, const char *product, const char *kind, yaml_node_t *n,
                      va_logsource_map *m, size_t *cap) {
    if (n->type != YAML_MAPPING_NODE) return fail(L, n, "expected a map of names to routes");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) return fail(L, n, "expected a name");
        if (v->type != YAML_SEQUENCE_NODE) return fail(L, v, "expected a list of routes");
        if (VA_ARENA_GROW(L->a, m->sources, *cap, m->nsources, (size_t)m->nsources + 1))
            return nomem(L);
        va_logsource_source *s = &m->sources[m->nsources];
        s->product = product, s->kind = kind;
        if (!(s->name = scalar(L, k))) return nomem(L);
        size_t nr = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        s->routes = va_arena_alloc(L->a, (nr ? nr : 1) * sizeof *s->routes);
        if (!s->routes) return nomem(L);
        for (size_t i = 0; i < nr; i++) {
            yaml_node_t *rn = node(L, v->data.sequence.items.start[i]);
            if (!rn) return fail(L, v, "broken route list");
            va_err e = route(L, rn, &s->routes[i]);
            if (e) return e;
        }
        s->nroutes = (uint32_t)nr;
        va_err e = overlaps(L, v, s);
        if (e) return e;
        m->nsources++;
    }
    return VA_OK;
}

va_err va_logsource_load_mem(va_arena *a, const char *file, const char *text, size_t len,
                             va_logsource_map **out, const char **err_msg) {
    sl L = {.a = a, .file = file, .code = VA_OK};
    *out = NULL;
    va_logsource_map *m = va_arena_alloc(a, sizeof *m);
    if (!m) return VA_ENOMEM;
    m->sources = NULL, m->nsources = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return VA_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(L.msg, sizeof L.msg, "%s:%lu:%lu: %s", file,
                 (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        if (err_msg) *err_msg = va_arena_strndup(a, L.msg, strlen(L.msg));
        return VA_EFORMAT;
    }
    L.doc = &doc;
    size_t cap = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        fail(&L, root, "expected a map of products");
    } else {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top && !L.code; p++) {
            yaml_node_t *k = node(&L, p->key), *v = node(&L, p->value);
            const char *product = scalar(&L, k);
            if (!product || !v || v->type != YAML_MAPPING_NODE) {
                fail(&L, k, "a product maps to categories and services");
                break;
            }
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
                 q < v->data.mapping.pairs.top && !L.code; q++) {
                yaml_node_t *qk = node(&L, q->key), *qv = node(&L, q->value);
                if (!qv)
                    fail(&L, v, "broken map");
                else if (key_is(qk, "categories"))
                    sources(&L, product, "category", qv, m, &cap);
                else if (key_is(qk, "services"))
                    sources(&L, product, "service", qv, m, &cap);
                else
                    fail(&L, qk, "expected categories or services");
            }
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (L.code) {
        if (err_msg) *err_msg = va_arena_strndup(a, L.msg, strlen(L.msg));
        return L.code;
    }
    *out = m;
    return VA_OK;
}

va_err va_logsource_load_file(va_arena *a, const char *path, va_logsource_map **out,
                              const char **err_msg) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    if (f) {
        buf = malloc(MAX_MAP_FILE);
        if (buf) n = fread(buf, 1, MAX_MAP_FILE, f);
    }
    int bad = !f || !buf || ferror(f) || n == MAX_MAP_FILE;
    int err = errno;
    if (f) fclose(f);
    if (bad) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %s", path,
                 !f     ? strerror(err)
                 : !buf ? "out of memory"
                        : "cannot read it (or over 4 MiB)");
        if (err_msg) *err_msg = va_arena_strndup(a, msg, strlen(msg));
        free(buf);
        return !buf && f ? VA_ENOMEM : VA_EIO;
    }
    va_err e = va_logsource_load_mem(a, path, buf, n, out, err_msg);
    free(buf);
    return e;
}

static const va_logsource_source *find(const va_logsource_map *m, const char *product,
                                       const char *kind, const char *name) {
    for (uint32_t i = 0; i < m->nsources; i++) {
        const va_logsource_source *s = &m->sources[i];
        if (!strcasecmp(s->product, product) && !strcmp(s->kind, kind) &&
            !strcasecmp(s->name, name))
            return s;
    }
    return NULL;
}

static int has_product(const va_logsource_map *m, const char *product) {
    for (uint32_t i = 0; i < m->nsources; i++)
        if (!strcasecmp(m->sources[i].product, product)) return 1;
    return 0;
}

static int channel_in(const va_logsource_route *r, const char *ch) {
    for (uint32_t i = 0; i < r->nchannels; i++)
        if (!strcasecmp(r->channels[i], ch)) return 1;
    return 0;
}

va_logsource_route *va_logsource_routes(const va_logsource_map *m, va_arena *a, const char *product,
                                        const char *category, const char *service, uint32_t *n,
                                        const char **unknown) {
    *n = 0;
    if (unknown) *unknown = NULL;
    if (!product) product = "windows"; /* Sigma's generic categories; only Windows is mapped */
    const va_logsource_source *cat = NULL, *svc = NULL;
    if (category && !(cat = find(m, product, "category", category))) {
        if (unknown) *unknown = category;
        return NULL;
    }
    if (service && !(svc = find(m, product, "service", service))) {
        if (unknown) *unknown = service;
        return NULL;
    }
    if (!cat && !svc) {
        if (!has_product(m, product)) {
            if (unknown) *unknown = product;
            return NULL;
        }
        va_logsource_route *r = va_arena_alloc(a, sizeof *r);
        if (!r) return NULL;
        memset(r, 0, sizeof *r); /* every event of the product */
        *n = 1;
        return r;
    }
    const va_logsource_source *base = cat ? cat : svc;
    va_logsource_route *out = va_arena_alloc(a, (base->nroutes ? base->nroutes : 1) * sizeof *out);
    if (!out) return NULL;
    uint32_t k = 0;
    for (uint32_t i = 0; i < base->nroutes; i++) {
        const va_logsource_route *r = &base->routes[i];
        if (cat && svc) {
            /* Both given: keep the category's routes whose channels the service names. */
            int keep = 0;
            for (uint32_t j = 0; j < svc->nroutes && !keep; j++)
                for (uint32_t c = 0; c < r->nchannels && !keep; c++)
                    keep = channel_in(&svc->routes[j], r->channels[c]);
            if (!keep) continue;
        }
        out[k++] = *r;
    }
    *n = k;
    return out;
}

int va_logsource_route_matches(const va_logsource_route *r, const char *channel, size_t channel_len,
                               int64_t event_id) {
    if (r->etw_provider) return 0;
    if (r->nevent_ids) { /* integers first: most events a route refuses, it refuses here */
        int ok = 0;
        for (uint32_t i = 0; i < r->nevent_ids && !ok; i++) ok = r->event_ids[i] == event_id;
        if (!ok) return 0;
    }
    if (r->nchannels) {
        for (uint32_t i = 0; i < r->nchannels; i++)
            if (channel && strlen(r->channels[i]) == channel_len &&
                !strncasecmp(r->channels[i], channel, channel_len))
                return 1;
        return 0;
    }
    return 1;
}

va_err va_logsource_load(va_arena *a, const char *path, va_logsource_map **out,
                         const char **err_msg) {
    if (path) return va_logsource_load_file(a, path, out, err_msg);
    size_t len;
    const char *y = va_logsource_default_yaml(&len);
    return va_logsource_load_mem(a, "logsources.yml (built in)", y, len, out, err_msg);
}

const va_logsource_field *va_logsource_field_of(const va_logsource_route *r, const char *name,
                                                size_t len) {
    for (uint32_t i = 0; r && i < r->nfields; i++)
        if (!strncmp(r->fields[i].name, name, len) && !r->fields[i].name[len]) return &r->fields[i];
    return NULL;
}

/* "0x1f4" (or "0X1F4") as "500"; 0 if s is not a hexadecimal number that fits 64 bits. */
static int hex_to_dec(const char *s, uint32_t n, va_buf *out) {
    if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return 0;
    uint64_t v = 0;
    for (uint32_t i = 2; i < n; i++) {
        int c = (unsigned char)s[i], d = c >= '0' && c <= '9'   ? c - '0'
                                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                : -1;
        if (d < 0) return 0;
        v = v * 16 + (uint64_t)d;
    }
    va_buf_u64(out, v);
    return 1;
}

/* Decimal text to "DWORD (0x%08x)", as Sysmon writes a REG_DWORD; 0 if it is not one. */
static int dword(const char *s, uint32_t n, va_buf *out) {
    if (!n || n > 10) return 0;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX) return 0;
    va_buf_printf(out, "DWORD (0x%08x)", (unsigned)v);
    return 1;
}

static int is_in(const char *s, uint32_t n, const char *const *set, uint32_t k) {
    for (uint32_t i = 0; i < k; i++)
        if (strlen(set[i]) == n && !strncasecmp(set[i], s, n)) return 1;
    return 0;
}

static void cut(va_buf *b, size_t len) {
    if (b->len <= len) return;
    b->len = len;
    if (b->cap) b->p[len] = 0;
}

/* What an entry gave: nothing (the rule field is absent), its value read as it is, or a value
 * it recognised (what `first` looks for). */
enum { GOT_NONE = 0, GOT_RAW, GOT_KNOWN };

static const char *const default_skip[] = {"", "-"};

/* Append f's value to out (nothing for GOT_NONE).  skip: the values that, for a plain field
 * inside `first`, mean "none". */
static int eval(const va_logsource_field *f, const char *const *val, const uint32_t *len,
                const char *const *skip, uint32_t nskip, va_buf *out) {
    for (uint32_t i = 0; i < f->nwhen; i++) {
        const va_logsource_cond *c = &f->when[i];
        if (!val[c->part] || !is_in(val[c->part], len[c->part], c->values, c->nvalues))
            return GOT_NONE;
    }
    size_t mark = out->len;
    if (f->conv == VA_LOGSOURCE_TEST) {
        va_buf_putc(out, '1');
        return GOT_KNOWN;
    }
    if (f->conv == VA_LOGSOURCE_JOIN) {
        int any = 0, put = 0, left_out = 0;
        for (uint32_t i = 0; i < f->nitems; i++) {
            size_t m = out->len;
            if (put) va_buf_puts(out, f->sep);
            size_t m2 = out->len;
            int r = eval(&f->items[i], val, len, default_skip, 2, out);
            any |= r != GOT_NONE;
            size_t got = out->len - m2;
            if (r == GOT_NONE || !got || (got == 1 && out->p[m2] == '-')) {
                cut(out, m);
                left_out = 1;
                continue;
            }
            put++;
        }
        if (!any) cut(out, mark);
        return !any ? GOT_NONE : put && !left_out ? GOT_KNOWN : GOT_RAW;
    }
    if (f->conv == VA_LOGSOURCE_FIRST) {
        const char *const *sk = f->nskip ? (const char *const *)f->skip : default_skip;
        uint32_t nsk = f->nskip ? f->nskip : 2;
        for (uint32_t i = 0; i + 1 < f->nitems; i++) {
            size_t m = out->len;
            if (eval(&f->items[i], val, len, sk, nsk, out) == GOT_KNOWN) return GOT_KNOWN;
            cut(out, m);
        }
        return eval(&f->items[f->nitems - 1], val, len, sk, nsk, out);
    }
    const char *s = val[f->src];
    uint32_t n = len[f->src];
    if (!s) return GOT_NONE;
    switch (f->conv) {
    case VA_LOGSOURCE_RENAME:
    case VA_LOGSOURCE_COPY:
        va_buf_put(out, s, n);
        return is_in(s, n, skip, nskip) ? GOT_RAW : GOT_KNOWN;
    case VA_LOGSOURCE_HEX:
        if (hex_to_dec(s, n, out)) return GOT_KNOWN;
        break;
    case VA_LOGSOURCE_DWORD:
        if (dword(s, n, out)) return GOT_KNOWN;
        break;
    case VA_LOGSOURCE_MAP:
        for (uint32_t i = 0; i < f->nkeys; i++)
            if (strlen(f->keys[i]) == n && !strncasecmp(f->keys[i], s, n)) {
                va_buf_puts(out, f->values[i]);
                return GOT_KNOWN;
            }
        break;
    case VA_LOGSOURCE_PREFIX:
        for (uint32_t i = 0; i < f->nkeys; i++) {
            size_t kl = strlen(f->keys[i]);
            if (kl <= n && !strncasecmp(f->keys[i], s, kl)) {
                va_buf_puts(out, f->values[i]);
                va_buf_put(out, s + kl, n - kl);
                return GOT_KNOWN;
            }
        }
        break;
    default:
        break;
    }
    va_buf_put(out, s, n); /* not recognised: read as it is */
    return GOT_RAW;
}

int va_logsource_convert(const va_logsource_field *f, const char *const *val, const uint32_t *len,
                         va_buf *out) {
    return eval(f, val, len, default_skip, 2, out) != GOT_NONE;
}
