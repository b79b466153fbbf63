/*
 * rule.c - Sigma rule loader: YAML documents (libyaml's event API) into the va_rule model.
 *
 * Owns the mapping from YAML to rules: libyaml's events composed into a compact tree of
 * nodes (three growing arrays reused from file to file, instead of libyaml's document API and
 * its allocations per node), then metadata, logsource, detection (search identifiers and
 * conditions, the latter handed to cond.c), filter and correlation sections read from it; the
 * cache of those trees that lets a folder load again without libyaml; and the folder walk
 * (over core/walk.h).  The walk over a document follows the Sigma schema rather
 * than recursing generically, so YAML aliases (even cyclic ones) cannot make it recurse without
 * bound; a per-document element budget bounds the work aliases can multiply.
 */
#include "sigma/rule.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "core/array.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/walk.h"

#define MAX_FILE     (16u << 20) /* rule files are a few KiB; anything this big is not one */
#define MAX_ELEMENTS 1000000u    /* fields + values per document */

/* ---- YAML: libyaml's events composed into a tree ------------------------------------------- */

enum { Y_SCALAR = 1, Y_SEQ, Y_MAP };
/* A node's tag as far as typing goes: none written, a core-schema type, or any other tag. */
enum { YT_NONE = 0, YT_NULL, YT_INT, YT_FLOAT, YT_BOOL, YT_OTHER };

typedef struct ynode {
    uint8_t type, style, tag; /* style: a scalar's yaml_scalar_style_t */
    uint32_t line, col;       /* start, 0-based (libyaml's marks) */
    uint32_t end_line;        /* where a scalar ends (condition positions) */
    /* scalar: n bytes at text + off (NUL after); sequence: n items at kids + off; map: n
     * pairs (key, value) at kids + off */
    uint32_t off, n;
} ynode;

typedef struct yanchor {
    uint32_t name, len; /* in text */
    uint32_t node;
    yaml_mark_t mark;
} yanchor;

/* An open collection: its node and where its children start in pend. */
typedef struct yopen {
    uint32_t node;
    size_t pend;
} yopen;

/* One file's YAML stream as a tree.  The arrays are kept from file to file (reset, not freed),
 * so a loader thread allocates only while its largest file grows them. */
typedef struct ytree {
    ynode *nodes;
    size_t nn, capn;
    uint32_t *kids; /* children of every closed collection, each collection's contiguous */
    size_t nk, capk;
    char *text; /* scalar values and anchor names, each NUL-terminated */
    size_t nt, capt;
    uint32_t *pend; /* children of the open collections, innermost last */
    size_t np, capp;
    yopen *open;
    size_t no, capo;
    yanchor *anch; /* anchors of the current document */
    size_t na, capa;
    va_hash anchors; /* name -> anch entry */
    uint32_t *docs;  /* root of each complete document, in stream order */
    size_t nd, capd;
    size_t nn_done, nk_done, nt_done; /* nodes, children, text of the complete documents */
    /* the stream's first YAML error (the documents before it stand, and those after the
     * next `---` line: y_parse resumes there), with later ones added to msg */
    va_err code;
    uint32_t line, col;
    char msg[320];
    uint32_t base_line; /* line of the piece being parsed (libyaml's marks start at 0) */
} ytree;

static void ytree_free(ytree *t) {
    free(t->nodes), free(t->kids), free(t->text), free(t->pend), free(t->open), free(t->anch);
    free(t->docs);
    va_hash_free(&t->anchors);
    memset(t, 0, sizeof *t);
}

static int y_fail(ytree *t, va_err code, yaml_mark_t m, const char *problem, const char *context) {
    uint32_t line = t->base_line + (uint32_t)m.line + 1;
    if (t->code) { /* a later error (after a resumption): added to the first one's message */
        size_t n = strlen(t->msg);
        if (n + 24 < sizeof t->msg)
            snprintf(t->msg + n, sizeof t->msg - n, "; also at %u:%u: %s%s%s", line,
                     (uint32_t)m.column + 1, problem ? problem : "error", context ? " " : "",
                     context ? context : "");
        return -1;
    }
    snprintf(t->msg, sizeof t->msg, "YAML: %s%s%s", problem ? problem : "error", context ? " " : "",
             context ? context : "");
    t->code = code;
    t->line = line;
    t->col = (uint32_t)m.column + 1;
    return -1;
}

static int y_nomem(ytree *t, yaml_mark_t m) {
    return y_fail(t, VA_ENOMEM, m, "out of memory", NULL);
}

/* Copy s[0..n) and a NUL into the text store; its offset goes to *off. */
static int y_text(ytree *t, const char *s, size_t n, uint32_t *off, yaml_mark_t m) {
    if (n >= UINT32_MAX || t->nt + n + 1 > UINT32_MAX)
        return y_fail(t, VA_ELIMIT, m, "more than 4 GiB of text in one file", NULL);
    if (VA_ARRAY_GROW(t->text, t->capt, t->nt + n + 1)) return y_nomem(t, m);
    if (n) memcpy(t->text + t->nt, s, n);
    t->text[t->nt + n] = 0;
    *off = (uint32_t)t->nt;
    t->nt += n + 1;
    return 0;
}

/* Node idx is the next child of the innermost open collection, or the document's root. */
static int y_child(ytree *t, uint32_t idx, uint32_t *root, yaml_mark_t m) {
    if (!t->no) return *root = idx, 0;
    if (VA_ARRAY_GROW(t->pend, t->capp, t->np + 1)) return y_nomem(t, m);
    t->pend[t->np++] = idx;
    return 0;
}

static int y_tag(const yaml_char_t *tag) {
    static const char base[] = "tag:yaml.org,2002:";
    const char *s = (const char *)tag;
    if (!s) return YT_NONE;
    if (strncmp(s, base, sizeof base - 1)) return YT_OTHER;
    s += sizeof base - 1;
    return !strcmp(s, "null")    ? YT_NULL
           : !strcmp(s, "int")   ? YT_INT
           : !strcmp(s, "float") ? YT_FLOAT
           : !strcmp(s, "bool")  ? YT_BOOL
                                 : YT_OTHER;
}

/* A new node from a scalar or collection-start event, with its anchor registered the way
 * libyaml's composer does (at the start, so an alias inside a collection may point to it). */
static int y_node(ytree *t, const yaml_event_t *e, int type, const yaml_char_t *tag,
                  const yaml_char_t *anchor, uint32_t *idx) {
    if (t->nn >= UINT32_MAX - 1)
        return y_fail(t, VA_ELIMIT, e->start_mark, "more than 4 G nodes in one file", NULL);
    if (VA_ARRAY_GROW(t->nodes, t->capn, t->nn + 1)) return y_nomem(t, e->start_mark);
    ynode *n = &t->nodes[t->nn];
    memset(n, 0, sizeof *n);
    n->type = (uint8_t)type;
    n->tag = (uint8_t)y_tag(tag);
    n->line = t->base_line + (uint32_t)e->start_mark.line;
    n->col = (uint32_t)e->start_mark.column;
    n->end_line = t->base_line + (uint32_t)e->end_mark.line;
    *idx = (uint32_t)t->nn++;
    if (!anchor) return 0;
    size_t len = strlen((const char *)anchor);
    uint64_t h = va_hash_mem(anchor, len, 0);
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&t->anchors, h, &it); i != VA_HASH_END;
         i = va_hash_next(&t->anchors, &it))
        if (t->anch[i].len == len && !memcmp(t->text + t->anch[i].name, anchor, len))
            return y_fail(t, VA_EFORMAT, e->start_mark, "second occurrence",
                          "found duplicate anchor; first occurrence");
    uint32_t name;
    if (y_text(t, (const char *)anchor, len, &name, e->start_mark)) return -1;
    if (VA_ARRAY_GROW(t->anch, t->capa, t->na + 1) ||
        va_hash_insert(&t->anchors, h, (uint32_t)t->na))
        return y_nomem(t, e->start_mark);
    t->anch[t->na++] = (yanchor){name, (uint32_t)len, *idx, e->start_mark};
    return 0;
}

static int y_alias(ytree *t, const yaml_event_t *e, uint32_t *root) {
    const char *name = (const char *)e->data.alias.anchor;
    size_t len = strlen(name);
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&t->anchors, va_hash_mem(name, len, 0), &it); i != VA_HASH_END;
         i = va_hash_next(&t->anchors, &it))
        if (t->anch[i].len == len && !memcmp(t->text + t->anch[i].name, name, len))
            return y_child(t, t->anch[i].node, root, e->start_mark);
    return y_fail(t, VA_EFORMAT, e->start_mark, "found undefined alias", NULL);
}

/* The collection that ends: its children move from pend to kids, and it becomes a child. */
static int y_close(ytree *t, const yaml_event_t *e, uint32_t *root) {
    yopen o = t->open[--t->no];
    size_t cnt = t->np - o.pend;
    if (t->nk + cnt >= UINT32_MAX)
        return y_fail(t, VA_ELIMIT, e->start_mark, "more than 4 G nodes in one file", NULL);
    if (VA_ARRAY_GROW(t->kids, t->capk, t->nk + cnt)) return y_nomem(t, e->start_mark);
    if (cnt) memcpy(t->kids + t->nk, t->pend + o.pend, cnt * sizeof *t->kids);
    ynode *n = &t->nodes[o.node];
    n->off = (uint32_t)t->nk;
    n->n = (uint32_t)(n->type == Y_MAP ? cnt / 2 : cnt);
    t->nk += cnt;
    t->np = o.pend;
    return y_child(t, o.node, root, e->start_mark);
}

/* One event into the tree. */
static int y_event(ytree *t, const yaml_event_t *e, uint32_t *root) {
    uint32_t idx;
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        t->na = 0;
        va_hash_clear(&t->anchors);
        *root = UINT32_MAX;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        if (VA_ARRAY_GROW(t->docs, t->capd, t->nd + 1)) return y_nomem(t, e->start_mark);
        t->docs[t->nd++] = *root;
        t->nn_done = t->nn, t->nk_done = t->nk, t->nt_done = t->nt;
        return 0;
    case YAML_ALIAS_EVENT:
        return y_alias(t, e, root);
    case YAML_SCALAR_EVENT: {
        if (y_node(t, e, Y_SCALAR, e->data.scalar.tag, e->data.scalar.anchor, &idx)) return -1;
        uint32_t off;
        if (y_text(t, (const char *)e->data.scalar.value, e->data.scalar.length, &off,
                   e->start_mark))
            return -1;
        ynode *n = &t->nodes[idx];
        n->style = (uint8_t)e->data.scalar.style;
        n->off = off;
        n->n = (uint32_t)e->data.scalar.length;
        return y_child(t, idx, root, e->start_mark);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = e->type == YAML_SEQUENCE_START_EVENT;
        if (y_node(t, e, seq ? Y_SEQ : Y_MAP,
                   seq ? e->data.sequence_start.tag : e->data.mapping_start.tag,
                   seq ? e->data.sequence_start.anchor : e->data.mapping_start.anchor, &idx))
            return -1;
        if (VA_ARRAY_GROW(t->open, t->capo, t->no + 1)) return y_nomem(t, e->start_mark);
        t->open[t->no++] = (yopen){idx, t->np};
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return y_close(t, e, root);
    default: /* stream start and end */
        return 0;
    }
}

/* Where parsing can resume after a syntax error at text[at]: the start of the next line that
 * is a document marker (`---` alone or followed by a space), or len if there is none. */
