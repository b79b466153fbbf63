/*
 * winevent_map.c - one parsed JSON Windows event to the flat event (see winevent.h).
 *
 * evtx_dump objects go through the EVTX flattener (evtx/flat.h), the single owner of Windows
 * field naming.  NXLog and Winlogbeat objects are already flat or nearly so: they are mapped
 * here by name tables onto the same names the flattener gives the System fields, in the same
 * order, and their event fields are kept by their own names.
 *
 * Rules shared by the NXLog and Winlogbeat tables:
 *   - a number-like System value (EventID, Version, Level, Task, Opcode, EventRecordID,
 *     ProcessID, ThreadID) given as a string of digits becomes VA_V_UINT, as EVTX has it;
 *   - Level, Task, Opcode and keywords given as rendered names ("Information", "Process
 *     Creation", "Info", "Audit Success") are not the numbers EVTX has under those names: they
 *     become RenderingInfo_Level, RenderingInfo_Task, RenderingInfo_Opcode, RenderingInfo_Keyword,
 *     the names the flattener gives EVTX's own rendered texts;
 *   - Keywords as a number (NXLog writes the 64-bit mask as a signed integer) becomes EVTX's
 *     "0x%016x" text;
 *   - the time is the first candidate that says its zone, never a zone-less one while a
 *     zoned one is there (pick_time; the order is in winevent.h): NXLog's EventTime is local
 *     time, and reading it as UTC put events hours off.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/vtime.h"
#include "evtx/flat.h"
#include "json/winevent.h"

/* ---- shared helpers ---------------------------------------------------------------------- */

static int is_digits(const char *s, size_t n) {
    if (!n || n > 20) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int is_str(const va_json *v) {
    return v && v->type == VA_JSON_STRING;
}

/* Member at a dotted path of nested objects ("process.thread.id"); NULL if any step is absent. */
static const va_json *path_get(const va_json *v, const char *path) {
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t l = dot ? (size_t)(dot - path) : strlen(path);
        v = va_json_getn(v, path, l);
        path += l + (dot ? 1 : 0);
    }
    return v;
}

/* A scalar's value as a field: strings, numbers and booleans by their text and type. */
static va_err add_scalar(va_event *ev, const char *name, size_t nlen, const va_json *v) {
    return va_event_add(ev, name, nlen, v->s, v->len, va_json_vtype(v));
}

static va_err add_static(va_event *ev, const char *name, const va_json *v) {
    return add_scalar(ev, name, strlen(name), v);
}

/* A number-like System value: digit strings become VA_V_UINT. */
static va_err add_num(va_event *ev, const char *name, const va_json *v) {
    if (v->type == VA_JSON_STRING && is_digits(v->s, v->len))
        return va_event_add(ev, name, strlen(name), v->s, v->len, VA_V_UINT);
    return add_static(ev, name, v);
}

/* Level/Task/Opcode: the number under name, a rendered name under rendered. */
static va_err add_num_or_name(va_event *ev, const char *name, const char *rendered,
                              const va_json *v) {
    if (v->type == VA_JSON_STRING && !is_digits(v->s, v->len) && v->len)
        return add_static(ev, rendered, v);
    return add_num(ev, name, v);
}

/* Decimal text (optionally signed) to the 64-bit mask it denotes; -1 if it is not one. */
static int parse_mask(const char *s, size_t n, uint64_t *out) {
    int neg = n && s[0] == '-';
    if (!is_digits(s + neg, n - (size_t)neg)) return -1;
    uint64_t v = 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        /* NXLog writes the mask signed: take the bit pattern of that int64. */
        if (v > (uint64_t)INT64_MAX + 1) return -1;
        v = (uint64_t)0 - v;
    }
    *out = v;
    return 0;
}

