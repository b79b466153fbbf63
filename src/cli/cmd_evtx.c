/*
 * cmd_evtx.c - `vaern evtx dump`: EVTX records as flat JSON events or as XML.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/paths.h"
#include "cli/sig.h"
#include "cli/stdin.h"
#include "evtx/evtx.h"

typedef struct dump {
    FILE *out;
    int xml;
    int stats;
    int out_err;
    uint64_t diags;
    volatile sig_atomic_t sig; /* SIGINT or SIGTERM received (sig.h) */
    int stopped;               /* text refused after the signal */
    /* Where the output ends, for the message when interrupted. */
    uint64_t records;
    size_t files_done, last_file; /* positions in the input list */
} dump;

/* Records in a chunk's text: one per line as JSON; as XML each ends with a "</Event>" line
 * (elements inside are indented, and '<' in text is escaped). */
static uint64_t count_records(const dump *d, const char *text, size_t len) {
    const char *end = text + len, *p = text;
    uint64_t n = 0;
    if (!d->xml) {
        while ((p = memchr(p, '\n', (size_t)(end - p)))) n++, p++;
        return n;
    }
    while ((p = memmem(p, (size_t)(end - p), "\n</Event>\n", 10))) n++, p += 10;
    return n;
}

/* Each chunk's records arrive as one piece of text, whole records only. */
static int on_text(void *ud, const char *text, size_t len) {
    dump *d = ud;
    if (d->sig) { /* stop reading: nothing after the signal */
        d->stopped = 1;
        return 1;
    }
    d->records += count_records(d, text, len);
    d->last_file = d->files_done;
    if (fwrite(text, 1, len, d->out) != len) {
        d->out_err = errno ? errno : EIO;
        return 1;
    }
    return 0;
}

static void on_diag(void *ud, const va_diag *g) {
    dump *d = ud;
    d->diags++;
    va_diag_print(NULL, g);
}

static void on_file(void *ud, const char *path, const va_evtx_stats *st, va_err open_err) {
    dump *d = ud;
    if (!d->stopped) d->files_done++; /* the files whose text was all written */
    if (!d->stats) return;
    if (open_err) {
        va_diag_printf(stderr, "%s: not read (%s)", path, va_err_name(open_err));
        return;
    }
    va_diag_printf(stderr,
                   "%s: %" PRIu64 " records, %" PRIu64 " bad records, %" PRIu64 " chunks (%" PRIu64
                   " bad, %" PRIu64 " CRC mismatches, %" PRIu64 " empty)%s",
                   path, st->records, st->records_bad, st->chunks, st->chunks_bad, st->chunks_crc,
                   st->chunks_empty, st->files_dirty ? ", marked dirty (was in use)" : "");
}

static void usage(FILE *f) {
    fputs("usage: vaern evtx dump [options] FILE|DIR|-...\n"
          "  Print every record of the EVTX files (directories are searched for *.evtx;\n"
          "  - is standard input) as one flat JSON object per line, in file order.\n"
          "options:\n"
          "  --xml            print each record as XML instead (like evtxexport -f xml)\n"
          "  --strict-crc     skip chunks whose CRC32 does not match (default: read them\n"
          "                   and report the mismatch; --ignore-crc is that default)\n"
          "  -t, --threads N  worker threads (default: all cores)\n"
          "  -o, --output F   write to F instead of standard output\n"
          "  --stats          print per-file and total counts on standard error\n"
          "  -h, --help       this help\n",
          f);
}

static int evtx_dump(int argc, char **argv) {
    static const struct option opts[] = {
        {"xml", no_argument, 0, 'x'},          {"ignore-crc", no_argument, 0, 'c'},
        {"strict-crc", no_argument, 0, 'S'},   {"threads", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'}, {"stats", no_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    va_evtx_opts o = {0};
    o.ignore_crc = 1; /* damaged chunks are read and reported, as by vaern hunt */
    dump d = {0};
    const char *outpath = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'x':
            d.xml = 1;
            break;
        case 'c': /* the default now; kept for scripts */
            o.ignore_crc = 1;
            break;
        case 'S':
            o.ignore_crc = 0;
            break;
        case 't':
            if (va_parse_threads(optarg, &o.threads)) return VA_EXIT_USAGE;
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
    static const char *const exts[] = {".evtx", NULL};
    va_paths paths = {0};
    int missing = va_paths_add_args(&paths, argc, argv, optind, exts);
    d.out = stdout;
    if (outpath && !(d.out = va_paths_create(outpath))) {
        va_paths_free(&paths);
        return VA_EXIT_FATAL;
    }
    o.want_xml = d.xml;
    o.want_json = !d.xml;
    o.text_fn = on_text;
    va_evtx_stats st = {0};
    va_sig_saved sigs;
    va_sig_catch(&d.sig, &sigs);
    ptrdiff_t in = va_paths_find(&paths, "-");
    va_stdin sin = {0};
    /* Standard input is read in full first, into a file the reader can seek in; if it cannot
     * be kept (reported) it is left out. */
    if (in >= 0 && va_stdin_spool(&sin, &d.sig, on_diag, &d)) va_paths_remove(&paths, (size_t)in);
    if (!d.sig)
        va_evtx_read_files((const char *const *)paths.v, paths.n, &o, on_diag, &d, &st, NULL,
                           on_file, &d);
    if (fflush(d.out) && !d.out_err) d.out_err = errno;
    if (d.out != stdout && fclose(d.out) && !d.out_err) d.out_err = errno;
    va_sig_release(&sigs);
    if (d.stats)
        fprintf(stderr,
                "total: %zu files, %" PRIu64 " records, %" PRIu64 " bad records, %" PRIu64
                " chunks (%" PRIu64 " bad, %" PRIu64 " CRC mismatches), %" PRIu64 " bytes\n",
                paths.n, st.records, st.records_bad, st.chunks, st.chunks_bad, st.chunks_crc,
                st.bytes);
    if (d.sig && !d.out_err)
        va_sig_report(d.sig, "record", d.records,
                      d.records && d.last_file < paths.n ? paths.v[d.last_file] : NULL, -1);
    va_paths_free(&paths);
    if (d.out_err) {
        fprintf(stderr, "vaern: cannot write output: %s\n", strerror(d.out_err));
        return VA_EXIT_FATAL;
    }
    if (d.sig) return va_sig_exit_code(d.sig);
    return missing || d.diags || st.records_bad || st.chunks_bad ? VA_EXIT_INPUT : VA_EXIT_OK;
}

int va_cmd_evtx(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? VA_EXIT_USAGE : VA_EXIT_OK;
    }
    if (!strcmp(argv[1], "dump")) return evtx_dump(argc - 1, argv + 1);
    va_diag_printf(stderr, "vaern evtx: unknown command '%s'", argv[1]);
    return VA_EXIT_USAGE;
}