static size_t y_resume(const char *text, size_t len, size_t at) {
    for (size_t i = at; i + 4 <= len; i++) {
        if (text[i] != '\n' || memcmp(text + i + 1, "---", 3)) continue;
        if (i + 4 == len || strchr(" \t\r\n", text[i + 4])) return i + 1;
    }
    return len;
}

/* Parse text[0..len) into t (reset first): every complete document, and the first error with
 * later ones in its message.  libyaml cannot resume after a syntax error, so a fresh parser
 * starts at the next document marker: a broken rule in a multi-rule file costs that rule, not
 * the ones after it.  -1 if there is no memory for a parser at all. */
static int y_parse(ytree *t, const char *text, size_t len) {
    t->nn = t->nk = t->nt = t->np = t->no = t->na = t->nd = 0;
    t->nn_done = t->nk_done = t->nt_done = 0;
    va_hash_clear(&t->anchors);
    t->code = VA_OK;
    t->base_line = 0;
    for (size_t start = 0;;) {
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser)) return -1;
        yaml_parser_set_input_string(&parser, (const unsigned char *)text + start, len - start);
        uint32_t root = UINT32_MAX;
        va_err before = t->code;
        size_t fail_at = SIZE_MAX; /* where in the piece this piece's error is */
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&parser, &e)) {
                y_fail(t, parser.error == YAML_MEMORY_ERROR ? VA_ENOMEM : VA_EFORMAT,
                       parser.problem_mark, parser.problem, parser.context);
                fail_at = parser.error == YAML_MEMORY_ERROR ? SIZE_MAX : parser.problem_mark.index;
                break;
            }
            int rc = y_event(t, &e, &root), end = e.type == YAML_STREAM_END_EVENT;
            if (rc) fail_at = t->code == VA_EFORMAT ? e.start_mark.index : SIZE_MAX;
            yaml_event_delete(&e);
            if (rc || end) break;
        }
        yaml_parser_delete(&parser);
        /* The document the error cut short is dropped (a node of it may be half made). */
        if (t->code == before && fail_at == SIZE_MAX) break; /* the piece ended cleanly */
        t->nn = t->nn_done, t->nk = t->nk_done, t->nt = t->nt_done;
        t->np = t->no = t->na = 0;
        if (fail_at == SIZE_MAX) break; /* out of memory or a bound: no resuming */
        /* From the line of the error on: libyaml may place an unclosed collection's error on
         * the marker line that follows it. */
        size_t from = start + fail_at;
        while (from > start && text[from - 1] != '\n') from--;
        size_t next = y_resume(text, len, from > start ? from - 1 : start);
        if (next <= start) next = y_resume(text, len, start + 1);
        if (next >= len) break;
        for (size_t i = start; i < next; i++) t->base_line += text[i] == '\n';
        start = next;
    }
    return 0;
}

/* A parsed stream as the schema walk reads it: a tree just parsed, or an entry of the cache. */
typedef struct yview {
    const ynode *nodes;
    const uint32_t *kids;
    const char *text;
    const uint32_t *docs;
    size_t nd;
    va_err code; /* the YAML error after the documents, if any */
    uint32_t line, col;
    const char *msg;
} yview;

static yview y_view(const ytree *t) {
    return (yview){t->nodes, t->kids, t->text, t->docs, t->nd, t->code, t->line, t->col, t->msg};
}

/* ---- the cache of parsed streams ------------------------------------------------------------
 *
 * libyaml's scanner is most of the cost of loading (about 85% of the instructions for SigmaHQ),
 * and rule folders change little between runs, so va_rule_load_paths can keep every file's
 * parsed stream (the tree above: nodes, children, documents, text, and the YAML error) in one
 * pack per list of rule paths, keyed by the file's bytes, and take it from there next time
 * instead of parsing.  The schema walk runs either way, on the same tree, so a rule and every
 * report are the same with and without the cache.  A pack is only ever a shortcut: one that is
 * missing, damaged, of another format or another libyaml is not used (and replaced), an entry
 * is checked (sum and bounds) before the walk reads it, and writing one that fails costs the
 * next run a parse.  A pack is written (to a temporary name, then renamed) when the run parsed
 * a file, did not use every entry or saw other file stamps, so it holds the current files
 * only; the YC_KEEP most recently written packs are kept.
 *
 * Even from the pack, a file's bytes had to be read and hashed to find its entry: with SigmaHQ
 * that was most of a cached load (open, read and close of 3,780 files, and 19 MB hashed).  So
 * the pack also keeps a stamp per file (device, inode, size, modification and change times,
 * what stat says) pointing at its entry, and a file whose stamp is unchanged is taken without
 * being opened.  Only files that were settled when the pack's run started get a stamp: their
 * change time was YC_SETTLED_NS before it.  A later write to such a file sets its change time
 * to a moment after that start, which the stamp cannot match however coarse the file system's
 * clock (up to YC_SETTLED_NS); the change time cannot be set back from user space.  The rare
 * file written just before a run is read by content, as before, until a later run stamps it.
 */

#define YC_MAGIC      "VAERNYC4" /* changes with the format (2: resumption; 3, 4: stamps) */
#define YC_KEEP       8
#define YC_MAX        (1u << 30) /* a pack this big is not read or written */
#define YC_SETTLED_NS 2000000000ll

typedef struct yc_head {
    char magic[8];
    char yaml[16];         /* libyaml's version string: the parse is its */
    uint32_t node_size, n; /* sizeof(ynode); entries */
    uint64_t len;          /* bytes of entries after the header */
    uint64_t nstamps;      /* stamps after the entries */
    uint64_t stamp_sum;    /* va_hash_sum of the stamps */
} yc_head;

/* What stat says of a rule file: equal stamps, the same bytes (see above). */
typedef struct yc_stamp {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} yc_stamp;

/* A stamp in the pack: the file's, and which entry is its stream (0 the first in the pack). */
typedef struct yc_stamped {
    yc_stamp st;
    uint64_t entry;
} yc_stamped;

static void yc_stamp_of(const struct stat *sb, yc_stamp *st) {
    st->dev = (uint64_t)sb->st_dev, st->ino = (uint64_t)sb->st_ino;
    st->size = (uint64_t)sb->st_size;
    st->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000ll + sb->st_mtim.tv_nsec;
    st->ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000ll + sb->st_ctim.tv_nsec;
}

static uint64_t yc_stamp_hash(const yc_stamp *st) {
    return va_hash_u64(va_hash_u64(0, st->dev), st->ino);
}

static int yc_stamp_eq(const yc_stamp *a, const yc_stamp *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* An entry, followed by nodes[nn], kids[nk], docs[nd], text[nt], msg[nmsg], zeros to 8. */
typedef struct yc_entry {
    uint64_t key[2]; /* the file's bytes, hashed with two seeds */
    uint64_t len;    /* the file's length */
    uint64_t sum;    /* va_hash_mem of the entry from nn to its end */
    uint32_t nn, nk, nd, nt;
    uint32_t code, line, col, nmsg; /* the YAML error (code 0: none), its message with its NUL */
} yc_entry;

static void yc_key(const char *text, size_t len, uint64_t key[2]) {
    key[0] = va_hash_sum(text, len, 0);
    key[1] = va_hash_sum(text, len, 0x5bd1e9955bd1e995ull);
}

static uint64_t yc_body(const yc_entry *e) {
    uint64_t n = (uint64_t)e->nn * sizeof(ynode) + ((uint64_t)e->nk + e->nd) * 4 + e->nt + e->nmsg;
    return (n + 7) & ~(uint64_t)7;
}

/* Bytes from nn to the end of entry e (what its sum covers). */
static uint64_t yc_summed(const yc_entry *e) {
    return sizeof *e - offsetof(yc_entry, nn) + yc_body(e);
}

/* Append t, parsed from a file whose bytes have key and len, as an entry to out.  Streams that
 * ended for want of memory or over a limit are not kept: they say nothing about the file. */
static void yc_put(va_buf *out, const uint64_t key[2], size_t len, const ytree *t) {
    if (t->code && t->code != VA_EFORMAT) return;
    size_t nmsg = t->code ? strlen(t->msg) + 1 : 0;
    yc_entry e = {.key = {key[0], key[1]},
                  .len = len,
                  .nn = (uint32_t)t->nn,
                  .nk = (uint32_t)t->nk,
                  .nd = (uint32_t)t->nd,
                  .nt = (uint32_t)t->nt,
                  .code = (uint32_t)t->code,
                  .line = t->line,
                  .col = t->col,
                  .nmsg = (uint32_t)nmsg};
    uint64_t size = sizeof e + yc_body(&e);
    if (t->nd > UINT32_MAX || size > YC_MAX || va_buf_reserve(out, (size_t)size)) return;
    size_t at = out->len;
    static const char zeros[8];
    va_buf_put(out, &e, sizeof e);
    /* an empty array may have no memory yet */
    if (t->nn) va_buf_put(out, t->nodes, t->nn * sizeof *t->nodes);
    if (t->nk) va_buf_put(out, t->kids, t->nk * sizeof *t->kids);
    if (t->nd) va_buf_put(out, t->docs, t->nd * sizeof *t->docs);
    if (t->nt) va_buf_put(out, t->text, t->nt);
    va_buf_put(out, t->msg, nmsg);
    va_buf_put(out, zeros, (size_t)(at + size - out->len));
    uint64_t sum = va_hash_sum(out->p + at + offsetof(yc_entry, nn), (size_t)yc_summed(&e), 0);
    memcpy(out->p + at + offsetof(yc_entry, sum), &sum, sizeof sum);
}

/* A pack as read: its entries indexed by key, its stamps by device and inode. */
typedef struct ycache {
    char *buf;
    size_t len;
    size_t *at; /* offset of each entry in buf */
    size_t n, cap;
    va_hash idx;             /* key[0] -> entry */
    const yc_stamped *stamp; /* in buf */
    size_t nstamps;
    va_hash sidx; /* yc_stamp_hash -> stamp */
} ycache;

static void yc_free(ycache *c) {
    free(c->buf), free(c->at);
    va_hash_free(&c->idx);
    va_hash_free(&c->sidx);
    memset(c, 0, sizeof *c);
}

static void yc_version(char out[16]) {
    memset(out, 0, 16);
    snprintf(out, 16, "%s", yaml_get_version_string());
}

/* Read the pack at path into c; anything wrong leaves c empty. */
static void yc_read(ycache *c, const char *path) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    struct stat sb;
    yc_head h;
    memset(&h, 0, sizeof h);
    char yv[16];
    yc_version(yv);
    int ok = !fstat(fileno(f), &sb) && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)sizeof h &&
             (uint64_t)sb.st_size <= YC_MAX && (c->buf = malloc((size_t)sb.st_size)) &&
             fread(c->buf, 1, (size_t)sb.st_size, f) == (size_t)sb.st_size;
    fclose(f);
    if (ok) {
        c->len = (size_t)sb.st_size;
        memcpy(&h, c->buf, sizeof h);
        ok = !memcmp(h.magic, YC_MAGIC, 8) && !memcmp(h.yaml, yv, 16) &&
             h.node_size == sizeof(ynode) &&
             h.nstamps <= (c->len - sizeof h) / sizeof(yc_stamped) &&
             h.len == c->len - sizeof h - h.nstamps * sizeof(yc_stamped);
    }
    /* entries, then the stamps (8-aligned: every entry's size is) */
    size_t end = ok ? sizeof h + (size_t)h.len : 0;
    ok = ok && va_hash_sum(c->buf + end, c->len - end, 0) == h.stamp_sum;
    for (size_t at = sizeof h; ok && at < end;) {
        yc_entry e;
        if (end - at < sizeof e) break;
        memcpy(&e, c->buf + at, sizeof e);
        uint64_t size = sizeof e + yc_body(&e);
        if (size > end - at) break;
        if (VA_ARRAY_GROW(c->at, c->cap, c->n + 1) ||
            va_hash_insert(&c->idx, e.key[0], (uint32_t)c->n))
            break;
        c->at[c->n++] = at;
        at += (size_t)size;
    }
    if (ok && c->n == h.n) {
        c->stamp = (const yc_stamped *)(c->buf + end);
        c->nstamps = (size_t)h.nstamps;
        if (va_hash_reserve(&c->sidx, c->nstamps)) c->nstamps = 0; /* then none is used */
        for (size_t i = 0; i < c->nstamps; i++)
            va_hash_insert(&c->sidx, yc_stamp_hash(&c->stamp[i].st), (uint32_t)i);
    }
    if (!ok || c->n != h.n) yc_free(c);
}

