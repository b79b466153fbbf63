/*
 * fuzz_sigma_rule.c - libFuzzer target: YAML text through the Sigma rule loader (sigma/rule.h).
 *
 * Every loaded rule is walked afterwards (conditions evaluated with an alternating answer) so
 * that pointers the loader leaves in the model are exercised, not just created.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "sigma/rule.h"

static int alternate(void *ud, uint32_t idx) {
    (void)ud;
    return (int)(idx & 1);
}

static void touch(const va_rule_detection *d) {
    for (uint32_t i = 0; i < d->nconds; i++) (void)va_cond_eval(d->conds[i].ast, alternate, NULL);
    for (uint32_t i = 0; i < d->nsearches; i++)
        for (uint32_t m = 0; m < d->searches[i].nmaps; m++)
            for (uint32_t f = 0; f < d->searches[i].maps[m].n; f++)
                (void)d->searches[i].maps[m].fields[f].vals[0].text[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats st = {0};
    va_rule_load_mem(&a, "fuzz.yml", (const char *)data, size, &set, NULL, NULL, &st);
    for (const va_rule *r = set.head; r; r = r->next) {
        if (r->kind == VA_RULE_KIND_DETECTION) touch(&r->detection);
        if (r->kind == VA_RULE_KIND_FILTER) touch(&r->filter.det);
    }
    va_arena_free(&a);
    return 0;
}
