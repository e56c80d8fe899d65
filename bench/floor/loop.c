/* The byte loop of a HAL-style indirect write (tests/firmware/halstyle/hal_qspi.c shape): wait
 * for FTF with a tick timeout, then one byte into DR. Built for bench/engine_floor.py. */
#include <stdint.h>

typedef struct {
    volatile uint32_t CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR;
} qspi_t;

typedef struct {
    qspi_t *instance;
    const uint8_t *tx;
    uint32_t count;
} handle_t;

volatile uint32_t ticks;
handle_t handle;

static __attribute__((noinline)) int wait_flag(handle_t *h, uint32_t flag, uint32_t timeout)
{
    uint32_t start = ticks;
    while ((h->instance->SR & flag) == 0u) {
        if (ticks - start > timeout) {
            return 1;
        }
    }
    return 0;
}

int __attribute__((section(".entry"))) transmit(const uint8_t *data, uint32_t count)
{
    handle_t *h = &handle;
    h->instance = (qspi_t *)0x52005000u;
    h->tx = data;
    h->count = count;
    while (h->count > 0u) {
        if (wait_flag(h, 1u << 2, 5000u) != 0) {
            return 1;
        }
        *(volatile uint8_t *)&h->instance->DR = *h->tx++;
        h->count--;
    }
    return 0;
}
