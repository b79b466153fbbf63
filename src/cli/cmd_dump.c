/*
 * cmd_dump.c - `vaern dump`: flat events as JSON lines from any supported source.
 *
 * The one place to see what detectors see: every input (EVTX, JSON exports of Windows events)
 * goes through its reader's map step into the flat event and is printed with va_event_json.
 * Runs of consecutive EVTX files go to va_evtx_read_files together so their chunks share the
 * worker threads; JSON files are read one at a time by the streaming reader.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/paths.h"
#include "cli/sig.h"
#include "cli/stdin.h"
#include "evtx/evtx.h"
#include "json/winevent.h"

#define OUT_FLUSH (1 << 20)

typedef struct dump {
    FILE *out;
    va_buf buf;
    int stats;
    int out_err;
    uint64_t diags;
    volatile sig_atomic_t sig; /* SIGINT or SIGTERM received (sig.h) */
    /* The last event taken, for the message when interrupted. */
    uint64_t events;
    const char *last_src; /* the reader's pointer, to notice a new file */
    char last_path[1024];
    int64_t last_off;
} dump;

static int flush_out(dump *d) {
    if (d->buf.len && fwrite(d->buf.p, 1, d->buf.len, d->out) != d->buf.len)
        d->out_err = errno ? errno : EIO;
    va_buf_clear(&d->buf);
    return d->out_err;
}

static int put_event(dump *d, const va_event *ev) {
    if (d->sig) return 1; /* stop reading: nothing after the signal, so whole events only */
    if (ev->src.path != d->last_src) {
        d->last_src = ev->src.path;
        snprintf(d->last_path, sizeof d->last_path, "%s", ev->src.path ? ev->src.path : "-");
    }
    d->last_off = ev->src.offset;
    d->events++;
    va_event_json(ev, &d->buf);
    va_buf_putc(&d->buf, '\n');
    if (d->buf.oom) return 1;
    if (d->buf.len >= OUT_FLUSH && flush_out(d)) return 1;
    return 0;
}

static int on_evtx_rec(void *ud, const va_evtx_rec *r) {
    return put_event(ud, r->ev);
}

static int on_json_event(void *ud, const va_event *ev) {
    return put_event(ud, ev);
}

static void on_diag(void *ud, const va_diag *g) {
    dump *d = ud;
    d->diags++;
    va_diag_print(NULL, g);
}

static void on_evtx_file(void *ud, const char *path, const va_evtx_stats *st, va_err open_err) {
    dump *d = ud;
    if (!d->stats) return;
    if (open_err) {
        va_diag_printf(stderr, "%s: not read (%s)", path, va_err_name(open_err));
        return;
    }
    va_diag_printf(stderr,
                   "%s: %" PRIu64 " records, %" PRIu64 " bad records, %" PRIu64 " chunks (%" PRIu64
                   " bad, %" PRIu64 " CRC mismatches)",
                   path, st->records, st->records_bad, st->chunks, st->chunks_bad, st->chunks_crc);
}

static void json_file_stats(const char *path, const va_jsonev_stats *st, va_err e) {
    if (e == VA_EIO) {
        va_diag_printf(stderr, "%s: not read (%s)", path, va_err_name(e));
        return;
    }
    va_diag_printf(stderr,
                   "%s: %" PRIu64 " events (evtx_dump %" PRIu64 ", nxlog %" PRIu64
                   ", winlogbeat %" PRIu64 "), %" PRIu64 " bad, %" PRIu64 " warnings",
                   path, st->events, st->by_format[VA_JSONEV_EVTX_DUMP],
                   st->by_format[VA_JSONEV_NXLOG], st->by_format[VA_JSONEV_WINLOGBEAT], st->bad,
                   st->warnings);
}

static int ends_with(const char *s, const char *ext) {
    size_t l = strlen(s), e = strlen(ext);
    return l > e && strcasecmp(s + l - e, ext) == 0;
}

