#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# leak_check.sh LSAN_RUNTIME SUPPRESSIONS PROGRAM [ARGS...]: runs PROGRAM with LeakSanitizer's
# standalone runtime preloaded (no rebuild needed); exits non-zero when PROGRAM fails or a leak
# is left at exit that leak_check.supp does not cover. LeakSanitizer rather than valgrind:
# valgrind 3.19 (Debian 12) stops every process that loads LibTorch with SIGILL on CPUs with
# RDTSCP, which LibTorch's dependency libhwy executes at load time (AMD EPYC, for one).
set -eu
runtime=$1
supp=$2
shift 2
LSAN_OPTIONS="suppressions=$supp:exitcode=23:fast_unwind_on_malloc=0:malloc_context_size=30:print_suppressions=0" \
  LD_PRELOAD="$runtime" exec "$@"
