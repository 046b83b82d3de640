#include "interrupts.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t deferring = 0;
static volatile sig_atomic_t polling = 0;
static volatile sig_atomic_t pending = 0;
static volatile sig_atomic_t stop = 0;
static int installed = 0;

static void handle(int sig) {
    if (deferring > 0) {
        pending = sig;
    } else if (polling > 0) {
        stop = sig;
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

static void install(void) {
    if (installed) return;
    installed = 1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handle;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

void gc_interrupts_begin(int poll) {
    install();
    if (poll) polling++; else deferring++;
}

void gc_interrupts_end(void) {
    if (deferring > 0) {
        deferring--;
    } else if (polling > 0) {
        polling--;
    }
    if (deferring == 0 && pending) {
        int sig = pending;
        pending = 0;
        if (polling > 0) {
            stop = sig;
        } else {
            signal(sig, SIG_DFL);
            raise(sig);
        }
    }
}

int gc_stop_requested(void) { return stop; }
