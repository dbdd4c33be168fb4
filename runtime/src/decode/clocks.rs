//! The clock-setting calls the table refuses (`clock_settime`, `settimeofday`, `adjtimex`,
//! `clock_adjtime`), as the kernel reads them: the errors its own checks give before the
//! permission check the refusal stands for.
//!
//! Natively an unprivileged program asking to set a clock that has no setter
//! (`CLOCK_MONOTONIC`) gets `EINVAL`, an unreadable timespec `EFAULT`, an invalid one `EINVAL`,
//! and only a valid request `EPERM`; the host answers the same, reading the guest's argument
//! once and executing nothing.

use trapbox_abi::linux::nr;

use crate::sys::Pid;

const CLOCK_REALTIME: i32 = 0;
/// The fixed clocks of the kernel's `posix_clocks` table (`CLOCK_TAI` is the last).
const CLOCK_TAI: i32 = 11;
/// The low three bits of a negative clock id that names an fd (a dynamic clock, `CLOCKFD`).
const CLOCKFD: i32 = 3;
const CLOCKFD_MASK: i32 = 7;
/// `CPUCLOCK_MAX`: a CPU clock id's low two bits name profiling, virtual or scheduler time.
const CPUCLOCK_MAX: i32 = 3;
const NSEC_PER_SEC: i64 = 1_000_000_000;
/// `TIME_SETTOD_SEC_MAX`: the kernel refuses to set the wall clock at or beyond it.
const TIME_SETTOD_SEC_MAX: u64 = 9_223_372_036 - 30 * 365 * 86_400;
/// The kernel's `ADJ_OFFSET_SINGLESHOT` bit, which `ADJ_ADJTIME` needs.
const ADJ_OFFSET_SINGLESHOT: u32 = 0x0001;
/// `sizeof(struct __kernel_timex)`.
const TIMEX_LEN: usize = 208;

/// Whether `number` is one of the clock-setting calls this module knows.
pub fn sets_a_clock(number: u64) -> bool {
    matches!(number, nr::CLOCK_SETTIME | nr::SETTIMEOFDAY | nr::ADJTIMEX | nr::CLOCK_ADJTIME)
}

/// The kernel's answer to a clock-setting call of thread `tid` that comes before the
/// permission check (`None`: the request is valid, and the refusal's own errno, `EPERM`
/// natively for a program without `CAP_SYS_TIME`, is the answer). `pid_exists` says whether a
/// pid of the guest's names a process (for CPU clocks of other processes).
pub fn error_before_permission(tid: Pid, number: u64, args: &[u64; 6], pid_exists: impl Fn(i32) -> bool) -> Option<i32> {
    let read = |addr: u64, len: usize| crate::sys::read_guest_bytes(tid, addr, len);
    let word = |bytes: &[u8], at: usize| i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    match number {
        nr::CLOCK_SETTIME => {
            let Some(setter) = clock_setter(args[0] as i32) else { return Some(libc::EINVAL) };
            let Some(ts) = read(args[1], 16) else { return Some(libc::EFAULT) };
            match setter {
                Setter::Realtime => (!valid_settod(word(&ts, 0), word(&ts, 8))).then_some(libc::EINVAL),
                // posix_cpu_clock_set: the clock's process must exist (then EPERM: never settable).
                Setter::Cpu { pid, which } => (which >= CPUCLOCK_MAX || (pid != 0 && !pid_exists(pid))).then_some(libc::EINVAL),
                // A dynamic clock (a PTP device's fd): the kernel asks the device; refused.
                Setter::Dynamic => None,
            }
        }
        nr::SETTIMEOFDAY => {
            if args[0] != 0 {
                let Some(tv) = read(args[0], 16) else { return Some(libc::EFAULT) };
                let usec = word(&tv, 8);
                if !(0..=1_000_000).contains(&usec) {
                    return Some(libc::EINVAL);
                }
                if args[1] != 0 && read(args[1], 8).is_none() {
                    return Some(libc::EFAULT);
                }
                return (!valid_settod(word(&tv, 0), usec * 1000)).then_some(libc::EINVAL);
            }
            (args[1] != 0 && read(args[1], 8).is_none()).then_some(libc::EFAULT)
        }
        nr::ADJTIMEX => adjtimex_error(read(args[0], TIMEX_LEN)),
        nr::CLOCK_ADJTIME => match clock_setter(args[0] as i32) {
            // Only the wall clock (and dynamic clocks) can be adjusted.
            Some(Setter::Realtime) => adjtimex_error(read(args[1], TIMEX_LEN)),
            Some(Setter::Dynamic) => None,
            Some(Setter::Cpu { .. }) => Some(libc::EOPNOTSUPP),
            None if known_fixed_clock(args[0] as i32) => Some(libc::EOPNOTSUPP),
            None => Some(libc::EINVAL),
        },
        _ => None,
    }
}

