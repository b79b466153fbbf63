/*
 * find.h - substring search tuned for what rule matching asks: short needles (command-line
 * fragments, file names) in values of tens to thousands of bytes, millions of times a run.
 *
 * glibc's memmem is general and pays set-up per call; va_find compares the needle's first and
 * last bytes against 16 haystack positions at once (SSE2, part of every x86-64 CPU) and checks
 * the rest only where both agree, which on text is rare.  Elsewhere it is memmem.
 */
#ifndef VA_CORE_FIND_H
#define VA_CORE_FIND_H

#include <stddef.h>

/* The first occurrence of needle[0..nn) in hay[0..hn), or NULL; nn == 0 finds hay. */
const void *va_find(const void *hay, size_t hn, const void *needle, size_t nn);

#endif
