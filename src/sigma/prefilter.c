/*
 * prefilter.c - the multi-literal matcher behind the Sigma prefilter (see prefilter.h).
 *
 * Hyperscan's literal API compiles all literals into one block-mode database scanned once per
 * event.  The automaton is a classic Aho-Corasick over ASCII-lowercased bytes: a trie whose
 * edges are kept sorted per node (binary search), failure links, and dictionary links to the
 * next node on the failure chain that ends a literal.  It is the portable fallback and the
 * second opinion in tests; it is not tuned like Hyperscan.
 */
#include "sigma/prefilter.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "core/hash.h"

#ifdef VAERN_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif

#define NONE UINT32_MAX

typedef struct edge {
    uint8_t c;
    uint32_t to;
} edge;

typedef struct acnode {
    uint32_t e0, ne; /* edges[e0..e0+ne), sorted by c */
    uint32_t fail;
    uint32_t out;  /* first literal ending here, NONE if none (more via same[]) */
    uint32_t dict; /* next node on the failure chain with out != NONE, 0 if none */
} acnode;

struct va_prefilter {
    va_prefilter_backend b;
    int cached; /* the Hyperscan database was loaded from the cache */
    /* automaton */
    acnode *node;
    uint32_t nnode;
    edge *edges;
    uint32_t *same; /* per literal id: next id with the same (lowercased) text, NONE */
    uint32_t root_next[256];
#ifdef VAERN_HAVE_HYPERSCAN
    hs_database_t *db;
#endif
};

struct va_prefilter_scratch {
#ifdef VAERN_HAVE_HYPERSCAN
    hs_scratch_t *hs;
#endif
    int unused;
};

static uint8_t lc(uint8_t c) {
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* ---- automaton construction -------------------------------------------------------------- */

static int edge_cmp(const void *a, const void *b) {
    const edge *x = a, *y = b;
    return (int)x->c - (int)y->c;
}

static uint32_t ac_next(const va_prefilter *p, uint32_t s, uint8_t c) {
    if (!s) return p->root_next[c];
    const edge *e = p->edges + p->node[s].e0;
    uint32_t lo = 0, hi = p->node[s].ne;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (e[mid].c < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->node[s].ne && e[lo].c == c ? e[lo].to : NONE;
}

static va_err ac_build(va_prefilter *p, const char *const *lits, const size_t *lens, uint32_t n) {
    size_t total = 1;
    for (uint32_t i = 0; i < n; i++) total += lens[i];
    if (total > UINT32_MAX / 4) return VA_ELIMIT;
    /* The trie is first built with child/sibling lists (most nodes have one child), then its
     * edges are laid out sorted per node. */
    uint32_t *child = malloc(total * sizeof *child), *sib = malloc(total * sizeof *sib);
    uint32_t *parent = malloc(total * sizeof *parent);
    uint8_t *pc = malloc(total);
    p->node = malloc(total * sizeof *p->node);
    p->same = malloc((n ? n : 1) * sizeof *p->same);
    va_err err = VA_ENOMEM;
    if (!child || !sib || !parent || !pc || !p->node || !p->same) goto out;
    uint32_t nn = 1;
    memset(&p->node[0], 0, sizeof p->node[0]);
    p->node[0].out = NONE;
    child[0] = NONE;
    for (int c = 0; c < 256; c++) p->root_next[c] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = 0;
        for (size_t j = 0; j < lens[i]; j++) {
            uint8_t c = lc((uint8_t)lits[i][j]);
            uint32_t t = NONE;
            if (!s) {
                if (p->root_next[c]) t = p->root_next[c];
            } else {
                for (t = child[s]; t != NONE && pc[t] != c; t = sib[t]) {}
            }
            if (t == NONE) {
                t = nn++;
                memset(&p->node[t], 0, sizeof p->node[t]);
                p->node[t].out = NONE;
                parent[t] = s, pc[t] = c, child[t] = NONE;
                sib[t] = child[s], child[s] = t;
                p->node[s].ne++;
                if (!s) p->root_next[c] = t;
            }
            s = t;
        }
        p->same[i] = p->node[s].out; /* duplicates chain through same[] */
        p->node[s].out = i;
    }
    p->nnode = nn;
    if (!(p->edges = malloc((nn ? nn : 1) * sizeof *p->edges))) goto out;
    uint32_t off = 0;
    for (uint32_t s = 0; s < nn; s++) {
        p->node[s].e0 = off;
        uint32_t k = 0;
        for (uint32_t t = child[s]; t != NONE; t = sib[t]) p->edges[off + k++] = (edge){pc[t], t};
        if (k > 1) qsort(p->edges + off, k, sizeof(edge), edge_cmp);
        off += k;
    }
    /* Failure and dictionary links, breadth first (child[] reused as the queue). */
    uint32_t *q = child, qh = 0, qt = 0;
    for (uint32_t k = 0; k < p->node[0].ne; k++) {
        uint32_t s = p->edges[p->node[0].e0 + k].to;
        p->node[s].fail = 0, p->node[s].dict = 0;
        q[qt++] = s;
    }
    while (qh < qt) {
        uint32_t r = q[qh++];
        for (uint32_t k = 0; k < p->node[r].ne; k++) {
            const edge *e = &p->edges[p->node[r].e0 + k];
            uint32_t f = p->node[r].fail, t;
            while ((t = ac_next(p, f, e->c)) == NONE) f = p->node[f].fail;
            p->node[e->to].fail = t;
            p->node[e->to].dict = p->node[t].out != NONE ? t : p->node[t].dict;
            q[qt++] = e->to;
        }
    }
    err = VA_OK;
out:
    free(child);
    free(sib);
    free(parent);
    free(pc);
    return err;
}

static void ac_scan(const va_prefilter *p, const char *text, size_t n, va_prefilter_hit_fn fn,
                    void *ud) {
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = lc((uint8_t)text[i]);
        uint32_t t;
        while ((t = ac_next(p, s, c)) == NONE) s = p->node[s].fail;
        s = t;
        for (uint32_t o = p->node[s].out != NONE ? s : p->node[s].dict; o; o = p->node[o].dict)
            for (uint32_t id = p->node[o].out; id != NONE; id = p->same[id]) fn(ud, id, i + 1);
    }
}

