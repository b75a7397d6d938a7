/* vla_pyrandom.h - CPython's `random.Random` (MT19937) where the official
 * training code's data order depends on it.
 *
 * VL-Adapter's multitask loader (multitask_data.py) builds, every epoch, a
 * list holding each task name once per batch of that task, shuffles it with
 * `random.Random(epoch).shuffle(list)` and pops batches from the END.  This
 * file reproduces exactly that generator, so a C trainer visits the tasks in
 * the official order:
 *
 *   seeding    random.Random(n) for an int n: init_genrand(19650218), then
 *              init_by_array(key) with key = |n| split into 32-bit words,
 *              least significant first (n = 0 gives key = [0])
 *   outputs    genrand_uint32 (the MT19937 tempering)
 *   getrandbits(k)  k <= 32: one word >> (32 - k); k > 32: words filled from
 *              the least significant end, the last one shifted right
 *   _randbelow(n)   k = n.bit_length(); r = getrandbits(k) until r < n
 *   shuffle    for i = n-1 .. 1: j = _randbelow(i + 1); swap(x[i], x[j])
 *   random()   (a * 2^26 + b) / 2^53, a = word >> 5, b = word >> 6
 *
 * (CPython 3.2 .. 3.12 behave the same for all of these; tests/test_pyrandom.c
 * checks them against values CPython 3.11 printed.)
 *
 * Self-contained: C99, <stdint.h> and <string.h> only, no allocation.
 *   #define VLA_PYRANDOM_IMPLEMENTATION   in one file, then include.
 */
#ifndef VLA_PYRANDOM_H
#define VLA_PYRANDOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vla_pyrandom {
    uint32_t mt[624];
    int mti;
} vla_pyrandom;

/* random.Random(seed) for a Python int that fits int64 (sign ignored, as
 * CPython seeds with abs(n)). */
void vla_pyrandom_seed(vla_pyrandom *r, int64_t seed);
/* The same from the key words directly (|n| in 32-bit words, least
 * significant first; n_key >= 1). */
void vla_pyrandom_seed_key(vla_pyrandom *r, const uint32_t *key, size_t n_key);
uint32_t vla_pyrandom_u32(vla_pyrandom *r);
/* getrandbits(k), 0 <= k <= 64. */
uint64_t vla_pyrandom_getrandbits(vla_pyrandom *r, int k);
/* _randbelow(n) (what randrange(n) returns), n >= 1. */
uint64_t vla_pyrandom_randbelow(vla_pyrandom *r, uint64_t n);
/* random() in [0, 1). */
double vla_pyrandom_random(vla_pyrandom *r);
/* random.shuffle of n items of `size` bytes each (size <= 256). */
void vla_pyrandom_shuffle(vla_pyrandom *r, void *items, size_t n, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* VLA_PYRANDOM_H */

#ifdef VLA_PYRANDOM_IMPLEMENTATION
#ifndef VLA_PYRANDOM_IMPLEMENTATION_DONE
#define VLA_PYRANDOM_IMPLEMENTATION_DONE
#include <string.h>

static void vla_pyr__init_genrand(vla_pyrandom *r, uint32_t s) {
    int i;
    r->mt[0] = s;
    for (i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

void vla_pyrandom_seed_key(vla_pyrandom *r, const uint32_t *key, size_t n_key) {
    size_t i = 1, j = 0, k;
    static const uint32_t zero = 0;
    if (!key || n_key == 0) { key = &zero; n_key = 1; }
    vla_pyr__init_genrand(r, 19650218u);
    for (k = n_key > 624 ? n_key : 624; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++; j++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
        if (j >= n_key) j = 0;
    }
    for (k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
    }
    r->mt[0] = 0x80000000u; /* non-zero initial array */
}

void vla_pyrandom_seed(vla_pyrandom *r, int64_t seed) {
    /* |seed| without overflow for INT64_MIN */
    uint64_t mag = seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed;
    uint32_t key[2];
    key[0] = (uint32_t)mag;
    key[1] = (uint32_t)(mag >> 32);
    vla_pyrandom_seed_key(r, key, key[1] ? 2 : 1);
}

uint32_t vla_pyrandom_u32(vla_pyrandom *r) {
    uint32_t y;
    if (r->mti >= 624) {
        int kk;
        for (kk = 0; kk < 624; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[(kk + 1) % 624] & 0x7fffffffu);
            r->mt[kk] = r->mt[(kk + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t vla_pyrandom_getrandbits(vla_pyrandom *r, int k) {
    uint64_t v = 0;
    int shift = 0;
    if (k <= 0) return 0;
    if (k > 64) k = 64;
    while (k > 0) {
        uint64_t w = vla_pyrandom_u32(r);
        if (k < 32) w >>= 32 - k;
        v |= w << shift;
        shift += 32;
        k -= 32;
    }
    return v;
}

uint64_t vla_pyrandom_randbelow(vla_pyrandom *r, uint64_t n) {
    int k = 0;
    uint64_t v, m = n;
    if (n == 0) return 0;
    while (m) { k++; m >>= 1; } /* n.bit_length() */
    do v = vla_pyrandom_getrandbits(r, k); while (v >= n);
    return v;
}

double vla_pyrandom_random(vla_pyrandom *r) {
    uint32_t a = vla_pyrandom_u32(r) >> 5, b = vla_pyrandom_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

void vla_pyrandom_shuffle(vla_pyrandom *r, void *items, size_t n, size_t size) {
    unsigned char *p = (unsigned char *)items, tmp[256];
    size_t i;
    if (n < 2 || size == 0 || size > sizeof tmp) return;
    for (i = n - 1; i >= 1; i--) {
        size_t j = (size_t)vla_pyrandom_randbelow(r, (uint64_t)i + 1);
        if (j != i) {
            memcpy(tmp, p + i * size, size);
            memcpy(p + i * size, p + j * size, size);
            memcpy(p + j * size, tmp, size);
        }
    }
}

#endif /* VLA_PYRANDOM_IMPLEMENTATION_DONE */
#endif /* VLA_PYRANDOM_IMPLEMENTATION */