/* EVTX by extension, or by its magic for a file named otherwise (standard input: sin says). */
static int is_evtx(const char *path, const va_stdin *sin) {
    if (!strcmp(path, "-")) return sin->evtx;
    if (ends_with(path, ".evtx")) return 1;
    if (ends_with(path, ".json") || ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
        return 0;
    /* Only a regular file can be sniffed without eating input meant for the JSON reader. */
    struct stat sb;
    if (stat(path, &sb) || !S_ISREG(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    char magic[8];
    int yes = f && fread(magic, 1, 8, f) == 8 && memcmp(magic, "ElfFile", 8) == 0;
    if (f) fclose(f);
    return yes;
}

static void usage(FILE *f) {
    fputs("usage: vaern dump [options] FILE|DIR|-...\n"
          "  Print the flat events of every input, one JSON object per line, in input order.\n"
          "  Inputs: EVTX (*.evtx) and JSON exports of Windows events (*.json, *.jsonl,\n"
          "  *.ndjson: evtx_dump, NXLog im_msvistalog, Winlogbeat; NDJSON, concatenated or\n"
          "  an array).  Directories are searched recursively for those extensions; - is\n"
          "  standard input (EVTX or JSON, told apart by its first bytes).\n"
          "options:\n"
          "  --strict-crc     skip EVTX chunks whose CRC32 does not match (default: read\n"
          "                   them and report the mismatch; --ignore-crc is that default)\n"
          "  -t, --threads N  EVTX worker threads (default: all cores)\n"
          "  -o, --output F   write to F instead of standard output\n"
          "  --stats          print per-file and total counts on standard error\n"
          "  -h, --help       this help\n",
          f);
}

int va_cmd_dump(int argc, char **argv) {
    static const struct option opts[] = {{"ignore-crc", no_argument, 0, 'c'},
                                         {"strict-crc", no_argument, 0, 'S'},
                                         {"threads", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"stats", no_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    va_evtx_opts eo = {0};
    eo.ignore_crc = 1; /* damaged chunks are read and reported, as by vaern hunt */
    dump d = {0};
    const char *outpath = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': /* the default now; kept for scripts */
            eo.ignore_crc = 1;
            break;
        case 'S':
            eo.ignore_crc = 0;
            break;
        case 't':
            if (va_parse_threads(optarg, &eo.threads)) return VA_EXIT_USAGE;
            break;
        case 'o':
            outpath = optarg;
            break;
        case 's':
            d.stats = 1;
            break;
        case 'h':
            usage(stdout);
            return VA_EXIT_OK;
        default:
            usage(stderr);
            return VA_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    if (va_stdin_twice(argc, argv, optind)) return VA_EXIT_USAGE;
    static const char *const exts[] = {".evtx", ".json", ".jsonl", ".ndjson", NULL};
    va_paths paths = {0};
    int missing = va_paths_add_args(&paths, argc, argv, optind, exts);
    d.out = stdout;
    if (outpath && !(d.out = va_paths_create(outpath))) {
        va_paths_free(&paths);
        return VA_EXIT_FATAL;
    }
    eo.want_event = 1;
    va_buf_init(&d.buf);
    va_sig_saved sigs;
    va_sig_catch(&d.sig, &sigs);
    /* Standard input: EVTX is kept whole in a file first (left out, reported, if it cannot be),
     * JSON is read as a stream when its turn comes. */
    ptrdiff_t in = va_paths_find(&paths, "-");
    va_stdin sin = {0};
    if (in >= 0 && va_stdin_is_evtx(&sin, &d.sig) && va_stdin_spool(&sin, &d.sig, on_diag, &d))
        va_paths_remove(&paths, (size_t)in);
    va_evtx_stats est = {0};
    va_jsonev_stats jst = {0};
    int stop = 0, fatal = 0;
    size_t nevtx = 0, njson = 0;
    for (size_t i = 0; i < paths.n && !stop && !fatal && !d.sig;) {
        if (is_evtx(paths.v[i], &sin)) {
            size_t j = i;
            while (j < paths.n && is_evtx(paths.v[j], &sin)) j++;
            stop = va_evtx_read_files((const char *const *)paths.v + i, j - i, &eo, on_diag, &d,
                                      &est, on_evtx_rec, on_evtx_file, &d);
            nevtx += j - i;
            i = j;
            continue;
        }
        va_jsonev_stats one = {0};
        va_err e = strcmp(paths.v[i], "-")
                       ? va_jsonev_read_file(paths.v[i], NULL, on_diag, &d, &one, on_json_event, &d)
                       : va_stdin_json(&sin, &d.sig, on_diag, &d, &one, on_json_event, &d);
        if (d.stats) json_file_stats(paths.v[i], &one, e);
        jst.objects += one.objects, jst.events += one.events, jst.bad += one.bad;
        jst.warnings += one.warnings, jst.bytes += one.bytes;
        if (e == VA_ENOMEM) fatal = 1;
        if (d.buf.oom || d.out_err) stop = 1;
        njson++;
        i++;
    }
    flush_out(&d);
    if (fflush(d.out) && !d.out_err) d.out_err = errno;
    if (d.out != stdout && fclose(d.out) && !d.out_err) d.out_err = errno;
    va_sig_release(&sigs);
    if (d.stats)
        fprintf(stderr,
                "total: %zu EVTX files, %" PRIu64 " records, %" PRIu64 " bad records, %" PRIu64
                " bad chunks; %zu JSON files, %" PRIu64 " events, %" PRIu64 " bad, %" PRIu64
                " warnings\n",
                nevtx, est.records, est.records_bad, est.chunks_bad, njson, jst.events, jst.bad,
                jst.warnings);
    int oom = d.buf.oom || fatal;
    va_buf_free(&d.buf);
    va_paths_free(&paths);
    if (d.out_err) {
        fprintf(stderr, "vaern: cannot write output: %s\n", strerror(d.out_err));
        return VA_EXIT_FATAL;
    }
    if (oom) {
        fprintf(stderr, "vaern: out of memory\n");
        return VA_EXIT_FATAL;
    }
    if (d.sig) {
        va_sig_report(d.sig, "event", d.events, d.last_path, d.last_off);
        return va_sig_exit_code(d.sig);
    }
    return missing || d.diags || est.records_bad || est.chunks_bad || jst.bad ? VA_EXIT_INPUT
                                                                              : VA_EXIT_OK;
}