/* The entry at offset at of c as a view, if it is sound.  0, or -1: damaged. */
static int yc_view(const ycache *c, size_t at, yview *v) {
    const char *p = c->buf + at;
    const yc_entry *e = (const yc_entry *)p;
    if (va_hash_sum(p + offsetof(yc_entry, nn), (size_t)yc_summed(e), 0) != e->sum) return -1;
    const ynode *nodes = (const ynode *)(p + sizeof *e);
    const uint32_t *kids = (const uint32_t *)(nodes + e->nn), *docs = kids + e->nk;
    const char *text = (const char *)(docs + e->nd), *msg = text + e->nt;
    /* Bounds, so that the walk can trust the tree as it trusts a parsed one. */
    for (uint32_t k = 0; k < e->nn; k++) {
        const ynode *n = &nodes[k];
        if (n->type == Y_SCALAR) {
            if ((uint64_t)n->off + n->n >= e->nt || text[n->off + n->n] ||
                n->style > YAML_FOLDED_SCALAR_STYLE || n->tag > YT_OTHER)
                return -1;
        } else if ((n->type != Y_SEQ && n->type != Y_MAP) ||
                   (uint64_t)n->off + (uint64_t)n->n * (n->type == Y_MAP ? 2 : 1) > e->nk) {
            return -1;
        }
    }
    for (uint32_t k = 0; k < e->nk + e->nd; k++)
        if (kids[k] >= e->nn) return -1;
    if ((e->code != VA_OK && e->code != VA_EFORMAT) || (e->code && !e->nmsg) ||
        (e->nmsg && (e->nmsg > 320 || msg[e->nmsg - 1])))
        return -1;
    *v = (yview){
        nodes, kids, text, docs, e->nd, (va_err)e->code, e->line, e->col, e->nmsg ? msg : ""};
    return 0;
}

/* The entry for a file's bytes (key, len) as a view, if c has a sound one; its offset goes to
 * *at.  0, or -1: not there (or damaged). */
static int yc_find(const ycache *c, const uint64_t key[2], size_t len, yview *v, size_t *at) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&c->idx, key[0], &it); i != VA_HASH_END;
         i = va_hash_next(&c->idx, &it)) {
        const yc_entry *e = (const yc_entry *)(c->buf + c->at[i]);
        if (e->key[0] != key[0] || e->key[1] != key[1] || e->len != len) continue;
        *at = c->at[i];
        return yc_view(c, c->at[i], v);
    }
    return -1;
}

/* The entry of a file by its stamp, as yc_find does by its bytes. */
static int yc_find_stamp(const ycache *c, const yc_stamp *st, yview *v, size_t *at) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&c->sidx, yc_stamp_hash(st), &it); i != VA_HASH_END;
         i = va_hash_next(&c->sidx, &it)) {
        const yc_stamped *s = &c->stamp[i];
        if (!yc_stamp_eq(&s->st, st)) continue;
        /* an entry the pack has, of the stamped size */
        if (s->entry >= c->n || ((const yc_entry *)(c->buf + c->at[s->entry]))->len != st->size)
            return -1;
        *at = c->at[s->entry];
        return yc_view(c, *at, v);
    }
    return -1;
}

/* ---- the Sigma schema over the tree -------------------------------------------------------- */

typedef struct ld {
    va_arena *a;
    const char *file;
    const yview *t;
    uint32_t budget;
    /* first error of the document */
    va_err code;
    uint32_t line, col;
    char msg[320];
} ld;

static va_err fail_at(ld *L, uint32_t line, uint32_t col, va_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static va_err fail_at(ld *L, uint32_t line, uint32_t col, va_err code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->msg, sizeof L->msg, fmt, ap);
    va_end(ap);
    L->code = code;
    L->line = line;
    L->col = col;
    return code;
}

#define LINE(n)               ((n)->line + 1)
#define COL(n)                ((n)->col + 1)
#define FAIL(L, n, code, ...) fail_at((L), LINE(n), COL(n), (code), __VA_ARGS__)
#define NOMEM(L, n)           FAIL((L), (n), VA_ENOMEM, "out of memory")

static const ynode *node(const ld *L, uint32_t i) {
    return &L->t->nodes[i];
}

static const char *stext(const ld *L, const ynode *n) {
    return L->t->text + n->off;
}

/* Child i of a sequence; key (i, 0) and value (i, 1) of pair i of a map. */
static const ynode *item(const ld *L, const ynode *seq, uint32_t i) {
    return node(L, L->t->kids[seq->off + i]);
}

static const ynode *pair(const ld *L, const ynode *map, uint32_t i, int value) {
    return node(L, L->t->kids[map->off + 2 * i + (uint32_t)value]);
}

static const char *kind_word(const ynode *n) {
    return n->type == Y_SCALAR ? "a scalar" : n->type == Y_SEQ ? "a list" : "a map";
}

static int spend(ld *L, const ynode *n) {
    if (L->budget++ < MAX_ELEMENTS) return 0;
    FAIL(L, n, VA_ELIMIT, "document has more than %u fields and values", MAX_ELEMENTS);
    return -1;
}

/* ---- scalars ---------------------------------------------------------------------------- */

/* Key k, a C string of length kl (compared as strcmp would), is the literal lit. */
#define KEY_IS(k, kl, lit) ((kl) == sizeof(lit) - 1 && !memcmp((k), (lit), sizeof(lit) - 1))

static int eq_any(const char *s, const char *const *set) {
    for (; *set; set++)
        if (!strcmp(s, *set)) return 1;
    return 0;
}
static int is_int_text(const char *s, int64_t *out, double *f) {
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    int base = 10;
    if (!neg && p == s && p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    }
    if (!*p) return 0;
    uint64_t v = 0;
    int over = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return 0;
        if (d >= base) return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            over = 1;
        else
            v = v * (uint64_t)base + (uint64_t)d;
    }
    /* Saturate: the text stays authoritative for the matcher, the number is a convenience. */
    if (over || v > (uint64_t)INT64_MAX + (uint64_t)neg) {
        *out = neg ? INT64_MIN : INT64_MAX;
        *f = neg ? -HUGE_VAL : HUGE_VAL;
        if (!over) *f = neg ? -(double)v : (double)v;
        return 1;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    *f = neg ? -(double)v : (double)v;
    return 1;
}

