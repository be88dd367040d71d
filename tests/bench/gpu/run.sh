#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ONE prepared run on the GPU device machine (README.md beside this says how to call it): builds
# the model core, CLI and tests against the image's PyTorch LibTorch, benchmarks a full-size
# InternVL-14B of random bf16 weights, checks CUDA against CPU on the tiny fixture, and runs the
# CPU test suite. Results go to $OUT, which brings back at most 8 files: this writes 5 (run.log,
# build.log, ctest.log, summary.txt and reports.tar.gz, every report and parity.txt, packed again
# after each stage so that a run cut short still brings back what it measured).
#
# Stages run in order of value, so a slow build still leaves the benchmark: context, build of the
# CLI and the stream bench, bench, eager, engine_streams, graphs, parity, tests. INTERNVL_GPU_STAGES picks a subset; a re-run on a warm machine reuses
# the build directory (build-gpu/ is git-ignored and stays there between calls).
# Settings (environment): INTERNVL_GPU_{DEVICE,PRESET,DTYPE,BATCHES,CAPTION_BATCHES,ITERATIONS,
# WARMUP,PEAK_TFLOPS,STREAMS,STREAM_SECONDS,GRAPH_BATCHES,STAGES,BUDGET_S,BUILD_DIR}; TORCH_PREFIX overrides the LibTorch CMake path.
# INTERNVL_GPU_DEVICE=cpu INTERNVL_GPU_PRESET=tiny rehearses the whole script on a CPU machine.
set -uo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
deps=$root/.device-deps
out=${OUT:-$root/build-gpu/out}
build=${INTERNVL_GPU_BUILD_DIR:-$root/build-gpu}
device=${INTERNVL_GPU_DEVICE:-cuda}
preset=${INTERNVL_GPU_PRESET:-full}
dtype=${INTERNVL_GPU_DTYPE:-bf16}
batches=${INTERNVL_GPU_BATCHES:-1,8,64,256}
# Caption batch 256 x 5 beams would hold ~80 GB of KV cache beside 28 GB of weights: opt in.
caption_batches=${INTERNVL_GPU_CAPTION_BATCHES:-1,8,64}
caption_streams=${INTERNVL_GPU_CAPTION_STREAMS:-1,8,32}
iterations=${INTERNVL_GPU_ITERATIONS:-5}
warmup=${INTERNVL_GPU_WARMUP:-2}
peak=${INTERNVL_GPU_PEAK_TFLOPS:-989}  # H100/H200 SXM dense bf16, datasheet
# Engine stream density: empty = the bench's default (16..256 on CUDA, 1,2,4 on the CPU).
streams=${INTERNVL_GPU_STREAMS:-}
stream_seconds=${INTERNVL_GPU_STREAM_SECONDS:-8}
graph_batches=${INTERNVL_GPU_GRAPH_BATCHES:-1,8,64}
stages=${INTERNVL_GPU_STAGES:-context,build,bench,eager,engine_streams,graphs,parity,tests}
deadline=$((SECONDS + ${INTERNVL_GPU_BUDGET_S:-570}))  # the device tool stops a call at 600 s
jobs=$(nproc)
bin=$build/bin/internvl
reports=$build/reports  # packed into $out/reports.tar.gz after every stage
declare -A result

mkdir -p "$out" "$build"
rm -rf "$reports" && mkdir -p "$reports"

remaining() { echo $((deadline - SECONDS > 10 ? deadline - SECONDS : 10)); }

# stage <name> <max seconds> <function>: runs it under a time limit unless not selected.
stage() {
  local name=$1 limit=$2 fn=$3 start=$SECONDS
  if [[ ",$stages," != *",$name,"* ]]; then result[$name]=skipped; return 0; fi
  ((limit > $(remaining))) && limit=$(remaining)
  echo "=== $name (limit ${limit} s) $(date -u +%H:%M:%S)"
  if timeout "$limit" bash -c "$(declare -f "$fn"); $fn"; then
    result[$name]="ok, $((SECONDS - start)) s"
  else
    result[$name]="FAILED (rc $?), $((SECONDS - start)) s"
  fi
  echo "=== $name: ${result[$name]}"
  tar -czf "$out/reports.tar.gz" -C "$reports" .
}