/* Keywords: EVTX renders the mask as 0x%016x; names go to RenderingInfo_Keyword. */
static va_err add_keywords(va_event *ev, const va_json *v) {
    uint64_t mask;
    char hex[24];
    if (v->type == VA_JSON_ARRAY) {
        for (const va_json *c = v->child; c; c = c->next) {
            if (!va_json_is_scalar(c)) continue;
            va_err e = add_keywords(ev, c);
            if (e) return e;
        }
        return VA_OK;
    }
    if ((v->type == VA_JSON_NUMBER || v->type == VA_JSON_STRING) &&
        !parse_mask(v->s, v->len, &mask)) {
        int n = snprintf(hex, sizeof hex, "0x%016" PRIx64, mask);
        return va_event_add_copy(ev, "Keywords", 8, hex, (size_t)n, VA_V_STR);
    }
    if (v->type == VA_JSON_STRING && v->len > 2 && v->s[0] == '0' && (v->s[1] | 0x20) == 'x')
        return add_static(ev, "Keywords", v);
    if (v->type == VA_JSON_STRING && v->len) return add_static(ev, "RenderingInfo_Keyword", v);
    return add_static(ev, "Keywords", v);
}

/* Does ISO 8601 text say its zone ("Z", "+02:00", "-0400")?  Only after the date: a '-' there
 * can only start an offset. */
static int has_zone(const char *s, size_t n) {
    if (n <= 10 || (s[10] != 'T' && s[10] != ' ')) return 0;
    for (size_t i = 11; i < n; i++)
        if (s[i] == 'Z' || s[i] == 'z' || s[i] == '+' || s[i] == '-') return 1;
    return 0;
}

/* Which of the time members cand[0..n) (NULL where absent) is the event's time: the first
 * that is a time with a zone; else the first that is a time without one (*unzoned set: it
 * will be read as UTC); else the first present, kept as the text it is.  A time without a
 * zone is never taken as UTC while a zoned one is there. */
static const va_json *pick_time(const va_json *const *cand, size_t n, int *unzoned) {
    int64_t ns;
    for (size_t i = 0; i < n; i++)
        if (is_str(cand[i]) && !va_time_parse_iso(cand[i]->s, cand[i]->len, &ns) &&
            has_zone(cand[i]->s, cand[i]->len))
            return cand[i];
    for (size_t i = 0; i < n; i++)
        if (is_str(cand[i]) && !va_time_parse_iso(cand[i]->s, cand[i]->len, &ns)) {
            *unzoned = 1;
            return cand[i];
        }
    for (size_t i = 0; i < n; i++)
        if (cand[i]) return cand[i];
    return NULL;
}

/* TimeCreated as vaern writes it (7 fractional digits, UTC); text it cannot read stays as is. */
static va_err add_time(va_event *ev, const va_json *v) {
    int64_t ns;
    char out[40];
    if (v->type == VA_JSON_STRING && !va_time_parse_iso(v->s, v->len, &ns)) {
        size_t n = va_time_fmt_ns(ns, 7, out);
        return va_event_add_copy(ev, "TimeCreated", 11, out, n, VA_V_STR);
    }
    return add_static(ev, "TimeCreated", v);
}

/* Event fields of NXLog/Winlogbeat: scalars by name, arrays as repeated fields, nested objects
 * as name_member (join = 1) or by their leaf names (join = 0, as the flattener names UserData). */
static va_err add_member(va_event *ev, const char *name, size_t nlen, const va_json *v, int join,
                         int depth) {
    va_err e = VA_OK;
    if (depth > VA_JSON_HARD_MAX_DEPTH) return VA_OK;
    if (va_json_is_scalar(v)) return add_scalar(ev, name, nlen, v);
    for (const va_json *c = v->child; c && !e; c = c->next) {
        if (v->type == VA_JSON_ARRAY) {
            e = add_member(ev, name, nlen, c, join, depth + 1);
        } else if (!join) {
            e = add_member(ev, c->key, c->klen, c, join, depth + 1);
        } else {
            char *n = va_arena_alloc(ev->arena, nlen + c->klen + 2);
            if (!n) return VA_ENOMEM;
            memcpy(n, name, nlen);
            n[nlen] = '_';
            memcpy(n + nlen + 1, c->key, c->klen);
            n[nlen + 1 + c->klen] = 0;
            e = add_member(ev, n, nlen + 1 + c->klen, c, join, depth + 1);
        }
    }
    return e;
}