static int is_float_text(const char *s, double *f) {
    static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
    static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
    static const char *const nan_[] = {".nan", ".NaN", ".NAN", NULL};
    if (eq_any(s, inf)) return *f = HUGE_VAL, 1;
    if (eq_any(s, ninf)) return *f = -HUGE_VAL, 1;
    if (eq_any(s, nan_)) return *f = NAN, 1;
    /* YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return 0;
    *f = strtod(s, NULL);
    return 1;
}

/* Resolve a scalar to a typed value with the YAML 1.2 core schema; quoted or explicitly
 * !!str-tagged (or otherwise tagged) scalars stay strings. */
static int scalar_value(ld *L, const ynode *n, va_rule_value *v) {
    memset(v, 0, sizeof *v);
    size_t len = n->n;
    v->text = va_arena_strndup(L->a, stext(L, n), len);
    if (!v->text) return NOMEM(L, n), -1;
    if (memchr(v->text, 0, len)) {
        FAIL(L, n, VA_EFORMAT, "scalar contains a NUL byte or is too long");
        return -1;
    }
    v->len = (uint32_t)len;
    v->line = LINE(n);
    v->col = COL(n);
    v->type = VA_RULE_STR;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    if (n->tag == YT_OTHER) return 0; /* !!str or a local tag: keep the text as a string */
    if (n->tag == YT_NONE && n->style != YAML_PLAIN_SCALAR_STYLE) return 0;
    int word = len <= 5; /* the null and boolean words are short */
    if (n->tag == YT_NULL || (word && eq_any(v->text, nulls))) {
        v->type = VA_RULE_NULL;
    } else if (word && eq_any(v->text, trues)) {
        v->type = VA_RULE_BOOL;
        v->i = 1;
    } else if (word && eq_any(v->text, falses)) {
        v->type = VA_RULE_BOOL;
    } else if (is_int_text(v->text, &v->i, &v->f)) {
        v->type = VA_RULE_INT;
    } else if (is_float_text(v->text, &v->f)) {
        v->type = VA_RULE_FLOAT;
    }
    return 0;
}

static const char *dup_scalar(ld *L, const ynode *n) {
    const char *s = va_arena_strndup(L->a, stext(L, n), n->n);
    if (!s) NOMEM(L, n);
    return s;
}

static int is_null_node(const yview *t, const ynode *n) {
    if (n->type != Y_SCALAR || n->style != YAML_PLAIN_SCALAR_STYLE || n->n > 4) return 0;
    const char *s = t->text + n->off;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    return n->n == strlen(s) && eq_any(s, nulls);
}

/* A metadata string: any scalar (dates like 2024-01-01 are strings in YAML 1.2); null means
 * absent. */
static int meta_str(ld *L, const char *key, const ynode *n, const char **out) {
    if (is_null_node(L->t, n)) return *out = NULL, 0;
    if (n->type != Y_SCALAR) {
        FAIL(L, n, VA_EFORMAT, "'%s' must be a string, not %s", key, kind_word(n));
        return -1;
    }
    *out = dup_scalar(L, n);
    return *out ? 0 : -1;
}

/* A list of strings; a single scalar counts as a list of one, null as empty. */
static int meta_strs(ld *L, const char *key, const ynode *n, va_rule_strs *out) {
    out->v = NULL;
    out->n = 0;
    if (is_null_node(L->t, n)) return 0;
    if (n->type == Y_SCALAR) {
        out->v = va_arena_alloc(L->a, sizeof *out->v);
        if (!out->v || !(out->v[0] = dup_scalar(L, n))) return NOMEM(L, n), -1;
        out->n = 1;
        return 0;
    }
    if (n->type != Y_SEQ) {
        FAIL(L, n, VA_EFORMAT, "'%s' must be a list of strings, not %s", key, kind_word(n));
        return -1;
    }
    if (!n->n) return 0;
    out->v = va_arena_alloc(L->a, n->n * sizeof *out->v);
    if (!out->v) return NOMEM(L, n), -1;
    for (uint32_t i = 0; i < n->n; i++) {
        const ynode *it = item(L, n, i);
        if (it->type != Y_SCALAR) {
            FAIL(L, it, VA_EFORMAT, "'%s' items must be strings, not %s", key, kind_word(it));
            return -1;
        }
        if (spend(L, it)) return -1;
        if (!(out->v[out->n++] = dup_scalar(L, it))) return -1;
    }
    return 0;
}

/* Key of pair i of a map as text; keys must be scalars here (Sigma has no complex keys). */
static const char *pair_key(ld *L, const ynode *map, uint32_t i, const ynode **kn) {
    *kn = pair(L, map, i, 0);
    if ((*kn)->type != Y_SCALAR) {
        FAIL(L, *kn, VA_EFORMAT, "map key must be a scalar, not %s", kind_word(*kn));
        return NULL;
    }
    return stext(L, *kn);
}

static int cmp_names(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* YAML requires unique keys in a map; libyaml does not check, so duplicates would silently
 * shadow each other in a rule. */
static int check_unique_keys(ld *L, const ynode *map) {
    uint32_t cnt = map->n;
    if (cnt > 64) {
        /* Large maps: sort a copy of the keys and compare neighbours, instead of O(n^2). */
        const char **keys = malloc(cnt * sizeof *keys);
        if (!keys) return NOMEM(L, map), -1;
        for (uint32_t i = 0; i < cnt; i++) {
            const ynode *k = pair(L, map, i, 0);
            keys[i] = k->type == Y_SCALAR ? stext(L, k) : "";
        }
        qsort(keys, cnt, sizeof *keys, cmp_names);
        const char *dup = NULL;
        for (size_t i = 1; i < cnt && !dup; i++)
            if (keys[i][0] && !strcmp(keys[i - 1], keys[i])) dup = keys[i];
        if (dup) FAIL(L, map, VA_EFORMAT, "duplicate key '%.64s' (YAML keys must be unique)", dup);
        free(keys);
        return dup ? -1 : 0;
    }
    for (uint32_t p = 0; p < cnt; p++) {
        const ynode *kp = pair(L, map, p, 0);
        if (kp->type != Y_SCALAR) continue;
        for (uint32_t q = 0; q < p; q++) {
            const ynode *kq = pair(L, map, q, 0);
            if (kq->type != Y_SCALAR) continue;
            if (kp->n == kq->n && !memcmp(stext(L, kp), stext(L, kq), kp->n)) {
                FAIL(L, kp, VA_EFORMAT, "duplicate key '%.64s' (YAML keys must be unique)",
                     stext(L, kp));
                return -1;
            }
        }
    }
    return 0;
}

static int want_map(ld *L, const char *what, const ynode *n) {
    if (n->type == Y_MAP) return check_unique_keys(L, n);
    FAIL(L, n, VA_EFORMAT, "'%s' must be a map, not %s", what, kind_word(n));
    return -1;
}

/* ---- detection -------------------------------------------------------------------------- */

/* Values of one field: a scalar or a list of scalars. */
static int load_values(ld *L, const char *field, const ynode *n, va_rule_field *f) {
    if (n->type == Y_SCALAR) {
        f->vals = va_arena_alloc(L->a, sizeof *f->vals);
        if (!f->vals) return NOMEM(L, n), -1;
        f->nvals = 1;
        if (spend(L, n)) return -1;
        return scalar_value(L, n, &f->vals[0]);
    }
    if (n->type != Y_SEQ) {
        FAIL(L, n, VA_EFORMAT, "value of field '%.64s' must be a scalar or a list, not %s", field,
             kind_word(n));
        return -1;
    }
    f->is_list = 1;
    uint32_t cnt = n->n;
    if (!cnt) {
        FAIL(L, n, VA_EFORMAT, "field '%.64s' has an empty list of values", field);
        return -1;
    }
    f->vals = va_arena_alloc(L->a, cnt * sizeof *f->vals);
    if (!f->vals) return NOMEM(L, n), -1;
    for (uint32_t i = 0; i < cnt; i++) {
        const ynode *it = item(L, n, i);
        if (it->type != Y_SCALAR) {
            FAIL(L, it, VA_EFORMAT, "values of field '%.64s' must be scalars, found %s", field,
                 kind_word(it));
            return -1;
        }
        if (spend(L, it)) return -1;
        va_rule_value *v = &f->vals[f->nvals++];
        if (scalar_value(L, it, v)) return -1;
        if (v->type == VA_RULE_NULL && cnt > 1) {
            FAIL(L, it, VA_EFORMAT,
                 "null in a list of values of field '%.64s' (spec: null must be its own "
                 "selection)",
                 field);
            return -1;
        }
    }
    return 0;
}

static int load_map(ld *L, const ynode *n, va_rule_map *m) {
    if (check_unique_keys(L, n)) return -1;
    uint32_t cnt = n->n;
    m->line = LINE(n);
    m->col = COL(n);
    if (!cnt) return FAIL(L, n, VA_EFORMAT, "empty map in search identifier"), -1;
    m->fields = va_arena_alloc(L->a, cnt * sizeof *m->fields);
    if (!m->fields) return NOMEM(L, n), -1;
    for (uint32_t p = 0; p < cnt; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        const char *key = pair_key(L, n, p, &kn);
        if (!key) return -1;
        if (spend(L, kn)) return -1;
        va_rule_field *f = &m->fields[m->n++];
        memset(f, 0, sizeof *f);
        f->line = LINE(kn);
        f->col = COL(kn);
        size_t klen = kn->n;
        if (!klen) return FAIL(L, kn, VA_EFORMAT, "empty field name"), -1;
        /* name|mod1|mod2: modifiers kept verbatim, in order; the matcher compiles them. */
        const char *bar = memchr(key, '|', klen);
        size_t nlen = bar ? (size_t)(bar - key) : klen;
        f->name = va_arena_strndup(L->a, key, nlen);
        if (!f->name) return NOMEM(L, kn), -1;
        if (bar) {
            uint32_t nm = 0;
            for (const char *q = bar; q < key + klen; q++) nm += *q == '|';
            f->mods.v = va_arena_alloc(L->a, nm * sizeof *f->mods.v);
            if (!f->mods.v) return NOMEM(L, kn), -1;
            const char *s = bar + 1, *end = key + klen;
            for (;;) {
                const char *e = memchr(s, '|', (size_t)(end - s));
                if (!e) e = end;
                if (e == s) return FAIL(L, kn, VA_EFORMAT, "empty modifier in '%.64s'", key), -1;
                if (!(f->mods.v[f->mods.n++] = va_arena_strndup(L->a, s, (size_t)(e - s))))
                    return NOMEM(L, kn), -1;
                if (e == end) break;
                s = e + 1;
            }
        }
        if (!nlen && !f->mods.n) return FAIL(L, kn, VA_EFORMAT, "empty field name"), -1;
        if (load_values(L, key, vn, f)) return -1;
    }
    return 0;
}

static int load_search(ld *L, const char *name, const ynode *kn, const ynode *n,
                       va_rule_search *s) {
    memset(s, 0, sizeof *s);
    s->line = LINE(kn);
    s->col = COL(kn);
    if (!(s->name = dup_scalar(L, kn))) return -1;
    if (n->type == Y_MAP) {
        s->kind = VA_RULE_SEARCH_MAP;
        s->maps = va_arena_alloc(L->a, sizeof *s->maps);
        if (!s->maps) return NOMEM(L, n), -1;
        memset(s->maps, 0, sizeof *s->maps);
        s->nmaps = 1;
        return load_map(L, n, s->maps);
    }
    if (n->type != Y_SEQ) {
        FAIL(L, n, VA_EFORMAT, "search identifier '%.64s' must be a map or a list, not %s", name,
             kind_word(n));
        return -1;
    }
    uint32_t cnt = n->n;
    if (!cnt) return FAIL(L, n, VA_EFORMAT, "search identifier '%.64s' is an empty list", name), -1;
    int maps = item(L, n, 0)->type == Y_MAP;
    if (maps) {
        s->kind = VA_RULE_SEARCH_MAPLIST;
        s->maps = va_arena_alloc(L->a, cnt * sizeof *s->maps);
        if (!s->maps) return NOMEM(L, n), -1;
    } else {
        s->kind = VA_RULE_SEARCH_KEYWORDS;
        s->keywords = va_arena_alloc(L->a, cnt * sizeof *s->keywords);
        if (!s->keywords) return NOMEM(L, n), -1;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        const ynode *it = item(L, n, i);
        if (spend(L, it)) return -1;
        if (maps) {
            if (it->type != Y_MAP) {
                FAIL(L, it, VA_EFORMAT, "search identifier '%.64s' mixes maps and %s in one list",
                     name, kind_word(it));
                return -1;
            }
            memset(&s->maps[s->nmaps], 0, sizeof s->maps[0]);
            if (load_map(L, it, &s->maps[s->nmaps++])) return -1;
        } else {
            if (it->type != Y_SCALAR) {
                FAIL(L, it, VA_EFORMAT,
                     "search identifier '%.64s' mixes keywords and %s in one list", name,
                     kind_word(it));
                return -1;
            }
            if (scalar_value(L, it, &s->keywords[s->nkeywords++])) return -1;
        }
    }
    return 0;
}

/* Offset into the condition text to a column: exact for one-line plain or quoted scalars;
 * for multi-line and block scalars the scalar's start is the best position there is. */
static void cond_pos(const ynode *n, uint32_t off, uint32_t *line, uint32_t *col) {
    *line = LINE(n);
    *col = COL(n);
    if (n->line != n->end_line) return;
    if (n->style == YAML_PLAIN_SCALAR_STYLE)
        *col += off;
    else if (n->style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
             n->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        *col += off + 1;
}

static int load_one_cond(ld *L, const ynode *n, va_rule_detection *d, va_rule_cond *c) {
    if (n->type != Y_SCALAR || is_null_node(L->t, n)) {
        FAIL(L, n, VA_EFORMAT, "condition must be a string, not %s",
             n->type == Y_SCALAR ? "null" : kind_word(n));
        return -1;
    }
    if (!(c->text = dup_scalar(L, n))) return -1;
    c->line = LINE(n);
    c->col = COL(n);
    va_cond_error e = {0};
    va_err r = va_cond_parse(L->a, c->text, n->n, &c->ast, &e);
    if (!r) r = va_cond_resolve(c->ast, d->names, d->nsearches, L->a, &e);
    if (r) {
        uint32_t line, col;
        cond_pos(n, e.pos, &line, &col);
        fail_at(L, line, col, r, "condition: %s", e.msg ? e.msg : "invalid");
        return -1;
    }
    return 0;
}

/* A detection map (or a filter map: then `rules` is taken out and `selection` required). */
static int load_detection(ld *L, const ynode *n, va_rule_detection *d, va_rule_strs *filter_rules) {
    const char *what = filter_rules ? "filter" : "detection";
    if (want_map(L, what, n)) return -1;
    memset(d, 0, sizeof *d);
    uint32_t cnt = n->n;
    d->searches = va_arena_alloc(L->a, (cnt ? cnt : 1) * sizeof *d->searches);
    d->names = va_arena_alloc(L->a, (cnt ? cnt : 1) * sizeof *d->names);
    if (!d->searches || !d->names) return NOMEM(L, n), -1;
    const ynode *cond = NULL, *rules = NULL;
    int have_selection = 0;
    for (uint32_t p = 0; p < cnt; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        const char *key = pair_key(L, n, p, &kn);
        if (!key) return -1;
        size_t kl = strlen(key);
        if (KEY_IS(key, kl, "condition")) {
            cond = vn;
            continue;
        }
        if (filter_rules && KEY_IS(key, kl, "rules")) {
            rules = vn;
            continue;
        }
        if (!filter_rules && KEY_IS(key, kl, "timeframe"))
            return FAIL(L, kn, VA_EUNSUPPORTED,
                        "'timeframe' (Sigma 1.x aggregation) is not part of Sigma 2.1; use a "
                        "correlation rule"),
                   -1;
        if (!kn->n) return FAIL(L, kn, VA_EFORMAT, "empty search identifier"), -1;
        have_selection |= KEY_IS(key, kl, "selection");
        va_rule_search *s = &d->searches[d->nsearches];
        if (load_search(L, key, kn, vn, s)) return -1;
        d->names[d->nsearches++] = s->name;
    }
    if (filter_rules) {
        if (!rules) return FAIL(L, n, VA_EFORMAT, "filter has no 'rules'"), -1;
        if (meta_strs(L, "rules", rules, filter_rules)) return -1;
        if (!filter_rules->n) return FAIL(L, rules, VA_EFORMAT, "filter 'rules' is empty"), -1;
        if (!have_selection) return FAIL(L, n, VA_EFORMAT, "filter has no 'selection'"), -1;
    }
    if (!cond) return FAIL(L, n, VA_EFORMAT, "%s has no 'condition'", what), -1;
    if (!d->nsearches) return FAIL(L, n, VA_EFORMAT, "%s has no search identifier", what), -1;
    if (cond->type == Y_SEQ) {
        uint32_t nc = cond->n;
        if (!nc) return FAIL(L, cond, VA_EFORMAT, "condition list is empty"), -1;
        d->conds = va_arena_alloc(L->a, nc * sizeof *d->conds);
        if (!d->conds) return NOMEM(L, cond), -1;
        for (uint32_t i = 0; i < nc; i++)
            if (load_one_cond(L, item(L, cond, i), d, &d->conds[d->nconds++])) return -1;
        return 0;
    }
    d->conds = va_arena_alloc(L->a, sizeof *d->conds);
    if (!d->conds) return NOMEM(L, cond), -1;
    d->nconds = 1;
    return load_one_cond(L, cond, d, d->conds);
}

/* ---- correlation ------------------------------------------------------------------------ */

static int parse_timespan(const char *s, int64_t *secs) {
    size_t n = strlen(s);
    if (n < 2) return -1;
    int64_t mult;
    switch (s[n - 1]) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    default:
        return -1;
    }
    int64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (v > (INT64_MAX / mult - 9) / 10) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (!v) return -1;
    *secs = v * mult;
    return 0;
}

static int load_corr_condition(ld *L, const ynode *n, va_rule_correlation *c) {
    if (want_map(L, "correlation condition", n)) return -1;
    static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
    uint32_t cnt = n->n;
    c->cmps = va_arena_alloc(L->a, (cnt ? cnt : 1) * sizeof *c->cmps);
    if (!c->cmps) return NOMEM(L, n), -1;
    for (uint32_t p = 0; p < cnt; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        const char *key = pair_key(L, n, p, &kn);
        if (!key) return -1;
        if (!strcmp(key, "field")) {
            if (meta_strs(L, "field", vn, &c->fields)) return -1;
            if (!c->fields.n) return FAIL(L, vn, VA_EFORMAT, "'field' is empty"), -1;
            continue;
        }
        size_t op = 0;
        while (op < 6 && strcmp(key, ops[op])) op++;
        if (op == 6)
            return FAIL(L, kn, VA_EFORMAT,
                        "unknown correlation condition '%.64s' (gt, gte, lt, lte, eq, neq, field)",
                        key),
                   -1;
        va_rule_cmp *m = &c->cmps[c->ncmps++];
        m->op = (va_rule_cmpop)(op + 1);
        if (vn->type != Y_SCALAR || scalar_value(L, vn, &m->v) ||
            (m->v.type != VA_RULE_INT && m->v.type != VA_RULE_FLOAT)) {
            if (L->code) return -1;
            return FAIL(L, vn, VA_EFORMAT, "'%s' needs a number", key), -1;
        }
    }
    if (!c->ncmps)
        return FAIL(L, n, VA_EFORMAT, "correlation condition has no gt/gte/lt/lte/eq/neq"), -1;
    return 0;
}

static int load_aliases(ld *L, const ynode *n, va_rule_correlation *c) {
    if (want_map(L, "aliases", n)) return -1;
    uint32_t cnt = n->n;
    c->aliases = va_arena_alloc(L->a, (cnt ? cnt : 1) * sizeof *c->aliases);
    if (!c->aliases) return NOMEM(L, n), -1;
    for (uint32_t p = 0; p < cnt; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        if (!pair_key(L, n, p, &kn)) return -1;
        if (want_map(L, "alias", vn)) return -1;
        va_rule_alias *al = &c->aliases[c->naliases++];
        memset(al, 0, sizeof *al);
        if (!(al->alias = dup_scalar(L, kn))) return -1;
        uint32_t m = vn->n;
        if (!m) return FAIL(L, vn, VA_EFORMAT, "alias '%.64s' maps no rule", al->alias), -1;
        al->rule = va_arena_alloc(L->a, m * sizeof *al->rule);
        al->field = va_arena_alloc(L->a, m * sizeof *al->field);
        if (!al->rule || !al->field) return NOMEM(L, vn), -1;
        for (uint32_t q = 0; q < m; q++) {
            const ynode *rk, *rv = pair(L, vn, q, 1);
            if (!pair_key(L, vn, q, &rk)) return -1;
            if (rv->type != Y_SCALAR || is_null_node(L->t, rv))
                return FAIL(L, rk, VA_EFORMAT, "alias entry needs a field name"), -1;
            if (spend(L, rv)) return -1;
            if (!(al->rule[al->n] = dup_scalar(L, rk))) return -1;
            if (!(al->field[al->n++] = dup_scalar(L, rv))) return -1;
        }
    }
    return 0;
}

static int load_correlation(ld *L, const ynode *n, va_rule_correlation *c) {
    static const char *const types[] = {"event_count",      "value_count", "temporal",
                                        "temporal_ordered", "value_sum",   "value_avg",
                                        "value_percentile"};
    if (want_map(L, "correlation", n)) return -1;
    memset(c, 0, sizeof *c);
    c->generate = -1;
    const ynode *type = NULL, *rules = NULL, *timespan = NULL, *cond = NULL;
    for (uint32_t p = 0; p < n->n; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        const char *key = pair_key(L, n, p, &kn);
        if (!key) return -1;
        if (!strcmp(key, "type"))
            type = vn;
        else if (!strcmp(key, "rules"))
            rules = vn;
        else if (!strcmp(key, "timespan"))
            timespan = vn;
        else if (!strcmp(key, "condition"))
            cond = vn;
        else if (!strcmp(key, "group-by")) {
            if (meta_strs(L, "group-by", vn, &c->group_by)) return -1;
        } else if (!strcmp(key, "aliases")) {
            if (load_aliases(L, vn, c)) return -1;
        } else if (!strcmp(key, "generate")) {
            va_rule_value v;
            if (vn->type != Y_SCALAR || scalar_value(L, vn, &v) || v.type != VA_RULE_BOOL) {
                if (L->code) return -1;
                return FAIL(L, vn, VA_EFORMAT, "'generate' must be true or false"), -1;
            }
            c->generate = (int)v.i;
        }
        /* Other keys are not defined for the section; ignored like unknown top-level keys. */
    }
    if (!type) return FAIL(L, n, VA_EFORMAT, "correlation has no 'type'"), -1;
    if (type->type != Y_SCALAR)
        return FAIL(L, type, VA_EFORMAT, "correlation 'type' must be a string"), -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(stext(L, type), types[i])) c->type = (va_rule_ctype)(i + 1);
    if (!c->type)
        return FAIL(L, type, VA_EFORMAT, "unknown correlation type '%.64s'", stext(L, type)), -1;
    if (!rules) return FAIL(L, n, VA_EFORMAT, "correlation has no 'rules'"), -1;
    if (meta_strs(L, "rules", rules, &c->rules)) return -1;
    if (!c->rules.n) return FAIL(L, rules, VA_EFORMAT, "correlation 'rules' is empty"), -1;
    if (!timespan) return FAIL(L, n, VA_EFORMAT, "correlation has no 'timespan'"), -1;
    if (meta_str(L, "timespan", timespan, &c->timespan)) return -1;
    if (!c->timespan || parse_timespan(c->timespan, &c->timespan_s))
        return FAIL(L, timespan, VA_EFORMAT,
                    "timespan must be a number and s, m, h or d (e.g. 90m)"),
               -1;
    int temporal = c->type == VA_RULE_TEMPORAL || c->type == VA_RULE_TEMPORAL_ORDERED;
    if (cond) {
        if (load_corr_condition(L, cond, c)) return -1;
    } else if (!temporal) {
        return FAIL(L, n, VA_EFORMAT, "%s correlation needs a 'condition'", types[c->type - 1]), -1;
    }
    if (!temporal && c->type != VA_RULE_EVENT_COUNT && !c->fields.n)
        return FAIL(L, cond, VA_EFORMAT, "%s correlation needs 'field' in its condition",
                    types[c->type - 1]),
               -1;
    return 0;
}

/* ---- documents -------------------------------------------------------------------------- */

static int load_logsource(ld *L, const ynode *n, va_rule_logsource *ls) {
    if (want_map(L, "logsource", n)) return -1;
    for (uint32_t p = 0; p < n->n; p++) {
        const ynode *kn, *vn = pair(L, n, p, 1);
        const char *key = pair_key(L, n, p, &kn);
        if (!key) return -1;
        size_t kl = strlen(key);
        const char **dst = KEY_IS(key, kl, "product")      ? &ls->product
                           : KEY_IS(key, kl, "category")   ? &ls->category
                           : KEY_IS(key, kl, "service")    ? &ls->service
                           : KEY_IS(key, kl, "definition") ? &ls->definition
                                                           : NULL;
        if (dst && meta_str(L, key, vn, dst)) return -1;
    }
    return 0;
}

static int load_related(ld *L, const ynode *n, va_rule *r) {
    if (is_null_node(L->t, n)) return 0;
    if (n->type != Y_SEQ)
        return FAIL(L, n, VA_EFORMAT, "'related' must be a list, not %s", kind_word(n)), -1;
    uint32_t cnt = n->n;
    r->related = va_arena_alloc(L->a, (cnt ? cnt : 1) * sizeof *r->related);
    if (!r->related) return NOMEM(L, n), -1;
    for (uint32_t i = 0; i < cnt; i++) {
        const ynode *it = item(L, n, i);
        if (want_map(L, "related item", it)) return -1;
        va_rule_related *rel = &r->related[r->nrelated++];
        rel->type = rel->id = NULL;
        for (uint32_t p = 0; p < it->n; p++) {
            const ynode *kn, *vn = pair(L, it, p, 1);
            const char *key = pair_key(L, it, p, &kn);
            if (!key) return -1;
            if (!strcmp(key, "type") && meta_str(L, key, vn, &rel->type)) return -1;
            if (!strcmp(key, "id") && meta_str(L, key, vn, &rel->id)) return -1;
        }
        if (!rel->type || !rel->id)
            return FAIL(L, it, VA_EFORMAT, "'related' item needs 'id' and 'type'"), -1;
    }
    return 0;
}

/* The top-level keys the model reads: where a metadata value goes, or which section it is. */
enum {
    TK_STR = 1,
    TK_STRS,
    TK_RELATED,
    TK_LOGSOURCE,
    TK_DETECTION,
    TK_FILTER,
    TK_CORRELATION,
    TK_GENERATE,
    TK_ACTION
};

typedef struct top_key {
    const char *name;
    uint8_t len, what;
    uint16_t off; /* TK_STR, TK_STRS: the field of va_rule */
} top_key;

#define TK(name, what, field)                                                                      \
    { name, sizeof name - 1, what, offsetof(va_rule, field) }
#define TK0(name, what)                                                                            \
    { name, sizeof name - 1, what, 0 }

static const top_key top_keys[] = {
    TK("title", TK_STR, title),         TK("id", TK_STR, id),
    TK("name", TK_STR, name),           TK("status", TK_STR, status),
    TK("level", TK_STR, level),         TK("description", TK_STR, description),
    TK("license", TK_STR, license),     TK("author", TK_STR, author),
    TK("date", TK_STR, date),           TK("modified", TK_STR, modified),
    TK("taxonomy", TK_STR, taxonomy),   TK("references", TK_STRS, references),
    TK("tags", TK_STRS, tags),          TK("falsepositives", TK_STRS, falsepositives),
    TK("fields", TK_STRS, fields),      TK("scope", TK_STRS, scope),
    TK0("related", TK_RELATED),         TK0("logsource", TK_LOGSOURCE),
    TK0("detection", TK_DETECTION),     TK0("filter", TK_FILTER),
    TK0("correlation", TK_CORRELATION), TK0("generate", TK_GENERATE),
    TK0("action", TK_ACTION),
};

/* The entry for key k (compared as a C string, as the YAML text is), or NULL: a custom
 * attribute.  Lengths first: one strlen instead of a strcmp per key. */
static const top_key *find_top_key(const char *k) {
    size_t n = strlen(k);
    for (size_t i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
        if (top_keys[i].len == n && !memcmp(top_keys[i].name, k, n)) return &top_keys[i];
    return NULL;
}

static int load_doc(ld *L, const ynode *root, va_rule *r) {
    if (root->type != Y_MAP)
        return FAIL(L, root, VA_EFORMAT, "a rule must be a map, not %s", kind_word(root)), -1;
    if (check_unique_keys(L, root)) return -1;
    r->line = LINE(root);
    r->col = COL(root);
    const ynode *det = NULL, *filt = NULL, *corr = NULL, *ls = NULL, *gen = NULL;
    for (uint32_t p = 0; p < root->n; p++) {
        const ynode *kn, *vn = pair(L, root, p, 1);
        const char *k = pair_key(L, root, p, &kn);
        if (!k) return -1;
        const top_key *t = find_top_key(k);
        int rc = 0;
        switch (t ? t->what : 0) {
        case TK_STR:
            rc = meta_str(L, k, vn, (const char **)((char *)r + t->off));
            break;
        case TK_STRS:
            rc = meta_strs(L, k, vn, (va_rule_strs *)((char *)r + t->off));
            break;
        case TK_RELATED:
            rc = load_related(L, vn, r);
            break;
        case TK_LOGSOURCE:
            ls = vn;
            break;
        case TK_DETECTION:
            det = vn;
            break;
        case TK_FILTER:
            filt = vn;
            break;
        case TK_CORRELATION:
            corr = vn;
            break;
        case TK_GENERATE:
            gen = vn; /* top level in the 2.1 schema; also read inside `correlation` */
            break;
        case TK_ACTION:
            rc = FAIL(L, kn, VA_EUNSUPPORTED,
                      "rule collections ('action: global/reset/repeat', Sigma 1.x) are not "
                      "defined by Sigma 2.1") != VA_OK;
            break;
        }
        /* Anything else is a custom attribute, which the spec allows and we ignore. */
        if (rc) return -1;
    }
    int kinds = !!det + !!filt + !!corr;
    if (kinds > 1)
        return FAIL(L, root, VA_EFORMAT,
                    "a document has only one of 'detection', 'filter' or 'correlation'"),
               -1;
    if (!kinds)
        return FAIL(L, root, VA_EFORMAT, "no 'detection', 'filter' or 'correlation' section"), -1;
    if (!r->title) return FAIL(L, root, VA_EFORMAT, "missing mandatory 'title'"), -1;
    if (corr) {
        r->kind = VA_RULE_KIND_CORRELATION;
        if (ls && load_logsource(L, ls, &r->logsource)) return -1;
        if (load_correlation(L, corr, &r->corr)) return -1;
        if (gen) {
            va_rule_value v;
            if (gen->type != Y_SCALAR || scalar_value(L, gen, &v) || v.type != VA_RULE_BOOL) {
                if (L->code) return -1;
                return FAIL(L, gen, VA_EFORMAT, "'generate' must be true or false"), -1;
            }
            r->corr.generate = (int)v.i;
        }
        return 0;
    }
    if (!ls) return FAIL(L, root, VA_EFORMAT, "missing mandatory 'logsource'"), -1;
    if (load_logsource(L, ls, &r->logsource)) return -1;
    if (filt) {
        r->kind = VA_RULE_KIND_FILTER;
        return load_detection(L, filt, &r->filter.det, &r->filter.rules);
    }
    r->kind = VA_RULE_KIND_DETECTION;
    return load_detection(L, det, &r->detection, NULL);
}

static void report(va_rule_diag_fn diag, void *ud, const char *file, uint32_t line, uint32_t col,
                   va_err code, const char *msg) {
    if (!diag) return;
    va_rule_diag d = {file, line, col, code, msg};
    diag(ud, &d);
}

/* Where a file's parsed stream is, for the next pack. */
typedef struct yref {
    enum { YR_NONE, YR_PACK, YR_OUT } where; /* nowhere; in the pack read; appended here */
    size_t at;                               /* offset in the pack read or in out */
    int by_stamp;                            /* found by the file's stamp, not read */
} yref;

/* What a loading thread keeps from file to file. */
typedef struct loader {
    ytree t;
    char *buf; /* the file being loaded */
    size_t cap;
    const ycache *cache; /* parsed streams to take instead of parsing (NULL: none) */
    va_buf *out;         /* NULL, or where streams parsed here go for the next pack */
    yref last;           /* where the last file's stream is */
} loader;

static void loader_free(loader *l) {
    ytree_free(&l->t);
    free(l->buf);
}

/* The rules of a parsed stream: every document but empty ones, then the YAML error, if any. */
static va_err load_docs(const yview *t, va_arena *a, const char *file, va_rule_set *set,
                        va_rule_diag_fn diag, void *ud, va_rule_stats *st) {
    va_err first = VA_OK;
    uint32_t ndocs = 0;
    int stopped = 0;
    for (size_t docno = 0; docno < t->nd && !stopped; docno++) {
        const ynode *root = &t->nodes[t->docs[docno]];
        if (is_null_node(t, root)) continue; /* an empty document ("---" alone) holds no rule */
        ndocs++;
        ld L = {.a = a, .file = file, .t = t};
        va_rule *r = va_arena_alloc(a, sizeof *r);
        if (!r) {
            NOMEM(&L, root);
        } else {
            memset(r, 0, sizeof *r);
            r->file = file;
            r->doc = (uint32_t)docno;
            if (!load_doc(&L, root, r)) {
                if (set->tail)
                    set->tail->next = r;
                else
                    set->head = r;
                set->tail = r;
                set->n++;
                if (st) st->by_kind[r->kind]++;
            }
        }
        if (L.code) {
            report(diag, ud, file, L.line, L.col, L.code, L.msg);
            if (st) st->docs_failed++;
            if (!first) first = L.code;
            stopped = L.code == VA_ENOMEM;
        }
    }
    if (t->code && !stopped) {
        report(diag, ud, file, t->line, t->col, t->code, t->msg);
        if (st) st->docs_failed++;
        if (!first) first = t->code;
    }
    if (!ndocs && !first) {
        report(diag, ud, file, 1, 1, VA_EFORMAT, "no rule in file (empty YAML stream)");
        if (st) st->docs_failed++;
        first = VA_EFORMAT;
    }
    if (first && st) st->files_failed++;
    return first;
}

/* va_rule_load_mem for a loading thread: the stream from its cache, or parsed (and kept for
 * the next pack). */
static va_err load_text(loader *l, va_arena *a, const char *file, const char *text, size_t len,
                        va_rule_set *set, va_rule_diag_fn diag, void *ud, va_rule_stats *st) {
    uint64_t key[2] = {0, 0};
    yview v;
    l->last = (yref){YR_NONE, 0, 0};
    if (l->cache || l->out) yc_key(text, len, key);
    if (l->cache && !yc_find(l->cache, key, len, &v, &l->last.at)) {
        l->last.where = YR_PACK;
        if (st) st->files++, st->cached++;
        return load_docs(&v, a, file, set, diag, ud, st);
    }
    if (y_parse(&l->t, text, len)) {
        report(diag, ud, file, 0, 0, VA_ENOMEM, "out of memory");
        return VA_ENOMEM;
    }
    if (st) st->files++;
    if (l->out) {
        size_t at = l->out->len;
        yc_put(l->out, key, len, &l->t);
        if (l->out->len > at) l->last = (yref){YR_OUT, at, 0};
    }
    v = y_view(&l->t);
    return load_docs(&v, a, file, set, diag, ud, st);
}

va_err va_rule_load_mem(va_arena *a, const char *file, const char *text, size_t len,
                        va_rule_set *set, va_rule_diag_fn diag, void *ud, va_rule_stats *st) {
    loader l;
    memset(&l, 0, sizeof l);
    va_err e = load_text(&l, a, file, text, len, set, diag, ud, st);
    loader_free(&l);
    return e;
}

/* va_rule_load_file for a loading thread. */
static va_err load_file(loader *l, va_arena *a, const char *path, va_rule_set *set,
                        va_rule_diag_fn diag, void *ud, va_rule_stats *st) {
    char msg[320];
    l->last = (yref){YR_NONE, 0, 0};
    const char *file = va_arena_strndup(a, path, strlen(path));
    if (!file) {
        report(diag, ud, path, 0, 0, VA_ENOMEM, "out of memory");
        return VA_ENOMEM;
    }
    /* Plain open and read: stdio's buffer and locking are a good part of the cost of loading
     * a cached file.  O_NONBLOCK: a FIFO named like a rule is reported, not waited on. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    va_err code = VA_EIO;
    size_t len = 0;
    if (fd < 0) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        snprintf(msg, sizeof msg, "not a regular file");
        goto fail;
    }
    if ((uint64_t)sb.st_size > MAX_FILE) {
        code = VA_ELIMIT;
        snprintf(msg, sizeof msg, "file larger than %u bytes", MAX_FILE);
        goto fail;
    }
    if (VA_ARRAY_GROW(l->buf, l->cap, (size_t)sb.st_size + 1)) {
        code = VA_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory");
        goto fail;
    }
    while (len < (size_t)sb.st_size) { /* a file that shrinks meanwhile is read as it is */
        ssize_t got = read(fd, l->buf + len, (size_t)sb.st_size - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(msg, sizeof msg, "read error: %s", strerror(errno));
            goto fail;
        }
        if (!got) break;
        len += (size_t)got;
    }
    close(fd);
    return load_text(l, a, file, l->buf, len, set, diag, ud, st);
fail:
    if (fd >= 0) close(fd);
    if (st) st->files++, st->files_failed++, st->docs_failed++;
    report(diag, ud, file, 0, 0, code, msg);
    return code;
}

va_err va_rule_load_file(va_arena *a, const char *path, va_rule_set *set, va_rule_diag_fn diag,
                         void *ud, va_rule_stats *st) {
    loader l;
    memset(&l, 0, sizeof l);
    va_err e = load_file(&l, a, path, set, diag, ud, st);
    loader_free(&l);
    return e;
}

/* load_file for a file stat found as stamp (ino 0: not looked at): from the pack without
 * opening the file when the pack has that stamp. */
static va_err load_stamped(loader *l, va_arena *a, const char *path, const yc_stamp *stamp,
                           va_rule_set *set, va_rule_diag_fn diag, void *ud, va_rule_stats *st) {
    yview v;
    size_t at;
    if (!l->cache || !stamp->ino || yc_find_stamp(l->cache, stamp, &v, &at))
        return load_file(l, a, path, set, diag, ud, st);
    const char *file = va_arena_strndup(a, path, strlen(path));
    if (!file) {
        l->last.where = YR_NONE;
        report(diag, ud, path, 0, 0, VA_ENOMEM, "out of memory");
        return VA_ENOMEM;
    }
    l->last = (yref){YR_PACK, at, 1};
    if (st) st->files++, st->cached++, st->unread++;
    return load_docs(&v, a, file, set, diag, ud, st);
}

/* What to do with each rule file a directory walk finds. */
typedef struct walker {
    va_err (*file)(struct walker *w, const char *path, const struct stat *sb);
    va_arena *a; /* load mode */
    loader *l;
    va_rule_set *set;
    va_rule_stats *st;
    va_rule_diag_fn diag;
    void *ud;
    char **paths;     /* list mode */
    yc_stamp *stamps; /* what stat said of each (zeros: nothing) */
    size_t n, cap, capstamps;
    size_t *at; /* list mode: where the next diagnostic goes in file order */
    va_err first;
} walker;

static va_err walk_load(walker *w, const char *path, const struct stat *sb) {
    (void)sb;
    return load_file(w->l, w->a, path, w->set, w->diag, w->ud, w->st);
}

static va_err walk_list(walker *w, const char *path, const struct stat *sb) {
    char *c = NULL;
    if (VA_ARRAY_GROW(w->paths, w->cap, w->n + 1) ||
        VA_ARRAY_GROW(w->stamps, w->capstamps, w->n + 1) || !(c = strdup(path)))
        return VA_ENOMEM;
    w->paths[w->n] = c;
    memset(&w->stamps[w->n], 0, sizeof w->stamps[w->n]);
    if (sb) yc_stamp_of(sb, &w->stamps[w->n]);
    w->n++;
    if (w->at) *w->at = w->n;
    return VA_OK;
}

static int walk_file(void *ud, const char *path, const struct stat *sb) {
    walker *w = ud;
    va_err e = w->file(w, path, sb);
    if (e == VA_ENOMEM && w->file == walk_list)
        report(w->diag, w->ud, path, 0, 0, e, "out of memory");
    if (e == VA_ENOMEM || !w->first) w->first = e;
    return e == VA_ENOMEM;
}

/* Folder problems (unreadable directories, loops) are reported as rule diagnostics. */
static void walk_diag(void *ud, const va_diag *d) {
    walker *w = ud;
    report(w->diag, w->ud, d->file, 0, 0, d->code, d->msg);
}

/* Walk dir with core/walk.h (each directory once, byte-sorted names, hidden entries skipped),
 * handing every *.yml / *.yaml file to w->file. */
static va_err walk(walker *w, const char *dir) {
    static const char *const exts[] = {".yml", ".yaml", NULL};
    va_walk_opts o = {exts, 0};
    va_err e = va_walk_dir(dir, &o, walk_file, w, walk_diag, w);
    if (e == VA_ENOMEM || (e && !w->first)) w->first = e;
    return w->first;
}

va_err va_rule_load_path(va_arena *a, const char *path, va_rule_set *set, va_rule_diag_fn diag,
                         void *ud, va_rule_stats *st) {
    struct stat sb;
    if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) {
        loader l;
        memset(&l, 0, sizeof l);
        walker w = {
            .file = walk_load, .a = a, .l = &l, .set = set, .st = st, .diag = diag, .ud = ud};
        va_err e = walk(&w, path);
        loader_free(&l);
        return e;
    }
    return va_rule_load_file(a, path, set, diag, ud, st);
}

