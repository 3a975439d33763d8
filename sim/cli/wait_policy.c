// wait_policy.c — see wait_policy.h. Why passive: with two busy processes on a 2-core machine, a
// thread that finishes its share of a parallel region and spins at the barrier takes a core from
// the thread it waits for; every region then lasts a scheduler time slice. Measured on the demo
// (400 steps, 2 threads): 5.6 s quiet, 20.0 s beside two busy loops with libgomp's default
// spinning, 12.9 s with passive waiting (docs/PERFORMANCE.md has the std configuration's numbers).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wait_policy.h"

void wait_policy_apply(char **argv) {
#ifdef _OPENMP
    if (getenv("OMP_WAIT_POLICY")) return;  // the user's choice, or already re-executed
    // valgrind's preload library: exec would run the new image outside valgrind
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // exec failed (no /proc): the runtime has already read its default; say nothing, run on
    unsetenv("OMP_WAIT_POLICY");
#else
    (void)argv;
#endif
}

const char *wait_policy_name(void) {
#ifdef _OPENMP
    const char *v = getenv("OMP_WAIT_POLICY");
    return v ? v : "runtime default";
#else
    return "off";
#endif
}