# Where the image's toolchain and our carried dependencies are; exported for every stage.
setup_env() {
  [[ -d "$deps" ]] || { echo "no $deps: run tests/bench/gpu/pack-deps.sh here, carry .device-deps"; exit 1; }
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$deps/lib"  # system copies first
  export PKG_CONFIG_PATH="$deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export TORCH_CUDA_ARCH_LIST=9.0  # Hopper; spares Caffe2's arch detection
  local nvcc
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  PKG_CONFIG_BIN=$(command -v pkg-config || echo "$deps/bin/pkgconf")
  CUDA_ROOT=$(dirname "$(dirname "$nvcc")")
  TORCH_PREFIX=${TORCH_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)}
  export PKG_CONFIG_BIN CUDA_ROOT TORCH_PREFIX PATH=$CUDA_ROOT/bin:$PATH
  export OUT_DIR=$out BUILD_DIR=$build DEPS=$deps JOBS=$jobs BIN=$bin REPORTS=$reports
  export STREAMS=$streams STREAM_SECONDS=$stream_seconds GRAPH_BATCHES=$graph_batches
  export DEVICE=$device PRESET=$preset DTYPE=$dtype BATCHES=$batches CAPTION_BATCHES=$caption_batches CAPTION_STREAMS=$caption_streams
  export ITERATIONS=$iterations WARMUP=$warmup PEAK=$peak
}

context() {
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"cxx11_abi", torch.compiled_with_cxx11_abi(), "gpu", torch.cuda.is_available())'
  echo "TORCH_PREFIX=$TORCH_PREFIX CUDA_ROOT=$CUDA_ROOT pkg-config=$PKG_CONFIG_BIN cores=$JOBS"
  nvcc --version | tail -2; g++ --version | head -1; cmake --version | head -1
  echo "ninja $(ninja --version)"; ldd --version | head -1
  # The carried .so files need at most these from the device's C/C++ runtime.
  cat "$DEPS/MANIFEST"
  strings "$(g++ -print-file-name=libstdc++.so.6)" | grep -o 'GLIBCXX_3\.4\.[0-9]*' | sort -uV | tail -1
  true
}

build_cli() {
  # Our CMake files keep -Werror; a new compiler's new warning must not cost a device run, so a
  # launcher appends -Wno-error here (warnings still land in build.log).
  printf '#!/bin/sh\nexec "$@" -Wno-error\n' >"$BUILD_DIR/no-werror" && chmod +x "$BUILD_DIR/no-werror"
  local gtest=$BUILD_DIR/googletest-install
  if [[ ! -e "$gtest/lib/cmake/GTest/GTestConfig.cmake" && ! -e "$gtest/lib64/cmake/GTest/GTestConfig.cmake" ]]; then
    cmake -S "$DEPS/src/googletest" -B "$BUILD_DIR/googletest" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_GMOCK=OFF -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_INSTALL_PREFIX="$gtest" &&
      cmake --build "$BUILD_DIR/googletest" -j "$JOBS" && cmake --install "$BUILD_DIR/googletest" ||
      return 1
  fi >>"$OUT_DIR/build.log" 2>&1
  configure() {  # configure <INTERNVL_CUDA_GRAPHS>
    cmake -S "$(pwd)" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DEPS;$gtest" -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG_BIN" \
      -DINTERNVL_WITH_GSTREAMER=OFF -DCMAKE_CUDA_ARCHITECTURES=90 -DCUDAToolkit_ROOT="$CUDA_ROOT" \
      -DINTERNVL_CUDA_GRAPHS="$1" -DCMAKE_CXX_COMPILER_LAUNCHER="$BUILD_DIR/no-werror" \
      -DINTERNVL_TEST_PYTHON="$(command -v python3)" \
      >>"$OUT_DIR/build.log" 2>&1 || { tail -40 "$OUT_DIR/build.log"; return 1; }
    grep -E 'CUDA (graphs|kernels):' "$OUT_DIR/build.log" | tail -3
  }
  configure ON || return 1
  # The CLI first and alone, so that nothing else can cost the benchmark. CUDA graphs
  # (image_graphs.cpp, in every binary) first compile against this LibTorch here: should they
  # fail, the CLI is built again without them.
  if ! cmake --build "$BUILD_DIR" --target internvl -j "$JOBS" >>"$OUT_DIR/build.log" 2>&1; then
    grep -m 20 -A 5 'error' "$OUT_DIR/build.log"
    echo "the CLI did not build with CUDA graphs: again without them (INTERNVL_CUDA_GRAPHS=OFF)"
    configure OFF || return 1
    cmake --build "$BUILD_DIR" --target internvl -j "$JOBS" >>"$OUT_DIR/build.log" 2>&1 ||
      { grep -m 20 -A 5 'error' "$OUT_DIR/build.log"; return 1; }
  fi
  cmake --build "$BUILD_DIR" --target bench_engine_streams -j "$JOBS" >>"$OUT_DIR/build.log" 2>&1 ||
    { grep -m 20 -A 5 'error' "$OUT_DIR/build.log"; echo "bench_engine_streams did not build (not counted)"; }
  grep -c 'warning:' "$OUT_DIR/build.log" | sed 's/^/compiler warnings: /'
}

