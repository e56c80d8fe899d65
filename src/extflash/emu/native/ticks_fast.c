/* Native SysTick ticks for extflash.emu.machine.Machine.run: the run loop's work at a tick, in
 * C, for the ticks where it is all routine.
 *
 * A HAL-style loader spends most of its virtual time waiting for the chip (an erase, a page
 * program) with the SysTick interrupt on: every millisecond the run slice ends on the tick, the
 * machine syncs its clock, fires the tick, enters the SysTick exception and starts the next
 * slice, and the handler's return goes through Python again. That is about 25 us of Python per
 * tick, and 67,000 ticks for a 16 MiB HAL-style program.
 *
 * tick_run runs slices of the core (uc_emu_start) itself and, at the end of one, does what the
 * Python run loop would do when the slice ended on the SysTick tick and nothing else happened:
 *   - the slice ran to its instruction limit (not `until`, not a stop from elsewhere), with no
 *     Python callback during it (python_ran: the machine's callbacks raise it, after they have
 *     brought Python's state up to date, see below);
 *   - no command lane has a deferred write; what a lane ran or served since Python last took
 *     it over it keeps across the exception, and the time it let pass moves the clock (see
 *     lane_tick_state in quadspi_fast.c: Python would take it all over here, to the same end);
 *   - the tick is due, no other event is, and neither the run's deadline nor the watch's
 *     checkpoint is reached;
 *   - the core is not idle there (after WFI, on `b .`), not at `until`, no exception is active,
 *     PRIMASK/FAULTMASK are clear and BASEPRI lets SysTick in, and its vector points into memory.
 * Then it moves the clock (the lanes' time, then the slice's instructions: as sync_time), fires
 * the tick (SystemControlSpace._expire: the next expiry (RVR + 1) SysTick counts later), enters
 * the exception (exceptions_fast.c), and sets up the next slice as the run loop does (budget to
 * the next event, the DWT time source's base, each lane's time base: Machine._budget,
 * _time_source_start, CommandEngine._lane_time). The handler's return (interrupt 8) is taken
 * here too while the exception is one this loop entered (tick_interrupt); every other interrupt
 * goes to the machine's Python hook. After such a return the core stops for the machine's look at
 * the loop it returned into (extflash/emu/idleloop.py: a HAL_Delay is skipped to the next tick),
 * unless the machine's verdict table marks the return address busy. Anything else ends the call: the Python run loop then
 * handles that slice's end itself, so it stays the reference for every case.
 *
 * With tick_fs NEVER (a loader without SysTick whose data loops are summarised) the loop only
 * runs the turns: every other end of a slice is Python's.
 *
 * Python's state is brought up to date lazily: ticks counts the ticks handled since Python last
 * took them over, with the clock (now_fs, cycles), the last tick and the running slice here.
 * The machine takes them over when the call returns and, first thing, in every Python callback
 * during a call (Bus.lazy). The differential test (tests/emu/test_ticks_native.py) runs loaders
 * with and without this file: identical virtual time, cycle counts and results. */
#include <stddef.h>
#include <stdint.h>

typedef int (*emu_start_fn)(void *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                            size_t count);
typedef int (*reg_batch_fn)(void *uc, const int *regs, void *const *vals, int count);
typedef int (*mem_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);
typedef int (*exc_enter_fn)(const void *unit, uint32_t number, uint32_t handler, int32_t thread);
typedef int (*exc_leave_fn)(const void *unit, uint32_t exc_return, uint32_t current);
typedef void (*intr_fn)(void *uc, uint32_t intno, void *user);
/* the command lane's side (quadspi_fast.c) */
typedef int (*lane_state_fn)(const void *lane, uint64_t *skip_fs, uint64_t *skip_cycles);
typedef void (*lane_ended_fn)(void *lane, int32_t holds);
typedef void (*lane_start_fn)(void *lane, uint64_t now_fs, uint64_t fs_per_cycle,
                              uint64_t event_fs, uint64_t limit_fs, uint64_t event2_fs,
                              uint32_t wakes, uint64_t slice_end_fs, uint32_t capped);


#define MAX_LANES 8u
#define NEVER UINT64_MAX
#define SYSTICK 15u
#define THUMB_WFI 0xBF30u
#define THUMB_SELF_BRANCH 0xE7FEu
#define EXC_RETURN_MIN 0xFFFFFF00u
#define IDLE_SLOTS 1024u    /* idleloop.SLOTS (also the size of sample_known) */
#define SLOT_SHIFT 22u      /* 32 - log2(IDLE_SLOTS) */

