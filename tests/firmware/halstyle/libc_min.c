/*
 * The two C library routines GCC may emit calls to even in freestanding code (struct
 * initialisation and copies); the loader links without a C library.
 */
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int value, size_t n)
{
    uint8_t *d = dst;
    while (n-- != 0u) {
        *d++ = (uint8_t)value;
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n-- != 0u) {
        *d++ = *s++;
    }
    return dst;
}
