#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prints, one per line and sorted, the Debian packages that own the shared libraries the given
# ELF files load (ldd's transitive closure). deploy/Dockerfile runs it in the build stage on the
# installed binaries so the runtime stage installs exactly the run-time packages, derived from
# what was really linked rather than from a hand-kept list that drifts from install-deps.sh.
#
# Usage: runtime-packages.sh [--skip-prefix DIR]... FILE|DIR...
#   FILE               an ELF executable or shared library
#   DIR                every ELF file below DIR (e.g. a DESTDIR of `cmake --install`)
#   --skip-prefix DIR  libraries under DIR are provided to the runtime image some other way
#                      (the pip LibTorch and its nvidia-* wheels, the CUDA toolkit); they are
#                      reported on stderr and not mapped to packages.
# Fails when a library is "not found" or belongs to no package and is not under a skip prefix.
# The NVIDIA driver's user-space libraries (libcuda.so.1, libnvidia-*.so.1, libnvcuvid.so.1) may
# be missing: the NVIDIA Container Toolkit mounts the host's copies when the container starts.
set -euo pipefail

usage() {
  echo "usage: $0 [--skip-prefix DIR]... FILE|DIR..." >&2
  exit 2
}

skip_prefixes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-prefix) [ $# -ge 2 ] || usage; skip_prefixes+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage

is_skipped() {
  local p
  for p in "${skip_prefixes[@]+"${skip_prefixes[@]}"}"; do
    case "$1" in "$p"/*) return 0 ;; esac
  done
  return 1
}

is_elf() {
  [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]
}

files=()
for arg in "$@"; do
  if [ -d "$arg" ]; then
    while IFS= read -r -d '' f; do
      is_elf "$f" && files+=("$f")
    done < <(find "$arg" -type f -print0)
  elif [ -f "$arg" ]; then
    files+=("$arg")
  else
    echo "runtime-packages: no such file or directory: $arg" >&2
    exit 1
  fi
done
[ ${#files[@]} -gt 0 ] || { echo "runtime-packages: no ELF files in: $*" >&2; exit 1; }

driver_libs='^[[:space:]]*lib(cuda|nvidia-[a-z-]+|nvcuvid)\.so\.1 => not found'
declare -A libs=()
for file in "${files[@]}"; do
  if ! out=$(ldd "$file" 2>&1); then
    echo "runtime-packages: ldd failed on $file: $out" >&2
    exit 1
  fi
  unresolved=$(grep 'not found' <<<"$out" | grep -v -E "$driver_libs" || true)
  if [ -n "$unresolved" ]; then
    echo "runtime-packages: unresolved libraries in $file:" >&2
    echo "$unresolved" >&2
    exit 1
  fi
  while read -r lib; do
    libs["$lib"]=1
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out")
done

# Debian 12 is merged-/usr: dpkg may have registered a file under /lib while ldd prints /usr/lib
# (or the reverse), and alternatives (libblas.so.3) are symlinks; so every spelling of each
# library is looked up, all in one dpkg-query call (one call per library takes ~30 s).
declare -A spellings=()
needed=()
for lib in "${!libs[@]}"; do
  real=$(readlink -f "$lib")
  if is_skipped "$lib" || is_skipped "$real"; then
    echo "runtime-packages: provided outside apt: $lib" >&2
    continue
  fi
  needed+=("$lib")
  spellings["$lib"]="$real $lib ${real#/usr} /usr$real ${lib#/usr} /usr$lib"
done
[ ${#needed[@]} -gt 0 ] || exit 0

declare -A owners=()
# The spellings are space-separated paths without glob characters: word splitting is wanted.
# shellcheck disable=SC2086
# Lines look like "pkg:amd64, other:amd64: /path"; "diversion by ..." lines are skipped.
while IFS= read -r line; do
  case "$line" in diversion\ *) continue ;; esac
  path=${line##*: }
  pkgs=${line%: *}
  owners["$path"]=$(tr ',' '\n' <<<"$pkgs" | sed -e 's/^ *//' -e 's/:.*$//' | tr '\n' ' ')
done < <(for lib in "${needed[@]}"; do printf '%s\n' ${spellings[$lib]}; done | sort -u \
           | xargs dpkg-query -S 2>/dev/null || true)

declare -A packages=()
status=0
for lib in "${needed[@]}"; do
  found=
  for candidate in ${spellings[$lib]}; do
    if [ -n "${owners[$candidate]+x}" ]; then
      found=${owners[$candidate]}
      break
    fi
  done
  if [ -z "$found" ]; then
    echo "runtime-packages: $lib belongs to no Debian package (add --skip-prefix if the image" \
      "provides it another way)" >&2
    status=1
    continue
  fi
  for pkg in $found; do
    packages["$pkg"]=1
  done
done
[ "$status" -eq 0 ] || exit "$status"
printf '%s\n' "${!packages[@]}" | sort