const char *va_rule_kind_name(va_rule_kind k) {
    switch (k) {
    case VA_RULE_KIND_DETECTION:
        return "detection";
    case VA_RULE_KIND_FILTER:
        return "filter";
    case VA_RULE_KIND_CORRELATION:
        return "correlation";
    }
    return "?";
}

const char *va_rule_ctype_name(va_rule_ctype t) {
    switch (t) {
    case VA_RULE_EVENT_COUNT:
        return "event_count";
    case VA_RULE_VALUE_COUNT:
        return "value_count";
    case VA_RULE_TEMPORAL:
        return "temporal";
    case VA_RULE_TEMPORAL_ORDERED:
        return "temporal_ordered";
    case VA_RULE_VALUE_SUM:
        return "value_sum";
    case VA_RULE_VALUE_AVG:
        return "value_avg";
    case VA_RULE_VALUE_PERCENTILE:
        return "value_percentile";
    }
    return "?";
}

const char *va_rule_cmpop_name(va_rule_cmpop op) {
    switch (op) {
    case VA_RULE_GT:
        return "gt";
    case VA_RULE_GTE:
        return "gte";
    case VA_RULE_LT:
        return "lt";
    case VA_RULE_LTE:
        return "lte";
    case VA_RULE_EQ:
        return "eq";
    case VA_RULE_NEQ:
        return "neq";
    }
    return "?";
}

