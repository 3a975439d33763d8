// watch.c — the live view's loop on a terminal (watch.h): read, draw when something changed,
// until the runs end; plain ANSI (cursor home, erase, the alternate screen), no curses.
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "watch.h"
#include "../io.h"
#include "../report/live.h"
#include "../train/lock.h"

static volatile sig_atomic_t stop_signal, resized;
static pid_t child_pid;  // --live: where stop signals are passed on

static void on_stop(int sig) {
    stop_signal = sig;
    if (child_pid > 0) kill(child_pid, sig);
}
static void on_winch(int sig) { (void)sig; resized = 1; }

static void install(int sig, void (*fn)(int), struct sigaction *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, old);
}

static const int STOP_SIGNALS[3] = {SIGINT, SIGTERM, SIGHUP};

void watch_term_size(int fd, int *w, int *h) {
    struct winsize ws;
    *w = 80; *h = 24;
    const char *c = getenv("COLUMNS"), *l = getenv("LINES");
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) { *w = ws.ws_col; *h = ws.ws_row; return; }
    if (c && atoi(c) > 0) *w = atoi(c);
    if (l && atoi(l) > 0) *h = atoi(l);
}

// The screen the view draws on: the alternate screen of a terminal, or plain frames.
typedef struct {
    int tty, on;
    char *last;       // the text drawn last (plain frames: printed only when it changed)
    size_t cap;
    char *buf;
} Screen;

static void screen_begin(Screen *s, int tty) {
    memset(s, 0, sizeof *s);
    s->tty = tty;
    s->cap = 1 << 18;
    s->buf = malloc(s->cap);
    s->last = calloc(1, s->cap);
    if (tty) {
        fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);  // alternate screen, no cursor
        s->on = 1;
        fflush(stdout);
    }
}

// Leaves the terminal as it was: colours reset, cursor shown, the alternate screen left.
static void screen_end(Screen *s) {
    if (s->on) fputs("\033[0m\033[?25h\033[?1049l", stdout);
    s->on = 0;
    fflush(stdout);
    free(s->buf);
    free(s->last);
    s->buf = s->last = NULL;
}

static void screen_draw(Screen *s, const LiveView *v, const char *title) {
    if (!s->buf || !s->last) return;
    int w = 80, h = 24;
    if (s->tty) watch_term_size(STDOUT_FILENO, &w, &h);
    live_render(v, title, w, s->tty ? h : 1000, s->buf, s->cap);
    if (strcmp(s->buf, s->last) == 0 && !resized) return;
    resized = 0;
    memcpy(s->last, s->buf, strlen(s->buf) + 1);
    if (!s->tty) {
        fputs(s->buf, stdout);
        fputc('\n', stdout);
    } else {
        // home, each line then erase to its end, then erase below: no flicker of a cleared screen
        fputs("\033[H", stdout);
        for (char *p = s->buf, *nl; *p; p = nl + 1) {
            nl = strchr(p, '\n');
            if (!nl) break;
            fwrite(p, 1, (size_t)(nl - p), stdout);
            fputs(nl[1] ? "\033[K\r\n" : "\033[K", stdout);
        }
        fputs("\033[J", stdout);
    }
    fflush(stdout);
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

int watch_folder(const char *dir, double poll_s, char *err, size_t errlen) {
    struct stat st;
    if (stat(dir, &st) != 0) return io_fail(err, errlen, "%s: %s", dir, strerror(errno)), 2;
    if (!S_ISDIR(st.st_mode) || !live_is_results_dir(dir))
        return io_fail(err, errlen, "%s is not a results folder of `moesim run` (no experiment.toml, summary.csv, "
                       "lock file or run folder in it)", dir), 2;
    struct sigaction old[3], oldw;
    stop_signal = 0;
    child_pid = 0;
    for (int i = 0; i < 3; i++) install(STOP_SIGNALS[i], on_stop, &old[i]);
    install(SIGWINCH, on_winch, &oldw);
    static LiveView v;
    Screen s;
    screen_begin(&s, isatty(STDOUT_FILENO));
    char title[IO_PATH_MAX + 64];
    snprintf(title, sizeof title, "moesim watch %s", dir);
    int busy = 1;
    while (!stop_signal) {
        busy = folder_lock_busy(dir);  // before the read: the last view is read after the runs ended
        if (live_scan(&v, dir, err, errlen) != 0) break;
        screen_draw(&s, &v, title);
        if (!busy) break;
        sleep_s(poll_s);
    }
    int sig = stop_signal;
    screen_end(&s);
    live_free(&v);
    for (int i = 0; i < 3; i++) sigaction(STOP_SIGNALS[i], &old[i], NULL);
    sigaction(SIGWINCH, &oldw, NULL);
    if (sig) return 128 + sig;
    return busy ? 1 : 0;  // busy here: the folder could not be read (err)
}

// The child's output, kept while the view owns the screen.
typedef struct {
    char *text;
    size_t len, cap;
} Kept;

static void keep(Kept *k, int fd) {
    char tmp[4096];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0) {
        if (k->len + (size_t)n + 1 > k->cap) {
            size_t cap = (k->len + (size_t)n + 1) * 2;
            char *t = realloc(k->text, cap);
            if (!t) continue;  // out of memory: the output is lost, the run is not
            k->text = t;
            k->cap = cap;
        }
        memcpy(k->text + k->len, tmp, (size_t)n);
        k->len += (size_t)n;
    }
}

int watch_child(const char *dir, const char *title, int (*work)(void *ctx), void *ctx, char *err, size_t errlen) {
    int fds[2];
    if (pipe(fds) != 0) return io_fail(err, errlen, "cannot start the live view: %s", strerror(errno)), -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]); close(fds[1]);
        return io_fail(err, errlen, "cannot start the live view: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        // exit, not _exit: the atexit handlers release what work took (the folder's lock)
        exit(work(ctx) & 0xff);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    struct sigaction old[3], oldw;
    stop_signal = 0;
    child_pid = pid;
    for (int i = 0; i < 3; i++) install(STOP_SIGNALS[i], on_stop, &old[i]);
    install(SIGWINCH, on_winch, &oldw);
    static LiveView v;
    Screen s;
    screen_begin(&s, 1);
    Kept k = {0};
    int st = 0, done = 0;
    while (!done) {
        if (!stop_signal && live_scan(&v, dir, err, errlen) == 0) screen_draw(&s, &v, title);
        if (stop_signal && s.on) screen_end(&s);  // the terminal back at once; the child stops meanwhile
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        poll(&p, 1, 200);
        keep(&k, fds[0]);
        pid_t w = waitpid(pid, &st, WNOHANG);
        done = w == pid || (w < 0 && errno != EINTR);
    }
    if (!stop_signal && live_scan(&v, dir, err, errlen) == 0) screen_draw(&s, &v, title);
    keep(&k, fds[0]);
    close(fds[0]);
    if (s.on || s.buf) screen_end(&s);
    live_free(&v);
    child_pid = 0;
    for (int i = 0; i < 3; i++) sigaction(STOP_SIGNALS[i], &old[i], NULL);
    sigaction(SIGWINCH, &oldw, NULL);
    if (k.len) fwrite(k.text, 1, k.len, stderr);
    free(k.text);
    fflush(stderr);
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}
