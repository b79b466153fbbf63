/*
 * placeholders.c - the `expand` placeholder file (see placeholders.h), read with libyaml.
 */
#include "sigma/placeholders.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

static va_err fail(char *err, size_t cap, const char *path, const yaml_node_t *n, va_err code,
                   const char *why) {
    if (cap)
        snprintf(err, cap, "%s:%lu:%lu: %s", path, n ? (unsigned long)n->start_mark.line + 1 : 0,
                 n ? (unsigned long)n->start_mark.column + 1 : 0, why);
    return code;
}

static const char *scalar(va_arena *a, const yaml_node_t *n) {
    return va_arena_strndup(a, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* f (a file) or text[0..len) (memory). */
static va_err load(va_arena *a, const char *path, FILE *f, const char *text, size_t len,
                   va_value_placeholder **out, size_t *n, char *err, size_t cap) {
    *out = NULL, *n = 0;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return fail(err, cap, path, NULL, VA_ENOMEM, "out of memory");
    if (f)
        yaml_parser_set_input_file(&p, f);
    else
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    va_err rc = VA_OK;
    if (!yaml_parser_load(&p, &doc)) {
        if (cap)
            snprintf(err, cap, "%s:%lu:%lu: %s", path, (unsigned long)p.problem_mark.line + 1,
                     (unsigned long)p.problem_mark.column + 1,
                     p.problem ? p.problem : "YAML error");
        yaml_parser_delete(&p);
        return VA_EFORMAT;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) goto done; /* an empty file: no placeholders */
    if (root->type != YAML_MAPPING_NODE) {
        rc = fail(err, cap, path, root, VA_EFORMAT, "expected a map of placeholder names");
        goto done;
    }
    size_t cnt = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    va_value_placeholder *ph = va_arena_alloc(a, (cnt ? cnt : 1) * sizeof *ph);
    if (!ph) {
        rc = fail(err, cap, path, root, VA_ENOMEM, "out of memory");
        goto done;
    }
    size_t k = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, pr->value);
        if (!kn || kn->type != YAML_SCALAR_NODE || !kn->data.scalar.length) {
            rc = fail(err, cap, path, kn, VA_EFORMAT, "a placeholder name must be a string");
            goto done;
        }
        for (size_t j = 0; j < k; j++)
            if (!strcmp(ph[j].name, (const char *)kn->data.scalar.value)) {
                rc = fail(err, cap, path, kn, VA_EFORMAT, "placeholder named twice");
                goto done;
            }
        size_t nv = !vn ? 0
                    : vn->type == YAML_SEQUENCE_NODE
                        ? (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start)
                        : 1;
        const char **vals = va_arena_alloc(a, (nv ? nv : 1) * sizeof *vals);
        const char *name = scalar(a, kn);
        if (!vals || !name) {
            rc = fail(err, cap, path, kn, VA_ENOMEM, "out of memory");
            goto done;
        }
        if (!vn || vn->type == YAML_MAPPING_NODE) {
            rc = fail(err, cap, path, vn ? vn : kn, VA_EFORMAT,
                      "a placeholder's value must be a string or a list of strings");
            goto done;
        }
        if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (!vn->data.scalar.length || !strcmp((const char *)vn->data.scalar.value, "~") ||
             !strcmp((const char *)vn->data.scalar.value, "null"))) {
            nv = 0; /* listed but not configured: rules using it are left out */
        } else if (vn->type == YAML_SCALAR_NODE) {
            if (!(vals[0] = scalar(a, vn))) {
                rc = fail(err, cap, path, vn, VA_ENOMEM, "out of memory");
                goto done;
            }
        } else {
            for (size_t j = 0; j < nv; j++) {
                yaml_node_t *it = yaml_document_get_node(&doc, vn->data.sequence.items.start[j]);
                if (!it || it->type != YAML_SCALAR_NODE) {
                    rc = fail(err, cap, path, it ? it : vn, VA_EFORMAT,
                              "a placeholder's list holds strings only");
                    goto done;
                }
                if (!(vals[j] = scalar(a, it))) {
                    rc = fail(err, cap, path, it, VA_ENOMEM, "out of memory");
                    goto done;
                }
            }
        }
        ph[k++] = (va_value_placeholder){name, vals, nv};
    }
    *out = ph, *n = k;
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

va_err va_placeholders_load_file(va_arena *a, const char *path, va_value_placeholder **out,
                                 size_t *n, char *err, size_t cap) {
    *out = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (cap) snprintf(err, cap, "%s: %s", path, strerror(errno));
        return VA_EIO;
    }
    va_err rc = load(a, path, f, NULL, 0, out, n, err, cap);
    fclose(f);
    return rc;
}

va_err va_placeholders_load_mem(va_arena *a, const char *name, const char *text, size_t len,
                                va_value_placeholder **out, size_t *n, char *err, size_t cap) {
    return load(a, name, NULL, text, len, out, n, err, cap);
}