/* ---- evtx_dump: walk the object as XML into the flattener --------------------------------- */

static int keyeq(const char *k, size_t kl, const char *s) {
    size_t l = strlen(s);
    return kl == l && memcmp(k, s, l) == 0;
}

static int is_bare_guid(const char *s, size_t n) {
    if (n != 36) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Attributes of System children whose evtx_dump text differs from EVTX's: the GUIDs, printed
 * without braces, and SystemTime, printed with 6 fractional digits. */
static void sys_attr(va_flat *fl, const char *el, size_t ell, const va_json *a) {
    char buf[48];
    if (a->type == VA_JSON_STRING) {
        if (keyeq(el, ell, "TimeCreated") && keyeq(a->key, a->klen, "SystemTime")) {
            int64_t ns;
            if (!va_time_parse_iso(a->s, a->len, &ns)) {
                size_t n = va_time_fmt_ns(ns, 7, buf);
                va_flat_attr(fl, a->key, a->klen, buf, n, VA_V_STR);
                return;
            }
        }
        if (((keyeq(el, ell, "Provider") && keyeq(a->key, a->klen, "Guid")) ||
             (keyeq(el, ell, "Correlation") && (keyeq(a->key, a->klen, "ActivityID") ||
                                                keyeq(a->key, a->klen, "RelatedActivityID")))) &&
            is_bare_guid(a->s, a->len)) {
            buf[0] = '{';
            memcpy(buf + 1, a->s, 36);
            buf[37] = '}';
            va_flat_attr(fl, a->key, a->klen, buf, 38, VA_V_STR);
            return;
        }
    }
    va_flat_attr(fl, a->key, a->klen, a->s, a->len, va_json_vtype(a));
}

/* One element to emit.  evtx_dump writes attributes under "#attributes", or, with
 * --separate-json-attributes, in a sibling member "<name>_attributes"; sep is that sibling. */
typedef struct el {
    const char *name;
    size_t nlen;
    const va_json *v;    /* the element's value */
    const va_json *sep;  /* separate attributes object, or NULL */
    const va_json *text; /* text to use instead of v's own "#text", or NULL */
    int children;        /* emit v's child members */
    int depth;           /* 0 for <Event> */
    int in_system;
} el;

static void walk_el(va_flat *fl, const el *e);

static void emit_attrs(va_flat *fl, const el *e, const va_json *attrs) {
    if (!attrs || attrs->type != VA_JSON_OBJECT) return;
    for (const va_json *a = attrs->child; a; a = a->next) {
        if (!va_json_is_scalar(a)) continue; /* evtx_dump never nests attributes */
        if (e->in_system && e->depth == 2)
            sys_attr(fl, e->name, e->nlen, a);
        else
            va_flat_attr(fl, a->key, a->klen, a->s, a->len, va_json_vtype(a));
    }
}

static int is_sep_attrs(const va_json *c) {
    return c->type == VA_JSON_OBJECT && c->klen > 11 &&
           memcmp(c->key + c->klen - 11, "_attributes", 11) == 0;
}

/* The "<name>_attributes" sibling of member c in object parent, or NULL. */
static const va_json *sep_of(const va_json *parent, const va_json *c) {
    for (const va_json *s = parent->child; s; s = s->next)
        if (is_sep_attrs(s) && s->klen == c->klen + 11 && memcmp(s->key, c->key, c->klen) == 0)
            return s;
    return NULL;
}

static void emit_el(va_flat *fl, const el *e) {
    const va_json *v = e->v;
    va_flat_open(fl, e->name, e->nlen);
    emit_attrs(fl, e, e->sep);
    if (va_json_is_scalar(v)) {
        if (v->type != VA_JSON_NULL) va_flat_text(fl, v->s, v->len, va_json_vtype(v));
        va_flat_close(fl);
        return;
    }
    emit_attrs(fl, e, va_json_get(v, "#attributes"));
    const va_json *text = e->text ? e->text : va_json_get(v, "#text");
    if (text && va_json_is_scalar(text) && text->type != VA_JSON_NULL)
        va_flat_text(fl, text->s, text->len, va_json_vtype(text));
    for (const va_json *c = v->child; c && e->children; c = c->next) {
        if (c->key[0] == '#' &&
            (keyeq(c->key, c->klen, "#attributes") || keyeq(c->key, c->klen, "#text")))
            continue;
        el sub = {c->key,
                  c->klen,
                  c,
                  NULL,
                  NULL,
                  1,
                  e->depth + 1,
                  e->depth == 0 ? keyeq(c->key, c->klen, "System") : e->in_system};
        if (is_sep_attrs(c)) {
            /* Attributes of a sibling, emitted with it; alone, they are an element with
             * attributes only. */
            sub.nlen = c->klen - 11;
            sub.in_system = e->depth == 0 ? keyeq(c->key, sub.nlen, "System") : e->in_system;
            if (va_json_getn(v, c->key, sub.nlen)) continue;
            static const va_json null_value = {.type = VA_JSON_NULL, .s = ""};
            sub.sep = c, sub.v = &null_value;
        } else {
            sub.sep = sep_of(v, c);
        }
        walk_el(fl, &sub);
    }
    va_flat_close(fl);
}

static void walk_el(va_flat *fl, const el *e) {
    if (e->depth > VA_JSON_HARD_MAX_DEPTH) return;
    const va_json *v = e->v;
    if (v->type == VA_JSON_ARRAY) {
        /* Repeated elements; an array in an array has no XML meaning: items are flattened. */
        for (const va_json *c = v->child; c; c = c->next) {
            el item = *e;
            item.v = c;
            walk_el(fl, &item);
        }
        return;
    }
    const va_json *text = v->type == VA_JSON_OBJECT ? va_json_get(v, "#text") : NULL;
    if (text && text->type == VA_JSON_ARRAY) {
        /* evtx_dump collapses <Data>a</Data><Data>b</Data> into {"#text": ["a", "b"]}: one
         * element per item, the first one carrying any child elements. */
        for (const va_json *t = text->child; t; t = t->next) {
            el item = *e;
            item.text = t;
            item.children = t == text->child;
            emit_el(fl, &item);
        }
        return;
    }
    emit_el(fl, e);
}

static va_err map_evtx_dump(const va_json *root, va_event *ev, va_buf *text) {
    const va_json *event = va_json_get(root, "Event");
    va_flat fl;
    va_flat_begin(&fl, ev, text);
    el root_el = {event->key, event->klen, event, NULL, NULL, 1, 0, 0};
    walk_el(&fl, &root_el);
    return va_flat_end(&fl);
}

/* ---- classic PowerShell ------------------------------------------------------------------ */

/* The "Windows PowerShell" channel's events (400, 403, 600, 800) carry their details in unnamed
 * <Data> elements, which EVTX gives as the repeated field Data (Data[2] of 400 is the block
 * "\tNewEngineState=Available\r\n...\tHostApplication=...") and which the SigmaHQ rules of
 * ps_classic_start and ps_classic_provider_start test.  NXLog writes no Data, only Message, the
 * rendered text; Winlogbeat names them param1, param2, ...  For NXLog (and Winlogbeat without
 * event_data) Data is the Message's details block: from the first line that starts with a tab
 * to the end, without the line breaks that end it.  That is Data[2] exactly for 400, 403 and
 * 600, and Data[1] and Data[2] with the template's "Details:" line between them for 800; the
 * template's own words (localised) are left out. */
static int is_ps_classic(const va_event *ev) {
    static const char ch[] = "Windows PowerShell";
    const va_field *c = va_event_get(ev, "Channel");
    return c && c->vlen == sizeof ch - 1 && !strncasecmp(c->val, ch, sizeof ch - 1);
}

static va_err add_ps_classic_data(va_event *ev) {
    const va_field *m;
    if (!is_ps_classic(ev) || va_event_get(ev, "Data") || !(m = va_event_get(ev, "Message")))
        return VA_OK;
    const char *s = m->val;
    size_t n = m->vlen, start = 0;
    while (start < n && !(s[start] == '\t' && (start == 0 || s[start - 1] == '\n'))) start++;
    while (n > start && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (start >= n) return VA_OK; /* no details block: nothing that means Data */
    return va_event_add_copy(ev, "Data", 4, s + start, n - start, VA_V_STR);
}

/* Winlogbeat's name for the i-th unnamed <Data>: param1, param2, ... */
static int is_param(const char *k, size_t kl) {
    return kl > 5 && !memcmp(k, "param", 5) && is_digits(k + 5, kl - 5);
}

/* ---- NXLog im_msvistalog ----------------------------------------------------------------- */

enum { K_STR, K_NUM, K_LEVEL, K_TASK, K_OPCODE, K_KEYWORDS, K_TIME };

typedef struct sysfield {
    const char *src; /* member name in the source */
    const char *dst; /* field name, as the flattener names EVTX's System */
    int kind;
} sysfield;

/* In EVTX's System order.  The time is one of TimeCreated, EventTime (NXLog's name for it, in
 * the host's local time without a zone as NXLog writes it by default) and @timestamp (the
 * shipper's, in UTC: Logstash's reception time unless a pipeline sets it), chosen by
 * pick_time: the first with a zone, else the first without, read as UTC and noted. */
static const sysfield nx_sys[] = {
    {"SourceName", "Provider_Name", K_STR},
    {"ProviderGuid", "Provider_Guid", K_STR},
    {"EventID", "EventID", K_NUM},
    {"Version", "Version", K_NUM},
    {"Level", "Level", K_LEVEL},
    {"Task", "Task", K_TASK},
    {"OpcodeValue", "Opcode", K_NUM},
    {"Opcode", "Opcode", K_OPCODE},
    {"Keywords", "Keywords", K_KEYWORDS},
    {"TimeCreated", "TimeCreated", K_TIME},
    {"EventTime", "TimeCreated", K_TIME},
    {"@timestamp", "TimeCreated", K_TIME},
    {"RecordNumber", "EventRecordID", K_NUM},
    {"ActivityID", "Correlation_ActivityID", K_STR},
    {"RelatedActivityID", "Correlation_RelatedActivityID", K_STR},
    {"ExecutionProcessID", "ProcessID", K_NUM},
    {"ProcessID", "ProcessID", K_NUM},
    {"ExecutionThreadID", "ThreadID", K_NUM},
    {"ThreadID", "ThreadID", K_NUM},
    {"Channel", "Channel", K_STR},
    {"Hostname", "Computer", K_STR},
    {"UserID", "Security_UserID", K_STR},
};

/* Members that describe the transport, not the event: NXLog's reception time and input module,
 * and what Logstash adds (@version, host, port, tags).  @timestamp and EventTime are dropped
 * when they are not the time used. */
static const char *const nx_drop[] = {"EventReceivedTime",
                                      "SourceModuleName",
                                      "SourceModuleType",
                                      "@version",
                                      "host",
                                      "port",
                                      "tags"};

static va_err add_sys(va_event *ev, const sysfield *f, const va_json *v) {
    switch (f->kind) {
    case K_NUM:
        return add_num(ev, f->dst, v);
    case K_LEVEL:
        return add_num_or_name(ev, "Level", "RenderingInfo_Level", v);
    case K_TASK:
        return add_num_or_name(ev, "Task", "RenderingInfo_Task", v);
    case K_OPCODE:
        return add_num_or_name(ev, "Opcode", "RenderingInfo_Opcode", v);
    case K_KEYWORDS:
        return add_keywords(ev, v);
    case K_TIME:
        return add_time(ev, v);
    default:
        return add_static(ev, f->dst, v);
    }
}

static int nx_is_known(const char *k, size_t kl) {
    for (size_t i = 0; i < sizeof nx_sys / sizeof nx_sys[0]; i++)
        if (keyeq(k, kl, nx_sys[i].src)) return 1;
    for (size_t i = 0; i < sizeof nx_drop / sizeof nx_drop[0]; i++)
        if (keyeq(k, kl, nx_drop[i])) return 1;
    return 0;
}

static va_err map_nxlog(const va_json *root, va_event *ev, va_jsonev_notes *notes) {
    va_err e = VA_OK;
    const va_json *cand[3] = {NULL, NULL, NULL}; /* TimeCreated, EventTime, @timestamp */
    size_t nc = 0;
    for (size_t i = 0; i < sizeof nx_sys / sizeof nx_sys[0]; i++) {
        if (nx_sys[i].kind != K_TIME) continue;
        for (const va_json *c = root->child; c && !cand[nc]; c = c->next)
            if (keyeq(c->key, c->klen, nx_sys[i].src) && va_json_is_scalar(c) &&
                c->type != VA_JSON_NULL)
                cand[nc] = c;
        nc++;
    }
    int unzoned = 0, time_done = 0;
    const va_json *t = pick_time(cand, nc, &unzoned);
    for (size_t i = 0; i < sizeof nx_sys / sizeof nx_sys[0] && !e; i++) {
        const sysfield *f = &nx_sys[i];
        if (f->kind == K_TIME) {
            if (t && !time_done) e = add_time(ev, t);
            time_done = 1;
            continue;
        }
        /* Repeated members (not NXLog's habit, but valid JSON) are kept as repeated fields. */
        for (const va_json *c = root->child; c && !e; c = c->next) {
            if (!keyeq(c->key, c->klen, f->src)) continue;
            e = va_json_is_scalar(c) ? add_sys(ev, f, c)
                                     : add_member(ev, f->dst, strlen(f->dst), c, 1, 0);
        }
    }
    if (notes && unzoned) notes->unzoned_time = t;
    for (const va_json *c = root->child; c && !e; c = c->next)
        if (!nx_is_known(c->key, c->klen)) e = add_member(ev, c->key, c->klen, c, 1, 0);
    if (!e) e = add_ps_classic_data(ev);
    return e;
}

/* ---- Winlogbeat / ECS -------------------------------------------------------------------- */

static va_err map_winlogbeat(const va_json *root, va_event *ev, va_jsonev_notes *notes) {
    const va_json *w = va_json_get(root, "winlog"), *v;
    va_err e = VA_OK;
#define WL(expr)                                                                                   \
    do {                                                                                           \
        if (!e) e = (expr);                                                                        \
    } while (0)
    if (va_json_is_scalar(v = va_json_get(w, "provider_name")))
        WL(add_static(ev, "Provider_Name", v));
    if (va_json_is_scalar(v = va_json_get(w, "provider_guid")))
        WL(add_static(ev, "Provider_Guid", v));
    v = va_json_get(w, "event_id");
    if (!va_json_is_scalar(v)) v = path_get(root, "event.code");
    if (va_json_is_scalar(v)) WL(add_num(ev, "EventID", v));
    if (va_json_is_scalar(v = va_json_get(w, "version"))) WL(add_num(ev, "Version", v));
    v = va_json_get(w, "level");
    if (!va_json_is_scalar(v)) v = path_get(root, "log.level");
    if (va_json_is_scalar(v)) WL(add_num_or_name(ev, "Level", "RenderingInfo_Level", v));
    if (va_json_is_scalar(v = va_json_get(w, "task")))
        WL(add_num_or_name(ev, "Task", "RenderingInfo_Task", v));
    if (va_json_is_scalar(v = va_json_get(w, "opcode")))
        WL(add_num_or_name(ev, "Opcode", "RenderingInfo_Opcode", v));
    if ((v = va_json_get(w, "keywords"))) WL(add_keywords(ev, v));
    /* @timestamp is Winlogbeat's copy of the event's time, in UTC. */
    const va_json *cand[2] = {va_json_get(root, "@timestamp"), va_json_get(w, "time_created")};
    for (size_t i = 0; i < 2; i++)
        if (!va_json_is_scalar(cand[i]) || cand[i]->type == VA_JSON_NULL) cand[i] = NULL;
    int unzoned = 0;
    if ((v = pick_time(cand, 2, &unzoned))) WL(add_time(ev, v));
    if (notes && unzoned) notes->unzoned_time = v;
    if (va_json_is_scalar(v = va_json_get(w, "record_id"))) WL(add_num(ev, "EventRecordID", v));
    if (va_json_is_scalar(v = va_json_get(w, "activity_id")))
        WL(add_static(ev, "Correlation_ActivityID", v));
    if (va_json_is_scalar(v = va_json_get(w, "related_activity_id")))
        WL(add_static(ev, "Correlation_RelatedActivityID", v));
    if (va_json_is_scalar(v = path_get(w, "process.pid"))) WL(add_num(ev, "ProcessID", v));
    if (va_json_is_scalar(v = path_get(w, "process.thread.id"))) WL(add_num(ev, "ThreadID", v));
    if (va_json_is_scalar(v = va_json_get(w, "channel"))) WL(add_static(ev, "Channel", v));
    if (va_json_is_scalar(v = va_json_get(w, "computer_name"))) WL(add_static(ev, "Computer", v));
    if (va_json_is_scalar(v = path_get(w, "user.identifier")))
        WL(add_static(ev, "Security_UserID", v));
    if ((v = va_json_get(w, "event_data")) && v->type == VA_JSON_OBJECT) {
        int classic = is_ps_classic(ev);
        for (const va_json *c = v->child; c; c = c->next)
            if (classic && is_param(c->key, c->klen))
                WL(add_member(ev, "Data", 4, c, 1, 0)); /* unnamed <Data>, as EVTX has them */
            else
                WL(add_member(ev, c->key, c->klen, c, 1, 0));
    }
    if ((v = va_json_get(w, "user_data")) && v->type == VA_JSON_OBJECT)
        for (const va_json *c = v->child; c; c = c->next)
            if (!keyeq(c->key, c->klen, "xml_name")) WL(add_member(ev, c->key, c->klen, c, 0, 0));
    if (va_json_is_scalar(v = va_json_get(root, "message"))) WL(add_static(ev, "Message", v));
    WL(add_ps_classic_data(ev));
#undef WL
    return e;
}

/* ---- detection and entry point ----------------------------------------------------------- */

va_jsonev_format va_jsonev_detect(const va_json *v) {
    if (!v || v->type != VA_JSON_OBJECT) return VA_JSONEV_UNKNOWN;
    const va_json *m = va_json_get(v, "Event");
    if (m && m->type == VA_JSON_OBJECT) return VA_JSONEV_EVTX_DUMP;
    m = va_json_get(v, "winlog");
    if (m && m->type == VA_JSON_OBJECT) return VA_JSONEV_WINLOGBEAT;
    m = va_json_get(v, "EventID");
    if (va_json_is_scalar(m) && m->type != VA_JSON_NULL &&
        (va_json_get(v, "SourceName") || va_json_get(v, "Channel") || va_json_get(v, "Hostname") ||
         va_json_get(v, "SourceModuleType")))
        return VA_JSONEV_NXLOG;
    return VA_JSONEV_UNKNOWN;
}

const char *va_jsonev_format_name(va_jsonev_format f) {
    static const char *const names[] = {"unknown", "evtx_dump", "nxlog", "winlogbeat"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

va_err va_jsonev_map(const va_json *v, va_event *ev, va_buf *text, const char **why,
                     va_jsonev_notes *notes) {
    va_err e;
    if (notes) memset(notes, 0, sizeof *notes);
    switch (va_jsonev_detect(v)) {
    case VA_JSONEV_EVTX_DUMP:
        return map_evtx_dump(v, ev, text);
    case VA_JSONEV_NXLOG:
        e = map_nxlog(v, ev, notes);
        break;
    case VA_JSONEV_WINLOGBEAT:
        e = map_winlogbeat(v, ev, notes);
        break;
    default:
        if (why)
            *why = v && v->type != VA_JSON_OBJECT
                       ? "not an object"
                       : "not a Windows event: no \"Event\" object (evtx_dump), no \"winlog\" "
                         "object (Winlogbeat), no EventID with SourceName/Channel/Hostname (NXLog)";
        return VA_EFORMAT;
    }
    if (e) return e;
    va_event_finish(ev);
    return VA_OK;
}
