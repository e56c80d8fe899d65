/* Stores to RAM at full speed on every 256-byte page (extflash.emu.machine, "Pages").
 *
 * unicorn 2.1.4 keeps no dirty-memory bitmap, so QEMU's TLB fill marks every writable RAM page
 * not-dirty (TLB_NOTDIRTY, bit 8 of the entry's write address: its smallest page is 1 KiB). With
 * 256-byte pages bit 8 is part of the page address: on a page whose address has it set the flag
 * changes nothing and stores take the inline fast path; on the others the inline compare fails,
 * the slow path finds no matching entry either and fills the TLB again, and the store then goes
 * straight to the host memory (at these page sizes the flag is no longer among the bits the slow
 * path handles, so it never looks for translated code there either). A HAL-style loader's stack
 * frames and handle then cost a TLB fill (about 60 ns) per store.
 *
 * tlb_tend clears the flag in the entries of writable RAM pages (entries whose write address is
 * their read address plus the flag, with no other flag set): such a store then takes the inline
 * path to the same host memory, with the same effect. The entries are found in the CPU's fast TLB
 * descriptors (mask, table: one pair per MMU mode), located once per process by
 * extflash.emu.native.pages_fast._layout. Every call checks the entries of the pages around the
 * stack pointer (the loader's frames: STACK_BELOW under it, STACK_ABOVE over it) in the mode the
 * core runs in. Entries come back flagged whenever the TLB is flushed (a window mapped or
 * unmapped) or an entry is evicted (a loader reading its buffer walks through every index): when
 * a frame's entry had to be fixed, or every SWEEP_EVERY calls, the call sweeps that mode's whole
 * table (the loader's variables, the pages it reached since).
 * A command lane calls tlb_tend at every AR write: once a page program. */
#include <stdint.h>

#define NOTDIRTY  0x100u    /* TLB_NOTDIRTY: 1 << (TARGET_PAGE_BITS_MIN 10 - 2) */
#define LOW_BITS  0x1FFu    /* the flags below bit 9 (TLB_INVALID_MASK), and bit 8 */
#define EMPTY     0xFFFFFFFFu
#define SWEEP_EVERY 256u
#define STACK_BELOW 0x100u
#define STACK_ABOVE 0x200u

struct fast_desc {          /* QEMU's CPUTLBDescFast */
    uintptr_t mask;         /* (entries - 1) << entry_bits */
    uint8_t *table;
};

struct tlb_view {
    const struct fast_desc *fast;   /* f[0 .. modes) */
    const volatile uint32_t *sp;    /* the core's current stack pointer (env->regs[13]) */
    uint32_t modes;
    uint32_t entry_bits;            /* log2 of a TLB entry's size */
    uint32_t page_bits;             /* log2 of the target page size */
    uint32_t wait;                  /* calls to let pass before the next sweep */
    uint32_t mode;                  /* the MMU mode the last sweep found the core in */
    uint64_t sweeps;
    uint64_t fixed;                 /* entries fixed so far (tests, benchmarks) */
};

static volatile uint32_t *entry_of(const struct tlb_view *v, uint32_t mode, uint32_t address)
{
    const struct fast_desc *f = &v->fast[mode];
    uintptr_t at = ((uintptr_t)(address >> v->page_bits) << v->entry_bits) & f->mask;
    return (volatile uint32_t *)(f->table + at);    /* addr_read, addr_write (32-bit) */
}

/* The write address of a writable RAM page's entry, without the not-dirty flag. */
static int fix(volatile uint32_t *e)
{
    uint32_t read = e[0];
    if (read == EMPTY || (read & LOW_BITS) || e[1] != (read | NOTDIRTY))
        return 0;
    e[1] = read;
    return 1;
}

/* Sweep the table of the mode whose TLB holds the stack pointer's page (that mode from now on);
 * returns the entries fixed. */
uint32_t tlb_sweep(struct tlb_view *v)
{
    uint32_t sp_page = *v->sp & ~((1u << v->page_bits) - 1u);
    for (uint32_t mode = 0; mode < v->modes; mode++) {
        if (entry_of(v, mode, sp_page)[0] != sp_page)    /* a RAM page's read address */
            continue;
        const struct fast_desc *f = &v->fast[mode];
        uint32_t n = 0, entries = (uint32_t)(f->mask >> v->entry_bits) + 1u;
        for (uint32_t i = 0; i < entries; i++)
            n += (uint32_t)fix((volatile uint32_t *)(f->table + ((uintptr_t)i << v->entry_bits)));
        v->mode = mode;
        v->sweeps++;
        v->fixed += n;
        return n;
    }
    return 0;
}

void tlb_tend(struct tlb_view *v)
{
    uint32_t page = 1u << v->page_bits, sp = *v->sp & ~(page - 1u), n = 0;
    for (uint32_t at = sp - STACK_BELOW; at != sp + STACK_ABOVE + page; at += page)
        n += (uint32_t)fix(entry_of(v, v->mode, at));
    v->fixed += n;
    if (n || !v->wait) {   /* the frames' entries were flagged again: so may be the others */
        tlb_sweep(v);
        v->wait = SWEEP_EVERY;
    } else {
        v->wait--;
    }
}

uint32_t tlb_view_size(void)
{
    return (uint32_t)sizeof(struct tlb_view);
}