const char *va_rule_vtype_name(va_rule_vtype t) {
    switch (t) {
    case VA_RULE_STR:
        return "string";
    case VA_RULE_INT:
        return "int";
    case VA_RULE_FLOAT:
        return "float";
    case VA_RULE_BOOL:
        return "bool";
    case VA_RULE_NULL:
        return "null";
    }
    return "?";
}

/* ---- loading with several threads ---------------------------------------------------------- */

/* A diagnostic kept until the runs are joined, so they come out in file order: before the
 * diagnostics of file `at` (load_paths' numbering) and after those of the files before it. */
typedef struct kept_diag {
    char *file, *msg;
    uint32_t line, col;
    va_err code;
    size_t at;
} kept_diag;

typedef struct kept {
    kept_diag *d;
    size_t n, cap;
    size_t at; /* stamped on the next diagnostic */
    int oom;
} kept;

static void keep_diag(void *ud, const va_rule_diag *d) {
    kept *r = ud;
    if (VA_ARRAY_GROW(r->d, r->cap, r->n + 1)) {
        r->oom = 1;
        return;
    }
    kept_diag *k = &r->d[r->n];
    k->file = strdup(d->file ? d->file : "");
    k->msg = strdup(d->msg ? d->msg : "");
    if (!k->file || !k->msg) {
        free(k->file), free(k->msg);
        r->oom = 1;
        return;
    }
    k->line = d->line, k->col = d->col, k->code = d->code, k->at = r->at;
    r->n++;
}

