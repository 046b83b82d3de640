// Debian's openblas-pthread cblas.h also declares openblas_set_num_threads.
#include <cblas.h>
