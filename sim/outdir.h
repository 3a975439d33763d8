// outdir.h — output folders that are whole or absent: the --out DIR of eval, generate, analyze,
// compare and export. A command writes into DIR.tmp.<pid>, a sibling of DIR, and outdir_commit
// puts it in place: complete.json last inside it (the marker: which command, which version,
// when), then the earlier DIR, if any, is swapped out and removed — by one atomic exchange
// (renameat2 RENAME_EXCHANGE) where the system has it, else as models/checkpoint.c does: DIR ->
// DIR.prev.<pid>, DIR.tmp.<pid> -> DIR, remove DIR.prev.<pid>. A kill at any instant leaves the
// earlier DIR whole or the new one whole (in the fallback's instant between its two renames, the
// earlier one whole as DIR.prev.<pid>, which the next outdir_begin on DIR puts back).
//
// Readers of another command's output call outdir_check: a folder without complete.json (cut
// short, mixed by an older moesim, or assembled by hand) is refused. Siblings DIR.tmp.<pid> of a
// process that is gone are removed by outdir_begin and never read.
//
// An existing DIR is replaced only when it is empty, holds complete.json (an earlier output of a
// moesim command), or holds the command's own file (generate.json for generate...: its output
// from a moesim before complete.json existed); any other existing folder or file is refused, so
// a mistyped --out never deletes someone's files.
#ifndef MOESIM_OUTDIR_H
#define MOESIM_OUTDIR_H

#include <stddef.h>
#include "io.h"

#define OUTDIR_MARKER "complete.json"
#define OUTDIR_FORMAT "moesim-complete-1"

typedef struct {
    char dir[IO_PATH_MAX];        // the folder as given, without trailing slashes
    char tmp[IO_PATH_MAX + 32];   // where the command writes: dir.tmp.<pid> (made by the command)
} OutDir;

// Names the temporary sibling of dir, removes the stale DIR.tmp.<pid> siblings of processes that
// are gone (and puts back a DIR.prev.<pid> whose swap was cut short), and checks that an existing
// dir may be replaced (own_file: the file every output of the command holds, or NULL). Creates
// nothing: the command makes o->tmp when it writes its first file. Returns 0, or -1 with err
// naming the folder and what to do (a bad --out: exit 2).
int outdir_begin(OutDir *o, const char *dir, const char *own_file, char *err, size_t errlen);

// Writes o->tmp/complete.json ("format", "command", "version", "finished": UTC time) and puts
// o->tmp in place of o->dir (see above). Returns 0, or -1 with err naming the file and the
// system's reason; o->tmp is then removed and an earlier dir is left as it was.
int outdir_commit(OutDir *o, const char *command, const char *version, char *err, size_t errlen);

// Removes o->tmp and everything in it (a failed command: the earlier dir stays as it was).
void outdir_abort(OutDir *o);

// A reader's check that dir is a complete output of `moesim command` (command NULL: of any
// command). Returns 0, or -1 with err naming the folder, what is wrong and what to do.
int outdir_check(const char *dir, const char *command, char *err, size_t errlen);

#endif