bench() {
  local common=(bench --preset "$PRESET" --device "$DEVICE" --dtype "$DTYPE" --iterations "$ITERATIONS"
    --warmup "$WARMUP" --peak-tflops "$PEAK" --json)
  "$BIN" "${common[@]}" --tasks c,g --batch "$BATCHES" >"$REPORTS/bench_image.json"
  local image_rc=$?
  "$BIN" "${common[@]}" --tasks caption --batch "$CAPTION_BATCHES" >"$REPORTS/bench_caption.json"
  local caption_rc=$?
  # Concurrent streams, continuously batched (CaptionBatch): the issue's captions/s at 1, 8, 32.
  "$BIN" "${common[@]}" --tasks caption-streams --batch "$CAPTION_STREAMS" >"$REPORTS/bench_streams.json"
  local streams_rc=$?
  # A/B of the caption join policy at the most streams: newcomers wait to join in groups of at
  # least as many as are live (or 8 steps). No gain on the 2-core CPU (demo model, 8 and 32
  # streams: within noise); on the GPU a lone newcomer's ViT + prefill idles more of the device.
  "$BIN" "${common[@]}" --tasks caption-streams --batch "${CAPTION_STREAMS##*,}" --join-ratio 1 \
    >"$REPORTS/bench_streams_join.json" || echo "caption join A/B failed (not counted)"
  ((image_rc == 0 && caption_rc == 0 && streams_rc == 0))
}

# The PyTorch eager baseline (tests/bench/eager_internvl.py, the same math as the official HF
# code): first its parity with the official outputs in the fixture, then the same tasks, batches,
# shapes and dtype as the bench stage, with the image's PyTorch.
eager() {
  python3 tests/bench/eager_internvl.py check tests/data/parity/internvl-tiny || return 1
  python3 tests/bench/eager_internvl.py bench --preset "$PRESET" --device "$DEVICE" --dtype "$DTYPE" \
    --tasks c,g --batch "$BATCHES" --attention eager --seconds 2 >"$REPORTS/bench_eager.json"
}

# Stream density of the engine alone (tests/bench/engine_streams.cpp): N real-time streams of
# 1080p NV12 frames in CUDA memory, as NVDEC hands them out, 1 sampled frame/s each, embedded by
# one engine with the elements' default batching; p95 frame-to-result latency within 300 ms.
# Decoding is not in it: the image has no GStreamer (e2e_streams.py measures whole pipelines).
engine_streams() {
  "$BUILD_DIR/bin/bench_engine_streams" --preset "$PRESET" --device "$DEVICE" --dtype "$DTYPE" \
    ${STREAMS:+--streams "$STREAMS"} --seconds "$STREAM_SECONDS" --json "$REPORTS/engine_streams.json"
}

# CUDA graphs A/B (model/internvl/image_graphs.h; EngineOptions::cuda_graphs): C and G replayed
# from one graph per batch size, against the bench stage's eager launches of the same batches.
graphs() {
  "$BIN" bench --preset "$PRESET" --device "$DEVICE" --dtype "$DTYPE" --iterations "$ITERATIONS" \
    --warmup "$WARMUP" --peak-tflops "$PEAK" --json --tasks c,g --batch "$GRAPH_BATCHES" --cuda-graphs \
    >"$REPORTS/bench_graphs.json"
}

