#include "conf.h"
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <sys/time.h>
#include <sched.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    struct utsname u;
    CK("uname", uname(&u));
    STR("sysname", u.sysname);
    FACT("release present", u.release[0] != 0);
    FACT("version present", u.version[0] != 0);
    STR("machine", u.machine);
    FACT("nodename present", u.nodename[0] != 0);
    CK("uname null", syscall(SYS_uname, NULL));
    char buf[64];
    CK("getrandom", getrandom(buf, sizeof buf, 0));
    CK("getrandom nonblock", getrandom(buf, 16, GRND_NONBLOCK));
    CK("getrandom random", getrandom(buf, 16, GRND_RANDOM) > 0);
    CK("getrandom insecure", getrandom(buf, 16, GRND_INSECURE));
    CK("getrandom bad flag", getrandom(buf, 16, 0x100));
    CK("getrandom insecure+random", getrandom(buf, 16, GRND_INSECURE | GRND_RANDOM));
    CK("getrandom zero", getrandom(buf, 0, 0));
    CK("getrandom null", syscall(SYS_getrandom, NULL, 16, 0));
    struct timespec ts;
    CK("clock_gettime realtime", clock_gettime(CLOCK_REALTIME, &ts));
    CK("clock_gettime monotonic", clock_gettime(CLOCK_MONOTONIC, &ts));
    CK("clock_gettime boottime", clock_gettime(CLOCK_BOOTTIME, &ts));
    CK("clock_gettime process cpu", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
    CK("clock_gettime bad", syscall(SYS_clock_gettime, 12345, &ts));
    CK("clock_gettime null", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL));
    CK("clock_getres", clock_getres(CLOCK_MONOTONIC, &ts));
    CK("clock_getres bad", syscall(SYS_clock_getres, 12345, &ts));
    CK("clock_settime unprivileged clock", syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
    /* The kernel's checks before the permission check (none of these changes a clock, root
     * or not): no setter, an unreadable or invalid timespec. */
    CK("clock_settime process cpu", syscall(SYS_clock_settime, CLOCK_PROCESS_CPUTIME_ID, &ts));
    CK("clock_settime bad clock", syscall(SYS_clock_settime, 12345, &ts));
    CK("clock_settime realtime null", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
    CK("clock_settime realtime bad nsec", syscall(SYS_clock_settime, CLOCK_REALTIME, &(struct timespec){ 1, 1000000000 }));
    CK("clock_settime realtime negative", syscall(SYS_clock_settime, CLOCK_REALTIME, &(struct timespec){ -1, 0 }));
    CK("settimeofday bad usec", syscall(SYS_settimeofday, &(struct timeval){ 1, 1000001 }, NULL));
    CK("settimeofday bad tv", syscall(SYS_settimeofday, (void *)8, NULL));
    CK("clock_adjtime monotonic", syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &(char[256]){ 0 }));
    CK("clock_adjtime bad clock", syscall(SYS_clock_adjtime, 12345, &(char[256]){ 0 }));
    CK("adjtimex bad", syscall(SYS_adjtimex, (void *)8));
    CK("nanosleep", nanosleep(&(struct timespec){ 0, 1000 }, NULL));
    CK("nanosleep bad nsec", nanosleep(&(struct timespec){ 0, 1000000000 }, NULL));
    CK("nanosleep negative", nanosleep(&(struct timespec){ -1, 0 }, NULL));
    CK("clock_nanosleep bad clock", clock_nanosleep(12345, 0, &(struct timespec){ 0, 1 }, NULL));
    CK("clock_nanosleep abstime past", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &(struct timespec){ 0, 0 }, NULL));
    struct timeval tv;
    CK("gettimeofday", gettimeofday(&tv, NULL));
    CK("time positive", time(NULL) > 1600000000);
    CK("sched_yield", sched_yield());
    CK("getpriority self", ({ errno = 0; int p = getpriority(PRIO_PROCESS, 0); errno ? -1L : (long)p; }));
    CK("getpriority bad which", getpriority(99, 0));
    cpu_set_t set; CPU_ZERO(&set);
    CK("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) >= 0);
    CK("sched_getaffinity small", syscall(SYS_sched_getaffinity, 0, 1, &set));
    CK("sched_getscheduler", sched_getscheduler(0));
    CK("sched_getscheduler missing", sched_getscheduler(99999));
    CK("getcpu", syscall(SYS_getcpu, NULL, NULL, NULL));
    CK("sysinfo", ({ char si[128]; syscall(SYS_sysinfo, si); }));
    return 0;
}
