/*
 * test_core_walk.c - core/walk.h: order, filtering, each directory once (loops, two links to
 * one directory), the depth bound, stopping, and what is reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/walk.h"

typedef struct seen {
    char files[64][256];
    int nfiles;
    char diags[16][512];
    va_severity sev[16];
    va_err code[16];
    int ndiags;
    int stop_after; /* 0: never */
    int looked[64]; /* a stat came with the file: 1 regular file, -1 none */
} seen;

static int on_file(void *ud, const char *path, const struct stat *sb) {
    seen *s = ud;
    if (s->nfiles < 64) {
        snprintf(s->files[s->nfiles], sizeof s->files[0], "%s", path);
        s->looked[s->nfiles] = sb ? (S_ISREG(sb->st_mode) ? 1 : 0) : -1;
    }
    s->nfiles++;
    return s->stop_after && s->nfiles >= s->stop_after;
}

static void on_diag(void *ud, const va_diag *d) {
    seen *s = ud;
    if (s->ndiags < 16) {
        snprintf(s->diags[s->ndiags], sizeof s->diags[0], "%s: %s", d->file, d->msg);
        s->sev[s->ndiags] = d->sev;
        s->code[s->ndiags] = d->code;
    }
    s->ndiags++;
}

static char root[256];

static void mk(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    size_t n = strlen(p);
    if (p[n - 1] == '/') {
        p[n - 1] = 0;
        assert_int_equal(mkdir(p, 0755), 0);
    } else {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("x", f);
        fclose(f);
    }
}

static void link_to(const char *target, const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "%s/vaern-walk-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* The path of rel under root, for comparisons (four at a time). */
static const char *at(const char *rel) {
    static char p[4][300];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%.255s/%.40s", root, rel);
    return p[k];
}

static void order_and_filter(void **state) {
    (void)state;
    mk("t1/");
    mk("t1/b.EVTX");
    mk("t1/a.evtx");
    mk("t1/c.txt");
    mk("t1/.hidden.evtx");
    mk("t1/sub/");
    mk("t1/sub/z.evtx");
    mk("t1/B/");
    mk("t1/B/y.evtx");
    static const char *const exts[] = {".evtx", NULL};
    seen s = {0};
    va_walk_opts o = {exts, 1};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/t1///", root); /* trailing slashes are dropped */
    assert_int_equal(va_walk_dir(dir, &o, on_file, &s, on_diag, &s), VA_OK);
    assert_int_equal(s.ndiags, 0);
    assert_int_equal(s.nfiles, 4); /* byte order: "B" < "a" < "b.EVTX" < "sub" */
    assert_string_equal(s.files[0], at("t1/B/y.evtx"));
    assert_string_equal(s.files[1], at("t1/a.evtx"));
    assert_string_equal(s.files[2], at("t1/b.EVTX"));
    assert_string_equal(s.files[3], at("t1/sub/z.evtx"));
    /* Case matters without nocase; NULL exts takes every (non-hidden) file. */
    memset(&s, 0, sizeof s);
    o.nocase = 0;
    va_walk_dir(at("t1"), &o, on_file, &s, on_diag, &s);
    assert_int_equal(s.nfiles, 3);
    memset(&s, 0, sizeof s);
    assert_int_equal(va_walk_dir(at("t1"), NULL, on_file, &s, on_diag, &s), VA_OK);
    assert_int_equal(s.nfiles, 5);
    /* Not a directory: nothing walked, nothing reported. */
    memset(&s, 0, sizeof s);
    assert_int_equal(va_walk_dir(at("t1/a.evtx"), NULL, on_file, &s, on_diag, &s), VA_EUSAGE);
    assert_int_equal(va_walk_dir(at("nonexistent"), NULL, on_file, &s, on_diag, &s), VA_EUSAGE);
    assert_int_equal(s.nfiles + s.ndiags, 0);
    /* Stopping. */
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    assert_int_equal(va_walk_dir(at("t1"), &o, on_file, &s, on_diag, &s), VA_OK);
    assert_int_equal(s.nfiles, 2);
}

static void each_directory_once(void **state) {
    (void)state;
    mk("t2/");
    mk("t2/a/");
    mk("t2/a/f.evtx");
    mk("t2/a/b/");
    mk("t2/a/b/g.evtx");
    link_to("..", "t2/a/b/up");    /* loop to a */
    link_to(at("t2"), "t2/a/top"); /* loop to the root, absolute */
    link_to("a", "t2/z");          /* a second way into a: not a loop */
    link_to("nowhere", "t2/dangling");
    link_to("nowhere.evtx", "t2/dangling.evtx");
    seen s = {0};
    static const char *const exts[] = {".evtx", NULL};
    va_walk_opts o = {exts, 0};
    assert_int_equal(va_walk_dir(at("t2"), &o, on_file, &s, on_diag, &s), VA_EIO);
    /* The dangling wanted name goes to the caller (whose open says why), once each file. */
    assert_int_equal(s.nfiles, 3);
    assert_string_equal(s.files[0], at("t2/a/b/g.evtx"));
    assert_string_equal(s.files[1], at("t2/a/f.evtx"));
    assert_string_equal(s.files[2], at("t2/dangling.evtx"));
    assert_true(s.looked[0] == 1 && s.looked[1] == 1 && s.looked[2] == -1);
    assert_int_equal(s.ndiags, 3);
    char want[1024];
    snprintf(want, sizeof want, "%s: directory loop: this leads back to %s; not followed",
             at("t2/a/b/up"), at("t2/a"));
    assert_string_equal(s.diags[0], want);
    snprintf(want, sizeof want, "%s: directory loop: this leads back to %s; not followed",
             at("t2/a/top"), at("t2"));
    assert_string_equal(s.diags[1], want);
    assert_true(s.sev[0] == VA_SEV_WARN && s.sev[1] == VA_SEV_WARN);
    snprintf(want, sizeof want, "%s: cannot look at: No such file or directory", at("t2/dangling"));
    assert_string_equal(s.diags[2], want);
}

static void depth_bound(void **state) {
    (void)state;
    char rel[4096] = "t3/";
    mk(rel);
    for (int i = 0; i <= VA_WALK_MAX_DEPTH + 1; i++) {
        strcat(rel, "d/");
        mk(rel);
    }
    seen s = {0};
    assert_int_equal(va_walk_dir(at("t3"), NULL, on_file, &s, on_diag, &s), VA_ELIMIT);
    assert_int_equal(s.ndiags, 1);
    assert_int_equal(s.code[0], VA_ELIMIT);
    assert_non_null(strstr(s.diags[0], "nested deeper than 64 levels"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_filter),
        cmocka_unit_test(each_directory_once),
        cmocka_unit_test(depth_bound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
