// lock.h — one writer per results folder. `moesim run` holds DIR/moesim.lock (a shard I/N holds
// DIR/moesim.shard-I-of-N.lock) while it works; the file says who: "pid", "host" and "started"
// lines. The truth is a POSIX record lock (fcntl) on its first byte, which the kernel drops when
// the owner dies, so a lock file whose owner is gone (killed with -9, a crashed node) is taken over
// with a message, whatever PID has been reused since; where record locks are not supported (some
// network file systems) the PID decides: a lock is free when its host is this one and
// kill(pid, 0) fails with ESRCH. The children of a -j run hold a shared lock on the second byte, so
// a new run also waits for the runs of a killed parent that are still stopping.
//
// Which locks conflict: the same file always; a whole run (moesim.lock) with every shard; shards
// I/N and J/M when some point index falls in both (i = I-1 mod N and i = J-1 mod M, i.e. I-1 and
// J-1 agree mod gcd(N, M)), so the N shards of one grid run side by side (Slurm arrays) and a
// second process of the same shard does not. Two conflicting runs that start in the same instant
// may both refuse; they never both run.
#ifndef MOESIM_LOCK_H
#define MOESIM_LOCK_H

#include <stddef.h>
#include "../io.h"

typedef struct {
    int fd;                          // -1: not held
    char path[IO_CHILD_PATH_MAX];
} FolderLock;

// Takes the lock of dir (which must exist) for shard index of count (count <= 1: the whole grid).
// Returns 0 (note holds a message when a dead owner's lock was taken over, else ""), -1 with err
// naming the holder's PID, host and start time, or -2 with err naming the lock file and the
// system's reason (it cannot be created or written: a failure, not a refusal).
int folder_lock(FolderLock *l, const char *dir, int index, int count, char *note, size_t notelen, char *err,
                size_t errlen);
// In a -j child: the shared lock of the runs still writing into the folder.
void folder_lock_child(const FolderLock *l);
// Removes the lock file and releases it (nothing when not held).
void folder_unlock(FolderLock *l);
// 1 if some `moesim run` (a whole grid, a shard, or the -j runs of a killed one) is writing into
// dir: a lock file of dir whose lock is held (where record locks are not supported: whose owner is
// alive). 0 otherwise. Takes nothing (`moesim watch`).
int folder_lock_busy(const char *dir);

#endif
