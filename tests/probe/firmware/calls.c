/* Functions the probe tests call through pyOCD (no start-up code: the host sets SP and LR). */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

uint32_t add3(uint32_t a, uint32_t b, uint32_t c) { return a + b + c; }

/* A few thousand instructions: the core needs many probe transactions to finish it. */
uint32_t mix(uint32_t n)
{
    uint32_t acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc = acc * 33u + i;
        __asm__ volatile("" ::: "memory");
    }
    return acc;
}

uint32_t read_word(uint32_t address) { return REG(address); }

void spin(void)
{
    for (;;) {
        __asm__ volatile("" ::: "memory");
    }
}

uint32_t stray_bkpt(uint32_t x)
{
    __asm__ volatile("bkpt #7");
    return x + 1;
}

/* Sum `count` words at `buf`: the host can change the buffer between calls. */
uint32_t sum_words(const uint32_t *buf, uint32_t count)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i < count; i++)
        s += buf[i];
    return s;
}
