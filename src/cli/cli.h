/*
 * cli.h - the vaern command: subcommand entry points and exit codes.
 *
 * The command is a thin layer: each subcommand parses its options, calls one library
 * function and maps the outcome to an exit code.  Exit codes are documented in docs/cli.md.
 */
#ifndef VA_CLI_CLI_H
#define VA_CLI_CLI_H

enum {
    VA_EXIT_OK = 0,    /* everything read */
    VA_EXIT_INPUT = 1, /* finished, but some input was damaged or unreadable (reported) */
    VA_EXIT_USAGE = 2, /* bad command line */
    VA_EXIT_FATAL = 3, /* could not continue (output error, out of memory) */
};

int va_cmd_evtx(int argc, char **argv);
int va_cmd_hunt(int argc, char **argv);
int va_cmd_dump(int argc, char **argv);
int va_cmd_rules(int argc, char **argv);

#endif
