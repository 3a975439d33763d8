// watch.h — the live view on a terminal: `moesim watch DIR` follows the runs of a results folder
// that another process writes, and `moesim run --live` runs the sweep in a child process while the
// parent draws. Both only read the runs' files (report/live.h), so the results are the same as
// without the view.
#ifndef MOESIM_WATCH_H
#define MOESIM_WATCH_H

#include <stdio.h>

// Follows dir until no `moesim run` holds its lock (train/lock.h), redrawing when the runs write.
// On a terminal: the alternate screen, redrawn in place, the terminal restored at the end and on
// SIGINT/SIGTERM/SIGHUP; else each new view as plain lines, separated by a blank line.
// poll_s: seconds between reads. Returns 0, 2 when dir is not a results folder (err says why),
// or 128 + the signal that stopped it.
int watch_folder(const char *dir, double poll_s, char *err, size_t errlen);

// Runs work(ctx) in a child process, its stdout and stderr kept and printed after the view, while
// this process draws dir's runs on the terminal (stdout must be one). Signals are passed on to the
// child, which stops as it would without the view (a checkpoint), and the terminal is restored
// before the child's output is printed. Returns the child's exit status (128 + a signal that
// killed it), or -1 when the child could not be started (err).
int watch_child(const char *dir, const char *title, int (*work)(void *ctx), void *ctx, char *err, size_t errlen);

// The terminal's size (TIOCGWINSZ on fd; else $COLUMNS, $LINES; else 80 x 24).
void watch_term_size(int fd, int *w, int *h);

#endif
