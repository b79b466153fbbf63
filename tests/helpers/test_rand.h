/*
 * test_rand.h - the one pseudo-random sequence of the unit tests: a 64-bit linear congruential
 * step (Knuth's MMIX constants), so property tests are reproducible from their seed and share
 * no hidden state (rand() has a global one).  Use the high bits: the low ones cycle quickly.
 */
#ifndef VA_TESTS_HELPERS_TEST_RAND_H
#define VA_TESTS_HELPERS_TEST_RAND_H

#include <stdint.h>

/* Advance *seed one step and return its new value. */
static inline uint64_t test_rand_next(uint64_t *seed) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed;
}

#endif
