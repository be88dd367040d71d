#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# leak_check.sh VALGRIND SUPPRESSIONS PROGRAM [ARGS...]: runs PROGRAM under memcheck; exits non-zero
# when it fails or valgrind finds a definite leak that leak_check.supp does not cover.
set -eu
valgrind=$1
supp=$2
shift 2
exec "$valgrind" --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --error-exitcode=1 --num-callers=40 --keep-debuginfo=yes --gen-suppressions=all --suppressions="$supp" \
  --child-silent-after-fork=yes "$@"