/* ---- Hyperscan --------------------------------------------------------------------------- */

#ifdef VAERN_HAVE_HYPERSCAN
static va_err hs_build(va_prefilter *p, const char *const *lits, const size_t *lens, uint32_t n,
                       const char **why) {
    unsigned *flags = malloc((n ? n : 1) * sizeof *flags);
    unsigned *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!flags || !ids) {
        free(flags);
        free(ids);
        return VA_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) flags[i] = HS_FLAG_CASELESS, ids[i] = i;
    hs_compile_error_t *ce = NULL;
    hs_error_t rc =
        hs_compile_lit_multi(lits, flags, ids, lens, n, HS_MODE_BLOCK, NULL, &p->db, &ce);
    free(flags);
    free(ids);
    if (rc != HS_SUCCESS) {
        *why = "Hyperscan could not compile the literals";
        if (ce) hs_free_compile_error(ce);
        return VA_EFORMAT;
    }
    return VA_OK;
}

/* ---- the database cache ------------------------------------------------------------------- */

#define CACHE_MAGIC "VAERNHS5" /* 4: keys and checksums with core/hash.h; 5: va_hash_sum */

/* Checksum of the stored database: a damaged file is rebuilt, never handed to Hyperscan. */
static uint64_t bytes_sum(const char *b, size_t n) {
    return va_hash_sum(b, n, 0x5eed);
}

/* Feed n bytes to two independently seeded hashes (a 128-bit key: no collisions to fear). */
static void key_mix(uint64_t h[2], const void *p, size_t n) {
    h[0] = va_hash_mem(p, n, h[0]);
    h[1] = va_hash_mem(p, n, h[1] ^ 0x9E3779B97F4A7C15ull);
}

