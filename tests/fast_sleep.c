/* LD_PRELOAD shim for the real-runtime tests: the Edge TPU runtime sleeps a hard-coded second between USB
 * retries (2-3 s for every open, 25-33 s for an open that fails). Sleeps longer than 20 ms are cut to 1 ms;
 * shorter ones are kept. Built at test time:
 *     gcc -shared -fPIC -o DIR/fast_sleep.so fast_sleep.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

static const struct timespec SHORT = {0, 1000000};

static int long_one(const struct timespec *req) {
    return req && (req->tv_sec > 0 || req->tv_nsec > 20000000L);
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
    static int (*real)(const struct timespec *, struct timespec *);
    if (!real) real = (int (*)(const struct timespec *, struct timespec *))dlsym(RTLD_NEXT, "nanosleep");
    return real(long_one(req) ? &SHORT : req, rem);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    static int (*real)(clockid_t, int, const struct timespec *, struct timespec *);
    if (!real) real = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(
        RTLD_NEXT, "clock_nanosleep");
    if (flags == 0 && long_one(req)) return real(clock, 0, &SHORT, rem);
    return real(clock, flags, req, rem);
}

int usleep(useconds_t usec) {
    struct timespec req = {usec / 1000000, (long)(usec % 1000000) * 1000};
    return nanosleep(&req, NULL);
}

unsigned int sleep(unsigned int seconds) {
    struct timespec req = {seconds, 0};
    nanosleep(&req, NULL);
    return 0;
}
