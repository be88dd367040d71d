#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run HERE (the Debian 12 build machine), before a device run: collects what the GPU machine's
# image lacks into <repo>/.device-deps/ (git-ignored), for the device tool's `carry`.
#
#   header-only libs   nlohmann-json, CLI11 (headers + their relocatable CMake configs)
#   from source        GoogleTest (/usr/src/googletest; run.sh builds it there with its compiler)
#   shared libs        sentencepiece, libzip, stb, libjpeg-turbo (headers, .so files, our own
#                      relocatable .pc files) plus every library they pull in that is not part of
#                      the C/C++ runtime (found with ldd), and pkgconf in case the image has none
#   (test data is part of the working tree, tests/data/, which travels anyway)
#
# Risk: the .so files were built on Debian 12 (glibc 2.36, GCC 12's libstdc++). They load on a
# system with glibc >= the newest GLIBC_ version they need and a libstdc++ at least as new; the
# MANIFEST written below records both, and run.sh compares them with the device. Header-only and
# from-source parts carry no such risk.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
out=$root/.device-deps
multiarch=/usr/lib/x86_64-linux-gnu

rm -rf "$out"
mkdir -p "$out"/{include,lib/pkgconfig,share/cmake,src,bin}

# --- header-only libraries --------------------------------------------------------------------
cp -a /usr/include/nlohmann "$out/include/"
cp -a /usr/share/cmake/nlohmann_json "$out/share/cmake/"
cp -a /usr/include/CLI "$out/include/"
cp -a /usr/share/cmake/CLI11 "$out/share/cmake/"

# --- GoogleTest as source ---------------------------------------------------------------------
cp -a /usr/src/googletest "$out/src/googletest"

# --- shared libraries and their headers -------------------------------------------------------
cp -a /usr/include/sentencepiece_processor.h /usr/include/sentencepiece_trainer.h "$out/include/"
cp -a /usr/include/stb "$out/include/"
cp -a /usr/include/zip.h "$out/include/"
cp -a "$(dirname "$(find /usr/include /usr/lib -name zipconf.h -print -quit)")/zipconf.h" "$out/include/"
cp -a /usr/include/jpeglib.h /usr/include/jmorecfg.h /usr/include/jerror.h "$out/include/"
cp -a /usr/include/x86_64-linux-gnu/jconfig.h "$out/include/"

# The C/C++ runtime every Linux system has; anything else a library needs is carried.
is_system_lib() {
  case "$1" in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libdl.so* | libpthread.so* | \
      librt.so* | libstdc++.so* | libgcc_s.so*) return 0 ;;
  esac
  return 1
}

# copy_lib <path>: the file, its soname symlinks, and (recursively) its non-system dependencies.
copy_lib() {
  local path=$1 name
  name=$(basename "$path")
  [[ -e "$out/lib/$name" ]] && return 0
  cp -a "$path" "$out/lib/"
  cp -a "$(readlink -f "$path")" "$out/lib/" 2>/dev/null || true
  local dep dep_path
  while read -r dep _ dep_path _; do
    is_system_lib "$dep" && continue
    [[ -n "$dep_path" && -e "$dep_path" ]] || { echo "missing dependency $dep of $path" >&2; exit 1; }
    copy_lib "$dep_path"
  done < <(ldd "$path" | grep '=>')
}

for lib in libsentencepiece.so libsentencepiece_train.so libzip.so libstb.so libjpeg.so; do
  for f in "$multiarch/$lib" "$multiarch/$lib".[0-9]*; do copy_lib "$f"; done
done
cp -a "$(command -v pkgconf)" "$out/bin/pkgconf"
copy_lib "$multiarch/libpkgconf.so.3"

# Relocatable .pc files: ${pcfiledir} is where the .pc file lies (pkg-config and pkgconf).
write_pc() {  # name version libs [cflags-subdir]
  cat >"$out/lib/pkgconfig/$1.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: $1 carried from Debian 12 for the GPU build
Version: $2
Libs: -L\${libdir} $3
Cflags: -I\${includedir}${4:+/$4}
EOF
}
write_pc sentencepiece "$(pkg-config --modversion sentencepiece)" "-lsentencepiece -lsentencepiece_train"
write_pc libzip "$(pkg-config --modversion libzip)" "-lzip"
write_pc stb "$(pkg-config --modversion stb)" "-lstb" stb
write_pc libjpeg "$(pkg-config --modversion libjpeg)" "-ljpeg"

# --- manifest: what the carried binaries need from the device's C/C++ runtime ------------------
{
  echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "max_glibc $(objdump -T "$out"/lib/*.so* "$out/bin/pkgconf" 2>/dev/null |
    grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -1)"
  echo "max_glibcxx $(objdump -T "$out"/lib/*.so* 2>/dev/null |
    grep -o 'GLIBCXX_[0-9][0-9.]*' | sort -uV | tail -1)"
  echo "libs $(cd "$out/lib" && ls -- *.so* | tr '\n' ' ')"
} >"$out/MANIFEST"
cat "$out/MANIFEST"
size_kib=$(du -sk "$out" | cut -f1)
echo "packed $out: $((size_kib / 1024)) MiB (the device tool carries at most 64 MiB with the tree)"
if ((size_kib > 48 * 1024)); then
  echo "warning: over 48 MiB; the working tree plus this may exceed the 64 MiB limit" >&2
fi
