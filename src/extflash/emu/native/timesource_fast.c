/* Native reads of DWT CYCCNT (extflash.emu.scs.DataWatchpointTrace): a loader that times out on
 * CYCCNT reads it in every turn of its flag waits, and each read through Python costs
 * microseconds. unicorn calls dwt_read for every read of the DWT page; it serves an aligned word
 * read of CYCCNT while the counter counts, the core runs a slice and no native command lane holds
 * a deferred write, and forwards every other read to the Python callback (which the machine would
 * have called: same value, same effects). Time a lane let pass and Python has not taken over yet
 * (its raised lane_dirty flag) is added as the cycles Python would add when it took it over
 * (clock.cycles += skip_cycles, before the counter's advance): a generated loader reads CYCCNT
 * once per page right after the lane waited out the page program, and Python's take-over there
 * cost more than the rest of the page.
 *
 * The value is the Python model's: CYCCNT = anchor_value + cycles - anchor_cycles (mod 2^32),
 * where cycles = clock.cycles at the instruction being executed = base + unicorn's instruction
 * counter; the machine keeps base = clock.cycles - (the counter value the clock is synced at)
 * whenever either moves. Served reads raise `timed` (the machine's polling-loop rule: a loop
 * that reads a clock waits for time), which Python ORs into its own flag and clears with it. */
#include <stdint.h>

typedef uint64_t (*mmio_read_fn)(void *uc, uint64_t offset, unsigned size, void *user_data);

#define MAX_FLAGS 16u
#define CYCCNT    0x004u

struct time_source {
    const volatile uint64_t *counter;   /* unicorn's executed-instruction counter */
    uint64_t base;                      /* clock.cycles minus the counter it is synced at */
    uint64_t anchor_cycles;
    uint32_t anchor_value;
    uint32_t counting;      /* CYCCNT counts (CTRL.CYCCNTENA, DEMCR.TRCENA, the core has it) */
    uint32_t running;       /* a run slice is executing and nothing traces the DWT */
    uint32_t timed;         /* a read was served here since Python last cleared it */
    uint32_t n_flags;
    uint32_t pad;
    uint64_t served;        /* reads served here (for tests and benchmarks) */
    uint64_t served_untaken;    /* ...of them with a lane's untaken time added */
    const volatile uint32_t *flags[MAX_FLAGS];  /* raised: Python must sync first... */
    const volatile uint64_t *untaken[MAX_FLAGS];    /* ...unless this (the cycles Python
                                                     * adds when it takes the flag over) */
    mmio_read_fn forward;   /* the Python read callback */
};

uint64_t dwt_read(void *uc, uint64_t offset, unsigned size, void *user_data)
{
    struct time_source *t = user_data;
    if (offset == CYCCNT && size == 4u && t->running && t->counting) {
        uint64_t cycles = t->base + *t->counter;
        uint32_t i = 0, untaken = 0;
        for (; i < t->n_flags; i++) {
            if (!*t->flags[i])
                continue;
            if (!t->untaken[i])
                break;
            cycles += *t->untaken[i];
            untaken = 1;
        }
        if (i == t->n_flags) {
            t->timed = 1;
            t->served++;
            t->served_untaken += untaken;
            return (uint32_t)(t->anchor_value + cycles - t->anchor_cycles);
        }
    }
    return t->forward(uc, offset, size, user_data);
}