# CUDA against CPU through the CLI's .npy dumps of the tiny fixture (the C++ tests run CPU only).
parity() {
  local fixture=tests/data/parity/internvl-tiny images=() d
  for f in image1_red_square_320x240.png image2_blue_green_gradient_200x300.png \
    image3_checkerboard_224x224.png; do images+=(--image "$fixture/$f"); done
  for d in cpu:fp32 "$DEVICE":fp32 "$DEVICE":bf16; do
    rm -rf "$BUILD_DIR/parity/${d/:/-}"
    "$BIN" embed --model "$fixture" "${images[@]}" --text "a red square" --mode g \
      --device "${d%%:*}" --dtype "${d##*:}" --dump "$BUILD_DIR/parity/${d/:/-}" >/dev/null || return 1
  done
  # Stages run in a fresh bash without pipefail: keep the check's own exit status.
  python3 - "$BUILD_DIR/parity" "$DEVICE" >"$REPORTS/parity.txt" 2>&1 <<'EOF'
import glob, os, sys
import numpy as np
root, device = sys.argv[1], sys.argv[2]
limits = {"fp32": 5e-3, "bf16": 5e-2}  # cuDNN may run the patch conv in TF32; bf16 ~1e-2
ok = True
for dtype, limit in limits.items():
    for ref in sorted(glob.glob(os.path.join(root, "cpu-fp32", "*.npy"))):
        got = os.path.join(root, f"{device}-{dtype}", os.path.basename(ref))
        a, b = np.load(got), np.load(ref)
        if b.dtype.kind in "iub" or b.size == 0:  # token ids and masks: compared exactly
            same = a.shape == b.shape and bool((a == b).all())
            ok &= same
            print(f"{device}/{dtype} vs cpu/fp32 {os.path.basename(ref):32s} "
                  f"{'identical' if same else 'DIFFERENT'}")
            continue
        a, b = a.astype(np.float64), b.astype(np.float64)
        rel = np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)
        good = bool(np.isfinite(a).all()) and rel <= limit
        ok &= good
        print(f"{device}/{dtype} vs cpu/fp32 {os.path.basename(ref):32s} rel {rel:.2e} "
              f"(limit {limit:.0e}) {'ok' if good else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
  local rc=$?
  cat "$REPORTS/parity.txt"
  return $rc
}

tests() {
  cmake --build "$BUILD_DIR" -j "$JOBS" >>"$OUT_DIR/build.log" 2>&1 ||
    { grep -m 20 -A 5 'error' "$OUT_DIR/build.log"; return 1; }
  (cd "$BUILD_DIR" && ctest --output-on-failure -j 8 --timeout 300) >"$OUT_DIR/ctest.log" 2>&1
  local rc=$?
  grep -E 'tests passed|Failed|\*\*\*' "$OUT_DIR/ctest.log" | tail -20
  return $rc
}

