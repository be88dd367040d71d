#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# check_format.sh CLANG_FORMAT SOURCE_DIR: fails, naming the files, when a C++ source of the
# project differs from what .clang-format says. Fix with:
#   git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | xargs clang-format-14 -i
set -eu
clang_format=$1
cd "$2"
files=$(find model pipeline plugins sinks tests -type f \
  \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)
bad=""
for f in $files; do
  "$clang_format" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
count=$(echo "$files" | wc -l)
if [ -n "$bad" ]; then
  echo "not formatted as .clang-format says:$bad"
  echo "fix: $clang_format -i$bad"
  exit 1
fi
echo "$count C++ files formatted as .clang-format says"
