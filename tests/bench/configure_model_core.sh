#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The GPU benchmark machine has LibTorch but no GStreamer, ZeroMQ or prometheus-cpp. The model
# core (model/: core, CLI, benchmark; pipeline/engine/: the engine core) must configure there with INTERNVL_WITH_GSTREAMER=OFF; this
# test hides every pkg-config package but the model's own and configures it.
# Usage: configure_model_core.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/pc"
for pkg in sentencepiece libzip stb libjpeg; do
  ln -s "$(pkg-config --variable=pcfiledir "$pkg")/$pkg.pc" "$work/pc/"
done
if ! PKG_CONFIG_LIBDIR="$work/pc" cmake -S "$src" -B "$work/build" -G Ninja \
    -DINTERNVL_WITH_GSTREAMER=OFF -DINTERNVL_WITH_CUDA=OFF >"$work/configure.log" 2>&1; then
  tail -30 "$work/configure.log"
  echo "FAILED: the model core does not configure without GStreamer"
  exit 1
fi
# The list goes to a file first: with pipefail, `ninja | grep -q` fails when grep stops reading early.
ninja -C "$work/build" -t targets all >"$work/targets.txt"
if grep -E '^(gstinternvl|ivs_pipeline|ivs_sinks|internvl-streamd)' "$work/targets.txt" >&2; then
  echo "FAILED: targets that need GStreamer were configured"
  exit 1
fi
grep -q '^internvl:' "$work/targets.txt" || { echo "FAILED: no internvl CLI target"; exit 1; }
# The engine core and its tests build there too, so the GPU machine runs the engine on the GPU.
for target in ivs_engine_core engine_tests bench_engine_streams; do
  grep -qE "^(lib)?$target(\.a)?:" "$work/targets.txt" || { echo "FAILED: no $target target"; exit 1; }
done
echo "PASSED: the model core configures without GStreamer, ZeroMQ and prometheus-cpp"