summary() {
  python3 - "$reports/bench_image.json" "$reports/bench_caption.json" "$reports/bench_streams.json" \
    "$reports/bench_eager.json" "$reports/engine_streams.json" "$reports/bench_graphs.json" <<'EOF'
import json, sys
def load(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
for path in sys.argv[1:4]:
    try:
        report = json.load(open(path))
    except Exception as e:  # an empty or partial file after a failed run
        print(f"{path}: no report ({e})")
        continue
    c, b = report["context"], report["context"]["baseline"]
    print(f'{c["model"]} on {c["device"]}/{c["dtype"]}, LibTorch {c["torch_version"]}, '
          f'{c["cores"]} cores; baseline {b["matmul_size"]}^3 matmul {b["matmul_tflops"]:.1f} '
          f'TFLOP/s; peak {c["peak_tflops"]} TFLOP/s')
    print(f'{"task":16s}{"batch":>6s}{"img/s":>10s}{"ms/img":>9s}{"p50":>9s}{"p95":>9s}'
          f'{"TFLOP/s":>9s}{"MFU(mm)":>8s}{"MFU(pk)":>8s}{"tok/s":>9s}')
    for r in report["results"]:
        ms = r["ms_per_image"]
        tok = r.get("generated_tokens_per_second")
        print(f'{r["task"]:16s}{r["batch"]:6d}{r["images_per_second"]:10.2f}{ms["mean"]:9.2f}'
              f'{ms["p50"]:9.2f}{ms["p95"]:9.2f}{r["achieved_tflops"]:9.1f}'
              f'{r["mfu_vs_matmul"]:8.3f}{(r["mfu_vs_peak"] or 0):8.3f}'
              f'{(f"{tok:9.0f}" if tok is not None else "        -")}'
              f'{"" if r["output_finite"] else "  non-finite"}')
ours, captions, streams, eager, density, graphed = (load(p) for p in sys.argv[1:])
if graphed and not ours:
    print("CUDA graphs A/B: no eager rates of this run to compare with (bench stage not run)")
if graphed:
    for r in graphed["results"]:
        error = r.get("cuda_graph_relative_error")
        print(f'  {r["task"]} batch {r["batch"]:4d}: replay vs eager relative error '
              f'{"na" if error is None else f"{error:.2e}"}')
if graphed and ours:
    eager_launch = {(r["task"], r["batch"]): r["images_per_second"] for r in ours["results"]}
    print("CUDA graphs A/B (img/s; eager launches from the bench stage):")
    for r in graphed["results"]:
        base = eager_launch.get((r["task"], r["batch"]))
        ratio = f'{r["images_per_second"] / base:.2f}x' if base else "na"
        print(f'  {r["task"]} batch {r["batch"]:4d}: graphs {r["images_per_second"]:9.2f}, '
              f'eager {base or 0:9.2f}, graphs/eager {ratio}')
if density:
    print(f'engine stream density (decoding excluded): {density["model"]} on {density["device"]}, '
          f'{density["width"]}x{density["height"]} NV12 in {density["nv12_memory"]} memory, '
          f'{density["sample_fps"]:g} fps/stream, batch-size {density["batch_size"]}, '
          f'p95 bound {density["p95_bound_ms"]:g} ms')
    for p in density["points"]:
        print(f'  {p["streams"]:4d} streams: {p["completed"]}/{p["frames"]} done, {p["dropped"]} dropped, '
              f'{p["failed"]} failed, p50 {p.get("p50_ms", float("nan")):.1f} ms, '
              f'p95 {p.get("p95_ms", float("nan")):.1f} ms, batch per frame {p.get("frame_mean_batch", float("nan")):.1f}, '
              f'{p["results_per_second"]:.1f} results/s, kept up: {"yes" if p["kept_up"] else "no"}')
    p95 = density["p95_ms"]
    print(f'engine_streams: streams={density["streams"]} p95_ms={"na" if p95 is None else f"{p95:.1f}"}')
fps = {}
if ours:
    for r in ours["results"]:
        fps[(r["task"], r["batch"])] = r["images_per_second"]
eager_fps = {(r["task"], r["batch"]): r["images_per_s"] for r in (eager or {}).get("results", [])}
if eager:
    print(f'eager baseline: {eager["implementation"]}, {eager["device"]}/{eager["dtype"]}')
    for key in sorted(eager_fps):
        mine = fps.get(key)
        ratio = f"{mine / eager_fps[key]:.2f}x" if mine else "na"
        print(f"  {key[0]} batch {key[1]:4d}: eager {eager_fps[key]:9.2f} img/s, ours {mine or 0:9.2f}, ours/eager {ratio}")
def best(task, table):
    values = [v for (t, _), v in table.items() if t == task]
    return max(values) if values else None
def fmt(x, digits=1):
    return "na" if x is None else f"{x:.{digits}f}"
b1 = fps.get(("c", 1)) / eager_fps[("c", 1)] if fps.get(("c", 1)) and eager_fps.get(("c", 1)) else None
best_ratio = best("c", fps) / best("c", eager_fps) if best("c", fps) and best("c", eager_fps) else None
cap = max((r["images_per_second"] for report in (captions, streams) if report
           for r in report["results"]), default=None)
gpu = ours["context"]["device"].replace(" ", "_") if ours else "na"
print(f"summary: gpu={gpu} c_fps={fmt(best('c', fps))} g_fps={fmt(best('g', fps))} "
      f"eager_ratio_b1={fmt(b1, 2)} eager_ratio_best={fmt(best_ratio, 2)} e2e_streams=na p95_ms=na "
      f"captions_per_s={fmt(cap)}")
EOF
  for name in context build bench eager engine_streams graphs parity tests; do printf '%-15s %s\n' "$name" "${result[$name]:-not run}"; done
}

main() {
  setup_env
  stage context 30 context
  stage build 300 build_cli
  if [[ ! -x "$bin" ]]; then echo "no $bin: nothing to run"; summary; return 1; fi
  stage bench 240 bench
  stage eager 120 eager
  stage engine_streams 100 engine_streams
  stage graphs 90 graphs
  stage parity 60 parity
  stage tests 300 tests
  summary | tee "$out/summary.txt"
  tar -czf "$out/reports.tar.gz" -C "$reports" .
  [[ "${result[bench]:-}" == ok* ]]
}

main "$@" 2>&1 | tee "$out/run.log"