/* Everything that shapes the database: Hyperscan's version, the platform, the literals. */
static void cache_key(const char *const *lits, const size_t *lens, uint32_t n, uint64_t key[2]) {
    uint64_t h[2] = {1, 2};
    const char *ver = hs_version();
    hs_platform_info_t pl;
    memset(&pl, 0, sizeof pl);
    hs_populate_platform(&pl);
    key_mix(h, ver, strlen(ver));
    key_mix(h, &pl, sizeof pl);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t l = lens[i];
        key_mix(h, &l, sizeof l);
        key_mix(h, lits[i], lens[i]);
    }
    key[0] = h[0] ^ (h[0] >> 29), key[1] = h[1] ^ (h[1] >> 31);
}

static char *cache_path(const char *dir, const uint64_t key[2]) {
    size_t n = strlen(dir) + 64;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/prefilter-%016llx%016llx.hsdb", dir, (unsigned long long)key[0],
                 (unsigned long long)key[1]);
    return p;
}

/* Load the database for key from the cache; 0 on success. */
static int cache_load(va_prefilter *p, const char *path, const uint64_t key[2]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[8];
    uint64_t k[2], len, sum;
    char *buf = NULL;
    int rc = -1;
    if (fread(magic, 1, 8, f) == 8 && !memcmp(magic, CACHE_MAGIC, 8) && fread(k, 8, 2, f) == 2 &&
        k[0] == key[0] && k[1] == key[1] && fread(&len, 8, 1, f) == 1 &&
        fread(&sum, 8, 1, f) == 1 && len > 0 && len < (1ull << 31) && (buf = malloc(len)) &&
        fread(buf, 1, len, f) == len && fgetc(f) == EOF && bytes_sum(buf, len) == sum &&
        hs_deserialize_database(buf, len, &p->db) == HS_SUCCESS)
        rc = 0;
    free(buf);
    fclose(f);
    return rc;
}

#define CACHE_KEEP 64 /* databases kept (a rule set has one per scan group); older ones go */

/* Remove all but the CACHE_KEEP most recently used databases in dir. */
static void cache_prune(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct ent {
        char name[80];
        time_t t;
    } v[CACHE_KEEP + 1];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "prefilter-", 10) || l < 6 || l >= sizeof v[0].name ||
            strcmp(de->d_name + l - 5, ".hsdb"))
            continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &sb)) continue;
        /* keep the CACHE_KEEP newest in v (sorted newest first); delete what falls off */
        struct ent x;
        memcpy(x.name, de->d_name, l + 1);
        x.t = sb.st_mtime > sb.st_atime ? sb.st_mtime : sb.st_atime;
        size_t i = n < CACHE_KEEP + 1 ? n++ : CACHE_KEEP;
        v[i] = x;
        while (i > 0 && v[i - 1].t < v[i].t) {
            struct ent t = v[i - 1];
            v[i - 1] = v[i], v[i] = t;
            i--;
        }
        if (n == CACHE_KEEP + 1) {
            snprintf(path, sizeof path, "%s/%s", dir, v[CACHE_KEEP].name);
            unlink(path);
            n = CACHE_KEEP;
        }
    }
    closedir(d);
}

/* Store p's database under key; failures only cost the next run a compile. */
static void cache_store(const va_prefilter *p, const char *dir, const char *path,
                        const uint64_t key[2]) {
    char *bytes = NULL;
    size_t len = 0;
    if (hs_serialize_database(p->db, &bytes, &len) != HS_SUCCESS) return;
    mkdir(dir, 0700);
    size_t tn = strlen(path) + 64;
    char *tmp = malloc(tn);
    if (tmp) {
        /* the process and the thread: databases of one rule set are stored from several */
        snprintf(tmp, tn, "%s.%ld.%lx.tmp", path, (long)getpid(), (unsigned long)pthread_self());
        FILE *f = fopen(tmp, "wb");
        uint64_t l = len, sum = bytes_sum(bytes, len);
        int ok = f && fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(key, 8, 2, f) == 2 &&
                 fwrite(&l, 8, 1, f) == 1 && fwrite(&sum, 8, 1, f) == 1 &&
                 fwrite(bytes, 1, len, f) == len;
        if (f && fclose(f)) ok = 0;
        if (!ok || rename(tmp, path)) unlink(tmp); /* rename: readers never see half a file */
        free(tmp);
        cache_prune(dir);
    }
    free(bytes); /* hs_serialize_database allocates with the default allocator, malloc */
}

