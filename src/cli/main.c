/*
 * main.c - `vaern`: dispatch to subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/err.h"

#ifndef VAERN_VERSION
#define VAERN_VERSION "0.1.0"
#endif

static void usage(FILE *f) {
    fputs("usage: vaern COMMAND [ARGS]\n"
          "commands:\n"
          "  evtx dump FILE|DIR|-...       Windows event logs (EVTX) as flat JSON events or XML\n"
          "  hunt [--rules P]... PATH...   vaern's detection pack and Sigma rules over Windows\n"
          "                                event logs: alerts as a timeline, JSON lines or CSV\n"
          "  dump FILE|DIR|-...            flat events as JSON lines from EVTX and JSON exports\n"
          "  rules check DIR|FILE...       load Sigma rules and report those that do not load\n"
          "  version                       print the version\n"
          "(- is standard input.)\n"
          "Run 'vaern COMMAND --help' for a command's options; docs/cli.md has them all.\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return VA_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "evtx")) return va_cmd_evtx(argc - 1, argv + 1);
    if (!strcmp(cmd, "hunt")) return va_cmd_hunt(argc - 1, argv + 1);
    if (!strcmp(cmd, "dump")) return va_cmd_dump(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules")) return va_cmd_rules(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        puts("vaern " VAERN_VERSION);
        return VA_EXIT_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return VA_EXIT_OK;
    }
    va_diag_printf(stderr, "vaern: unknown command '%s'", cmd);
    usage(stderr);
    return VA_EXIT_USAGE;
}
