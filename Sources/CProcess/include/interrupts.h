#ifndef GRADCAM_INTERRUPTS_H
#define GRADCAM_INTERRUPTS_H

/// Signals (SIGINT, SIGTERM, SIGHUP) and the work they interrupt.
///
/// Outside any guarded region a signal acts as usual (the process ends).
/// Inside a *deferring* region (an atomic write) it is held and re-raised when
/// the outermost region ends, so a file or directory is either complete or
/// absent. Inside a *polling* region (long work that checks gc_stop_requested
/// and cleans up) it only sets a flag.
void gc_interrupts_begin(int polling);
void gc_interrupts_end(void);
int gc_stop_requested(void);

#endif