typedef struct hsctx {
    va_prefilter_hit_fn fn;
    void *ud;
} hsctx;

static int hs_on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                       void *ctx) {
    (void)from, (void)fl;
    hsctx *c = ctx;
    c->fn(c->ud, id, (size_t)to);
    return 0;
}
#endif

/* ---- API --------------------------------------------------------------------------------- */

va_err va_prefilter_new(const char *const *lits, const size_t *lens, uint32_t n,
                        va_prefilter_backend b, const char *cache_dir, va_prefilter **out,
                        const char **why) {
    static const char *dummy;
    if (!why) why = &dummy;
    *out = NULL;
#ifdef VAERN_HAVE_HYPERSCAN
    if (b == VA_PREFILTER_AUTO)
        b = n ? VA_PREFILTER_HYPERSCAN : VA_PREFILTER_AUTOMATON; /* hs needs >= 1 literal */
    if (b == VA_PREFILTER_HYPERSCAN && !n) b = VA_PREFILTER_AUTOMATON;
#else
    if (b == VA_PREFILTER_AUTO) b = VA_PREFILTER_AUTOMATON;
    if (b == VA_PREFILTER_HYPERSCAN) {
        *why = "vaern was built without Hyperscan";
        return VA_EUNSUPPORTED;
    }
#endif
    va_prefilter *p = calloc(1, sizeof *p);
    if (!p) return VA_ENOMEM;
    p->b = b;
    va_err err;
#ifdef VAERN_HAVE_HYPERSCAN
    if (b == VA_PREFILTER_HYPERSCAN) {
        uint64_t key[2];
        char *path = NULL;
        if (cache_dir && *cache_dir) {
            cache_key(lits, lens, n, key);
            path = cache_path(cache_dir, key);
        }
        if (path && !cache_load(p, path, key)) {
            p->cached = 1;
            utime(path, NULL); /* recently used: pruning keeps it */
            err = VA_OK;
        } else {
            err = hs_build(p, lits, lens, n, why);
            if (!err && path) cache_store(p, cache_dir, path, key);
        }
        free(path);
    } else
#else
    (void)cache_dir;
#endif
        err = ac_build(p, lits, lens, n);
    if (err) {
        va_prefilter_free(p);
        return err;
    }
    *out = p;
    return VA_OK;
}

void va_prefilter_free(va_prefilter *p) {
    if (!p) return;
#ifdef VAERN_HAVE_HYPERSCAN
    if (p->db) hs_free_database(p->db);
#endif
    free(p->node);
    free(p->edges);
    free(p->same);
    free(p);
}

int va_prefilter_from_cache(const va_prefilter *p) {
    return p->cached;
}

const char *va_prefilter_backend_name(const va_prefilter *p) {
    return p->b == VA_PREFILTER_HYPERSCAN ? "hyperscan" : "automaton";
}

va_prefilter_scratch *va_prefilter_scratch_new(const va_prefilter *p) {
    va_prefilter_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
#ifdef VAERN_HAVE_HYPERSCAN
    if (p->db && hs_alloc_scratch(p->db, &s->hs) != HS_SUCCESS) {
        free(s);
        return NULL;
    }
#else
    (void)p;
#endif
    return s;
}

void va_prefilter_scratch_free(va_prefilter_scratch *s) {
    if (!s) return;
#ifdef VAERN_HAVE_HYPERSCAN
    if (s->hs) hs_free_scratch(s->hs);
#endif
    free(s);
}

int va_prefilter_scan(const va_prefilter *p, va_prefilter_scratch *s, const char *text, size_t n,
                      va_prefilter_hit_fn fn, void *ud) {
#ifdef VAERN_HAVE_HYPERSCAN
    if (p->b == VA_PREFILTER_HYPERSCAN) {
        if (n > UINT32_MAX) return -1;
        hsctx c = {fn, ud};
        return hs_scan(p->db, text, (unsigned)n, 0, s->hs, hs_on_match, &c) == HS_SUCCESS ? 0 : -1;
    }
#endif
    (void)s;
    ac_scan(p, text, n, fn, ud);
    return 0;
}