/* Register ids, in this order (filled in by Python from unicorn's arm_const). */
enum { R_PC, R_PRIMASK, R_BASEPRI, R_FAULTMASK, R_COUNT };

struct tick_loop {
    void *uc;
    emu_start_fn emu_start;
    reg_batch_fn reg_read_batch;
    mem_fn mem_read;
    exc_enter_fn exc_enter;
    exc_leave_fn exc_leave;
    const void *exc_unit;
    intr_fn python_interrupt;       /* the machine's interrupt hook */
    int32_t reg_id[R_COUNT];
    uint32_t n_lanes;
    const volatile uint64_t *counter;   /* unicorn's instruction counter and limit */
    volatile uint64_t *limit;
    uint64_t *ts_base;      /* the DWT time source's base and served-read flag (NULL: none) */
    uint32_t *ts_timed;
    void *lane[MAX_LANES];
    lane_state_fn lane_state;
    lane_ended_fn lane_ended;
    lane_start_fn lane_start;
    /* set by Python for a call */
    uint64_t fs_per_cycle;
    uint64_t deadline_fs;
    uint64_t checkpoint_fs;     /* NEVER: none */
    uint64_t limit_fs;          /* the clock's limit for polling skips (NEVER: none) */
    uint64_t other_fs;          /* the first scheduled event that is not the tick, nor the end
                                 * of busy of a chip a lane holds (the lane ends it itself) */
    uint64_t other2_fs;         /* and the one after it (the lanes see both) */
    uint64_t tick_unit_fs;      /* one SysTick count */
    uint64_t tick_period_fs;    /* RVR + 1 counts: from one expiry to the next */
    uint64_t max_slice;
    uint32_t systick_priority;
    uint32_t vector;            /* address of the SysTick vector (VTOR + 4 * 15) */
    uint32_t stop_at;
    uint32_t active;            /* a call is running */
    /* moved here, taken over by Python (ticks: how many since it last did) */
    uint64_t now_fs;
    uint64_t cycles;
    uint64_t tick_fs;           /* the next expiry */
    uint64_t last_tick_fs;      /* the last expiry handled here */
    uint64_t budget;            /* the running slice (Machine._slice_budget, _slice_end_fs,
                                 * _slice_capped) */
    uint64_t slice_end_fs;
    uint32_t capped;
    uint64_t ticks;
    uint64_t ticks_in_call;
    uint64_t ticks_total;       /* for tests and benchmarks */
    uint32_t in_handler;        /* a tick entered here whose handler has not returned */
    uint32_t python_ran;        /* a Python callback ran during the running slice */
    /* the machine's verdicts on return addresses (extflash/emu/idleloop.py; NULL: none): a
     * return anywhere but to an address marked busy stops the core for a look at the loop */
    const uint32_t *idle_verdicts;
    uint32_t *idle_armed;       /* set at each return: the next entry into a known loop stops */
    uint32_t idle_stop;         /* the core stopped for that look (Python clears it) */
    /* data-loop turns run at once (turns_fast.c; NULL: none): its flag that the tick loop runs
     * (the only place its block hook runs turns) */
    void *turns;
    uint32_t *turns_active;
    uint32_t sample;            /* leave every sample-th tick to Python (0: none): where the
                                 * core spends its time, for the turns' looks */
    uint32_t sample_count;
    /* the places such a tick need not show Python (NULL: none): turns.py looked there, or they
     * are on a loop it summarised (it would do nothing); hashed like idle_verdicts */
    const uint32_t *sample_known;
    uint64_t ticks_mid_command; /* ticks taken while a lane held a command in progress (tests) */
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Is the code address pc (bit 0 clear) in one of the machine's address tables
 * (idleloop.PcTable: one slot per address, a multiplicative hash of it)? */
static int in_table(const uint32_t *table, uint32_t pc)
{
    return table[(uint32_t)((pc >> 1) * 2654435761u) >> SLOT_SHIFT] == (pc | 1u);
}

static int read_regs(const struct tick_loop *t, uint32_t *values)
{
    void *ptrs[R_COUNT];
    for (int i = 0; i < R_COUNT; i++)
        ptrs[i] = &values[i];
    return t->reg_read_batch(t->uc, t->reg_id, ptrs, R_COUNT);
}

/* The SysTick handler, when the exception may be taken now and its vector points into memory
 * (Machine._take_pending_exception, _execution_priority, _vector); 0 otherwise. */
static uint32_t systick_handler(const struct tick_loop *t, const uint32_t *regs)
{
    if (t->in_handler || (regs[R_FAULTMASK] & 1u) || (regs[R_PRIMASK] & 1u))
        return 0;
    uint32_t basepri = regs[R_BASEPRI] & 0xFFu;
    if (basepri && t->systick_priority >= basepri)
        return 0;
    uint32_t handler;
    uint16_t first;
    if (t->mem_read(t->uc, t->vector, &handler, 4) || !(handler & 1u) || handler == 0xFFFFFFFFu)
        return 0;
    if (t->mem_read(t->uc, handler & ~1u, &first, 2))
        return 0;
    return handler & ~1u;
}

/* The core stopped where the run loop would see it idle (Machine._idle_kind), or could not say. */
static int idle_or_unknown(const struct tick_loop *t, uint32_t pc)
{
    uint16_t around[2];
    if (t->mem_read(t->uc, (pc - 2u) & 0xFFFFFFFFu, around, 4))
        return 1;
    return around[0] == THUMB_WFI || around[1] == THUMB_SELF_BRANCH;
}

/* The slice that just stopped ended on the tick with nothing else to do: handle the tick, enter
 * the exception and set up the next slice (*pc, *budget). 0: leave this slice's end to Python
 * (nothing here has changed). */
static int take_tick(struct tick_loop *t, uint32_t *pc, uint64_t *budget)
{
    uint32_t regs[R_COUNT];
    if (t->tick_fs == NEVER || t->python_ran || read_regs(t, regs))
        return 0;   /* NEVER: no tick (the loop runs for the data-loop turns only) */
    uint32_t at = regs[R_PC] & ~1u;
    if (t->sample && ++t->sample_count % t->sample == 0
            && !(t->sample_known && in_table(t->sample_known, at)))
        return 0;
    if (at == t->stop_at || idle_or_unknown(t, at))
        return 0;
    uint32_t handler = systick_handler(t, regs);
    if (!handler)
        return 0;
    int32_t holds[MAX_LANES], busy = 0;
    uint64_t skip_fs = 0, skip_cycles = 0;
    for (uint32_t i = 0; i < t->n_lanes; i++) {
        holds[i] = t->lane_state(t->lane[i], &skip_fs, &skip_cycles);
        if (holds[i] < 0)
            return 0;
        busy |= holds[i] == 2;
    }
    /* sync_time: the lanes' time first, then the slice's instructions (its budget as the lanes
     * may have lowered the limit) */
    uint64_t done = min_u64(*t->counter, min_u64(t->budget, *t->limit));
    uint64_t now = t->now_fs + skip_fs + done * t->fs_per_cycle;
    if (now < t->tick_fs || now >= t->other_fs || now >= t->deadline_fs
            || now >= t->checkpoint_fs)
        return 0;
    /* an entry that fails (the frame cannot be stacked) changes nothing: Python then takes the
     * tick and fails the same way */
    if (t->exc_enter(t->exc_unit, SYSTICK, handler, 1))
        return 0;
    /* taken: from here on this is the run loop's work */
    t->in_handler = 1;
    for (uint32_t i = 0; i < t->n_lanes; i++)
        t->lane_ended(t->lane[i], holds[i]);
    t->now_fs = now;
    t->cycles += skip_cycles + done;
    t->last_tick_fs = t->tick_fs;
    t->tick_fs += t->tick_period_fs;
    t->ticks++;
    t->ticks_in_call++;
    t->ticks_total++;
    t->ticks_mid_command += (uint64_t)busy;
    if (t->ts_timed)
        *t->ts_timed = 0;   /* Bus.note_activity */
    uint64_t horizon = min_u64(t->deadline_fs, min_u64(t->tick_fs, t->other_fs));
    uint64_t cycles = horizon > now ? (horizon - now + t->fs_per_cycle - 1u) / t->fs_per_cycle
                                    : 0u;
    /* Machine._budget: MAX_SLICE instructions, the slice still ending by the horizon */
    t->capped = cycles > t->max_slice;
    cycles = cycles ? min_u64(cycles, t->max_slice) : 1u;
    t->budget = cycles;
    t->slice_end_fs = t->capped ? horizon : now + cycles * t->fs_per_cycle;
    if (t->ts_base)
        *t->ts_base = t->cycles;
    /* the lanes' next two events, in firing order (an earlier-scheduled one first on a tie) */
    for (uint32_t i = 0; i < t->n_lanes; i++) {
        if (t->other_fs <= t->tick_fs)
            t->lane_start(t->lane[i], now, t->fs_per_cycle, t->other_fs, t->limit_fs,
                          min_u64(t->tick_fs, t->other2_fs), 0, t->slice_end_fs, t->capped);
        else
            t->lane_start(t->lane[i], now, t->fs_per_cycle, t->tick_fs, t->limit_fs,
                          t->other_fs, 1, t->slice_end_fs, t->capped);
    }
    *pc = handler;
    *budget = cycles;
    return 1;
}

/* Run the core from pc for budget instructions (the slice the run loop set up), and on through
 * the SysTick ticks take_tick handles (the data-loop turns turns_fast.c runs at once run from
 * its block hook while turns_active is set). Returns unicorn's status of the last slice. */
int tick_run(struct tick_loop *t, uint32_t pc, uint64_t budget)
{
    t->active = 1;
    t->python_ran = 0;
    t->ticks_in_call = 0;
    t->budget = budget;
    if (t->turns)
        *t->turns_active = 1;
    int status;
    do {
        status = t->emu_start(t->uc, pc | 1u, t->stop_at, 0, budget);
    } while (!status && take_tick(t, &pc, &budget));
    if (t->turns)
        *t->turns_active = 0;
    t->active = 0;
    return status;
}

/* unicorn's interrupt hook: the return from a SysTick handler this loop entered (interrupt 8,
 * or a prefetch abort at an EXC_RETURN address) is unstacked here; everything else goes to the
 * machine's Python hook. */
void tick_interrupt(void *uc, uint32_t intno, void *user)
{
    struct tick_loop *t = user;
    if (t->active && t->in_handler && !t->python_ran && (intno == 8u || intno == 3u)) {
        uint32_t regs[R_COUNT];
        if (!read_regs(t, regs) && (intno == 8u || regs[R_PC] >= EXC_RETURN_MIN)
                && !t->exc_leave(t->exc_unit, regs[R_PC] | 1u, 0)) {
            t->in_handler = 0;
            if (t->idle_armed)
                *t->idle_armed = 1;
            if (t->idle_verdicts && !read_regs(t, regs)) {
                uint32_t pc = regs[R_PC] & ~1u;
                if (!in_table(t->idle_verdicts, pc)) {
                    /* as Machine._request_stop: the slice ends after this instruction */
                    uint64_t done = min_u64(*t->counter, *t->limit);
                    *t->limit = done;
                    t->idle_stop = 1;
                }
            }
            return;
        }
    }
    t->python_interrupt(uc, intno, user);
}

/* The block hook on an idle loop's head (Machine._watch_head): the machine's Python callback
 * (Machine._on_head) stops the core for a look at the loop when the look is armed and the
 * running slice has at least min_look instructions left, among other checks. A loop spins
 * through its head thousands of times while the slice runs out (each turn a Python call for
 * nothing), so those two checks are made here first; the callback makes them again. */
typedef void (*head_fn)(void *uc, uint64_t address, uint32_t size, void *user);

struct head_watch {
    const volatile uint32_t *armed;     /* idleloop.IdleLoops.armed */
    const volatile uint64_t *counter;   /* unicorn's instruction counter and limit */
    const volatile uint64_t *limit;
    uint64_t min_look;                  /* machine.MIN_LOOK */
    head_fn python;                     /* Machine._on_head */
};

void head_hook(void *uc, uint64_t address, uint32_t size, void *user)
{
    const struct head_watch *w = user;
    if (*w->armed && *w->limit >= *w->counter + w->min_look)
        w->python(uc, address, size, 0);
}

uint32_t head_watch_size(void)
{
    return (uint32_t)sizeof(struct head_watch);
}

uint32_t tick_loop_size(void)
{
    return (uint32_t)sizeof(struct tick_loop);
}