/* Deliver (and free) the kept diagnostics of k from *i on that come before file `before`. */
static void flush_kept(kept *k, size_t *i, size_t before, va_rule_diag_fn diag, void *ud) {
    for (; *i < k->n && k->d[*i].at < before; ++*i) {
        kept_diag *x = &k->d[*i];
        report(diag, ud, x->file, x->line, x->col, x->code, x->msg);
        free(x->file), free(x->msg);
    }
}

typedef struct run {
    va_arena *a;
    char **paths;
    const yc_stamp *stamps; /* of each path */
    size_t n, first;        /* paths[0] is file `first` of the listing */
    va_rule_set set;
    va_rule_stats st;
    kept k;
    va_err err; /* the first failure, of file err_at */
    size_t err_at;
    const ycache *cache; /* the pack read (NULL: no cache) */
    va_buf out;          /* streams parsed here, for the next pack */
    yref *refs;          /* where each file's stream is (NULL: no next pack) */
} run;

static void *run_load(void *arg) {
    run *r = arg;
    loader l;
    memset(&l, 0, sizeof l);
    l.cache = r->cache;
    if (r->cache && (r->refs = calloc(r->n ? r->n : 1, sizeof *r->refs))) l.out = &r->out;
    for (size_t i = 0; i < r->n; i++) {
        r->k.at = r->first + i;
        va_err e =
            load_stamped(&l, r->a, r->paths[i], &r->stamps[i], &r->set, keep_diag, &r->k, &r->st);
        if (r->refs) r->refs[i] = l.last;
        if (e && !r->err) r->err = e, r->err_at = r->first + i;
        if (e == VA_ENOMEM) break;
    }
    loader_free(&l);
    return NULL;
}

/* yc_read on a thread of its own. */
typedef struct yc_reader {
    ycache *c;
    const char *path;
} yc_reader;

static void *run_yc_read(void *arg) {
    yc_reader *r = arg;
    yc_read(r->c, r->path);
    return NULL;
}

/* The pack for a list of rule paths: DIR/rules-HASH.yc (malloc'd; NULL out of memory). */
static char *yc_path(const char *dir, const char *const *paths, size_t npaths) {
    uint64_t h = 0;
    for (size_t i = 0; i < npaths; i++) h = va_hash_mem(paths[i], strlen(paths[i]) + 1, h);
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/rules-%016llx.yc", dir, (unsigned long long)h);
    return p;
}

/* Remove all but the YC_KEEP most recently written packs in dir; the one just written (named
 * keep) stays whatever the clock says. */
static void yc_prune(const char *dir, const char *keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct old {
        char name[40];
        struct timespec t;
    } v[YC_KEEP];
    size_t n = 0;
    char path[4096];
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        struct stat sb;
        if (strncmp(de->d_name, "rules-", 6) || l < 9 || l >= sizeof v[0].name ||
            strcmp(de->d_name + l - 3, ".yc") || !strcmp(de->d_name, keep))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &sb)) continue;
        /* v: the YC_KEEP - 1 newest others so far, newest first; what falls off the end goes */
        size_t i = n < YC_KEEP ? n++ : YC_KEEP - 1;
        memcpy(v[i].name, de->d_name, l + 1);
        v[i].t = sb.st_mtim;
        for (;
             i > 0 && (v[i - 1].t.tv_sec < v[i].t.tv_sec ||
                       (v[i - 1].t.tv_sec == v[i].t.tv_sec && v[i - 1].t.tv_nsec < v[i].t.tv_nsec));
             i--) {
            struct old t = v[i - 1];
            v[i - 1] = v[i], v[i] = t;
        }
        if (n == YC_KEEP) {
            snprintf(path, sizeof path, "%s/%s", dir, v[YC_KEEP - 1].name);
            unlink(path);
            n = YC_KEEP - 1;
        }
    }
    closedir(d);
}

/* Write the next pack: each file's stream once, in file order, and the stamps of the files
 * settled before start_ns (CLOCK_REALTIME), if that is not the pack read. */
