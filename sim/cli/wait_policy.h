// wait_policy.h — OpenMP threads that sleep while they wait, so a busy machine slows moesim down
// by its share of the cores, not by 5-20x (docs/PERFORMANCE.md, "Busy machines").
#ifndef MOESIM_WAIT_POLICY_H
#define MOESIM_WAIT_POLICY_H

// Called first thing in main. When OMP_WAIT_POLICY is unset, sets it to "passive" and re-executes
// the program (/proc/self/exe) with the same arguments, because the OpenMP runtime reads it once,
// when it loads, before main. A value the user set is kept; without OpenMP, or when the program
// cannot be re-executed (no /proc, or under valgrind, which would lose the process), it returns
// and the run goes on with the runtime's default. Results do not depend on it.
void wait_policy_apply(char **argv);

// What the threads do while they wait, for `moesim --version` and the manifest-free report:
// "passive", the user's OMP_WAIT_POLICY, or "runtime default"; "off" without OpenMP.
const char *wait_policy_name(void);

#endif