/// adjtimex's checks before its permission check: a readable `timex`, and `ADJ_ADJTIME`
/// (`ADJ_OFFSET_SINGLESHOT` among the modes) only with its own bit. A query (modes 0) would
/// succeed natively; the table refuses it all the same (README: known differences).
fn adjtimex_error(timex: Option<Vec<u8>>) -> Option<i32> {
    let Some(timex) = timex else { return Some(libc::EFAULT) };
    let modes = u32::from_le_bytes(timex[0..4].try_into().unwrap_or([0; 4]));
    // (The kernel's bits: user space's ADJ_OFFSET_SINGLESHOT is ADJ_ADJTIME | this one.)
    const ADJ_ADJTIME: u32 = 0x8000;
    (modes & ADJ_ADJTIME != 0 && modes & ADJ_OFFSET_SINGLESHOT == 0).then_some(libc::EINVAL)
}

/// A clock the kernel can set, and how.
enum Setter {
    Realtime,
    /// A CPU clock of process (or thread) `pid` (0: the caller's), of time kind `which`.
    Cpu { pid: i32, which: i32 },
    Dynamic,
}

/// Which setter the kernel has for `clock`: `None` when it has none (`clock_settime` then
/// answers `EINVAL`).
fn clock_setter(clock: i32) -> Option<Setter> {
    if clock < 0 {
        if clock & CLOCKFD_MASK == CLOCKFD {
            return Some(Setter::Dynamic);
        }
        // CPUCLOCK_PID is the complement of the id's high bits; the low two name the time kind.
        return Some(Setter::Cpu { pid: !(clock >> 3), which: clock & 3 });
    }
    (clock == CLOCK_REALTIME).then_some(Setter::Realtime)
}

/// The fixed clocks of the kernel's table (`CLOCK_REALTIME` to `CLOCK_TAI`, but for the
/// unused `CLOCK_SGI_CYCLE`, 10).
fn known_fixed_clock(clock: i32) -> bool {
    (0..=CLOCK_TAI).contains(&clock) && clock != 10
}

/// `timespec64_valid_settod`.
fn valid_settod(sec: i64, nsec: i64) -> bool {
    sec >= 0 && (0..NSEC_PER_SEC).contains(&nsec) && (sec as u64) < TIME_SETTOD_SEC_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_without_a_setter_are_invalid() {
        let ts = [0u64, 0];
        let args = |clock: i32| [clock as u64, ts.as_ptr() as u64, 0, 0, 0, 0];
        let me = crate::sys::own_pid();
        for clock in [1, 2, 3, 4, 5, 6, 7, 11, 12, 1000] {
            assert_eq!(error_before_permission(me, nr::CLOCK_SETTIME, &args(clock), |_| true), Some(libc::EINVAL), "clock {clock}");
        }
        assert_eq!(error_before_permission(me, nr::CLOCK_SETTIME, &args(0), |_| true), None, "the wall clock: EPERM");
        let bad = [0u64, 2_000_000_000];
        let invalid = [0, bad.as_ptr() as u64, 0, 0, 0, 0];
        assert_eq!(error_before_permission(me, nr::CLOCK_SETTIME, &invalid, |_| true), Some(libc::EINVAL));
        assert_eq!(error_before_permission(me, nr::CLOCK_SETTIME, &[0, 8, 0, 0, 0, 0], |_| true), Some(libc::EFAULT));
        assert_eq!(error_before_permission(me, nr::CLOCK_SETTIME, &[1, 8, 0, 0, 0, 0], |_| true), Some(libc::EINVAL), "the clock first");
    }
}