static void yc_write(const char *dir, const char *path, const ycache *c, const run *runs, int nr,
                     int64_t start_ns) {
    const char **v = NULL; /* the entries, in file order */
    size_t n = 0, cap = 0, from_pack = 0, fresh = 0;
    yc_stamped *sv = NULL; /* the stamps; entry: the index in v, as in the pack written */
    size_t ns = 0, caps = 0, by_stamp = 0;
    uint64_t total = 0;
    va_hash seen, seen_st;
    va_hash_init(&seen);
    va_hash_init(&seen_st);
    int ok = 1;
    for (int k = 0; k < nr && ok; k++) {
        ok = runs[k].refs && !runs[k].out.oom;
        for (size_t i = 0; ok && i < runs[k].n; i++) {
            const yref *f = &runs[k].refs[i];
            if (f->where == YR_NONE) continue;
            const char *p = f->where == YR_PACK ? c->buf + f->at : runs[k].out.p + f->at;
            const yc_entry *e = (const yc_entry *)p;
            va_hash_iter it;
            uint32_t j = va_hash_first(&seen, e->key[0], &it);
            for (; j != VA_HASH_END; j = va_hash_next(&seen, &it)) {
                const yc_entry *o = (const yc_entry *)v[j];
                if (o->key[0] == e->key[0] && o->key[1] == e->key[1] && o->len == e->len) break;
            }
            if (j == VA_HASH_END) { /* else a copy of a file already in */
                if (n >= UINT32_MAX - 1 || VA_ARRAY_GROW(v, cap, n + 1) ||
                    va_hash_insert(&seen, e->key[0], (uint32_t)n)) {
                    ok = 0;
                    break;
                }
                j = (uint32_t)n;
                v[n++] = p;
                from_pack += f->where == YR_PACK;
                fresh += f->where == YR_OUT;
                total += sizeof *e + yc_body(e);
            }
            /* A stamp for a settled file of the size read, once per file (links to one file
             * are one stamp) */
            const yc_stamp *st = &runs[k].stamps[i];
            if (!st->ino || st->size != e->len || st->ctime_ns >= start_ns - YC_SETTLED_NS)
                continue;
            uint32_t q = va_hash_first(&seen_st, yc_stamp_hash(st), &it);
            for (; q != VA_HASH_END; q = va_hash_next(&seen_st, &it))
                if (sv[q].st.dev == st->dev && sv[q].st.ino == st->ino) break;
            if (q != VA_HASH_END) continue;
            if (VA_ARRAY_GROW(sv, caps, ns + 1) ||
                va_hash_insert(&seen_st, yc_stamp_hash(st), (uint32_t)ns)) {
                ok = 0;
                break;
            }
            sv[ns++] = (yc_stamped){*st, j};
            by_stamp += f->by_stamp;
        }
    }
    /* Unchanged when every entry and every stamp came from this pack. */
    int same = !fresh && from_pack == c->n && by_stamp == ns && ns == c->nstamps;
    if (ok && !same && total <= YC_MAX) {
        mkdir(dir, 0700);
        size_t tn = strlen(path) + 32;
        char *tmp = malloc(tn);
        FILE *f = NULL;
        if (tmp) {
            snprintf(tmp, tn, "%s.%ld.tmp", path, (long)getpid());
            f = fopen(tmp, "wb");
        }
        if (f) {
            yc_head h;
            memset(&h, 0, sizeof h);
            memcpy(h.magic, YC_MAGIC, 8);
            yc_version(h.yaml);
            h.node_size = sizeof(ynode), h.n = (uint32_t)n, h.len = total;
            h.nstamps = ns;
            h.stamp_sum = va_hash_sum(sv, ns * sizeof *sv, 0);
            int w = fwrite(&h, sizeof h, 1, f) == 1;
            for (size_t i = 0; w && i < n; i++) {
                size_t size = sizeof(yc_entry) + (size_t)yc_body((const yc_entry *)v[i]);
                w = fwrite(v[i], 1, size, f) == size;
            }
            if (w && ns) w = fwrite(sv, sizeof *sv, ns, f) == ns;
            if (fclose(f)) w = 0;
            /* rename: readers never see half a pack */
            if (!w || rename(tmp, path)) unlink(tmp);
            yc_prune(dir, strrchr(path, '/') + 1);
        }
        free(tmp);
    }
    free(v);
    free(sv);
    va_hash_free(&seen);
    va_hash_free(&seen_st);
}

va_err va_rule_load_paths(va_arena *arenas, int nthreads, const char *const *paths, size_t npaths,
                          const char *cache_dir, va_rule_set *set, va_rule_diag_fn diag, void *ud,
                          va_rule_stats *st) {
    if (nthreads < 1) nthreads = 1;
    if (nthreads > VA_RULE_MAX_THREADS) nthreads = VA_RULE_MAX_THREADS;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t start_ns = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec; /* before any stat */
    /* The pack of parsed streams, shared (read only) by the loading threads; with more than
     * one thread, read on one of its own while the folders are walked (the two took about as
     * long with SigmaHQ). */
    ycache cache;
    memset(&cache, 0, sizeof cache);
    char *pack = cache_dir && *cache_dir && npaths ? yc_path(cache_dir, paths, npaths) : NULL;
    yc_reader rd = {&cache, pack};
    pthread_t reader;
    int reading = pack && nthreads > 1 && !pthread_create(&reader, NULL, run_yc_read, &rd);
    if (pack && !reading) yc_read(&cache, pack);
    /* 1. The files, in the order loading one by one would take them; the walk's reports are
     * kept in that order too. */
    kept lst = {0};
    walker w = {.file = walk_list, .st = st, .diag = keep_diag, .ud = &lst, .at = &lst.at};
    va_err first = VA_OK;
    for (size_t i = 0; i < npaths && first != VA_ENOMEM; i++) {
        struct stat sb;
        va_err e;
        if (!stat(paths[i], &sb) && S_ISDIR(sb.st_mode)) {
            w.first = VA_OK; /* this path's first problem */
            e = walk(&w, paths[i]);
        } else {
            e = walk_list(&w, paths[i], stat(paths[i], &sb) ? NULL : &sb);
            if (e == VA_ENOMEM)
                keep_diag(&lst, &(va_rule_diag){paths[i], 0, 0, e, "out of memory"});
        }
        if (e && !first) first = e;
        if (e == VA_ENOMEM) first = e;
    }
    /* 2. Contiguous runs of about equal bytes, one per thread, each into its own arena. */
    run runs[VA_RULE_MAX_THREADS];
    memset(runs, 0, sizeof runs);
    uint64_t total = 0;
    for (size_t i = 0; i < w.n; i++) total += w.stamps[i].size + 1;
    int nr = 0;
    if (first != VA_ENOMEM) {
        size_t at = 0;
        uint64_t done = 0;
        for (int k = 0; k < nthreads && at < w.n; k++) {
            uint64_t goal = total * (uint64_t)(k + 1) / (uint64_t)nthreads;
            runs[k].a = &arenas[k];
            runs[k].paths = w.paths + at;
            runs[k].stamps = w.stamps + at;
            runs[k].first = at;
            while (at < w.n && (done < goal || k == nthreads - 1)) done += w.stamps[at++].size + 1;
            runs[k].n = (size_t)(w.paths + at - runs[k].paths);
            nr = k + 1;
        }
    }
    if (reading) pthread_join(reader, NULL);
    if (pack && !nr) { /* no file: nothing to take or keep */
        yc_free(&cache);
        free(pack);
        pack = NULL;
    }
    for (int k = 0; k < nr; k++) runs[k].cache = pack ? &cache : NULL;
    pthread_t tid[VA_RULE_MAX_THREADS];
    int started[VA_RULE_MAX_THREADS] = {0};
    for (int k = 1; k < nr; k++) started[k] = !pthread_create(&tid[k], NULL, run_load, &runs[k]);
    if (nr) run_load(&runs[0]);
    for (int k = 1; k < nr; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            run_load(&runs[k]); /* no thread: load it here */
    }
    /* 3. Join the runs in order, the walk's reports among theirs: the same set and reports as
     * one by one, and the same first failure (the walk's is before file lst.d[0].at). */
    size_t li = 0, first_at = first && lst.n ? lst.d[0].at : 0;
    int nomem = first == VA_ENOMEM;
    for (int k = 0; k < nr; k++) {
        run *r = &runs[k];
        for (size_t i = 0; i < r->k.n; i++) {
            kept_diag *x = &r->k.d[i];
            flush_kept(&lst, &li, x->at + 1, diag, ud); /* the walk's, up to this file */
            report(diag, ud, x->file, x->line, x->col, x->code, x->msg);
            free(x->file), free(x->msg);
        }
        free(r->k.d);
        if (r->k.oom) {
            report(diag, ud, r->n ? r->paths[0] : "", 0, 0, VA_ENOMEM,
                   "out of memory: some reports were lost");
            nomem = 1;
        }
        if (r->set.head) {
            if (set->tail)
                set->tail->next = r->set.head;
            else
                set->head = r->set.head;
            set->tail = r->set.tail;
            set->n += r->set.n;
        }
        if (st) {
            st->files += r->st.files, st->files_failed += r->st.files_failed;
            st->docs_failed += r->st.docs_failed;
            st->cached += r->st.cached, st->unread += r->st.unread;
            for (int j = 0; j < 4; j++) st->by_kind[j] += r->st.by_kind[j];
        }
        if (r->err == VA_ENOMEM) nomem = 1;
        if (r->err && (!first || r->err_at < first_at)) first = r->err, first_at = r->err_at;
    }
    flush_kept(&lst, &li, SIZE_MAX, diag, ud);
    free(lst.d);
    if (lst.oom) {
        report(diag, ud, "", 0, 0, VA_ENOMEM, "out of memory: some reports were lost");
        nomem = 1;
    }
    if (nomem) first = VA_ENOMEM;
    if (pack && !nomem) yc_write(cache_dir, pack, &cache, runs, nr, start_ns);
    for (int k = 0; k < nr; k++) free(runs[k].refs), va_buf_free(&runs[k].out);
    free(pack);
    yc_free(&cache);
    for (size_t i = 0; i < w.n; i++) free(w.paths[i]);
    free(w.paths);
    free(w.stamps);
    return first;
}

/* ---- duplicate ids ------------------------------------------------------------------------- */

va_err va_rule_duplicate_ids(const va_rule_set *set, va_rule_dup_fn fn, void *ud, uint32_t *ndup) {
    const va_rule **v = NULL; /* rules with an id, in set order, indexed by the table */
    size_t n = 0, cap = 0;
    va_hash t;
    va_hash_init(&t);
    uint32_t dups = 0;
    va_err e = VA_OK;
    for (const va_rule *r = set->head; r && !e; r = r->next) {
        if (!r->id || !*r->id) continue;
        size_t len = strlen(r->id);
        uint64_t h = va_hash_mem_lower(r->id, len, 0);
        const va_rule *first = NULL;
        va_hash_iter it;
        for (uint32_t i = va_hash_first(&t, h, &it); i != VA_HASH_END && !first;
             i = va_hash_next(&t, &it))
            if (!strcasecmp(v[i]->id, r->id)) first = v[i];
        if (first) {
            dups++;
            if (fn) fn(ud, first, r);
        } else if (n >= UINT32_MAX - 1 || VA_ARRAY_GROW(v, cap, n + 1) ||
                   va_hash_insert(&t, h, (uint32_t)n)) {
            e = VA_ENOMEM;
        } else {
            v[n++] = r;
        }
    }
    free(v);
    va_hash_free(&t);
    if (ndup) *ndup = dups;
    return e;
}
