// fail.h — the worlds' one error helper, shared by world.c and corpus.c (a header of its own so
// corpus.c need not include world.h, which includes corpus.h).
#ifndef MOESIM_WORLDS_FAIL_H
#define MOESIM_WORLDS_FAIL_H
#include <stddef.h>

// printf-style error message into err (if any); returns -1 so callers can `return world_fail(...)`.
int world_fail(char *err, size_t errlen, const char *fmt, ...);

#endif
