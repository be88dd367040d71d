#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package InternVL Stream needs to build, test and run.
# Idempotent and non-interactive: packages already present are skipped by apt itself,
# and nothing is installed when every package is already there.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache
  # model core: LibTorch (CPU) with a fast BLAS (the reference BLAS is 7-15x slower),
  # sentencepiece, JSON, zip (PyTorch .bin checkpoints), image decoding (stb_image)
  libtorch-dev libopenblas0-openmp libsentencepiece-dev sentencepiece
  nlohmann-json3-dev libzip-dev libstb-dev libcli11-dev
  # JPEG decoding bit-identical to Pillow (libjpeg-turbo, the library Pillow links)
  libjpeg-dev
  # GStreamer 1.22
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  fonts-dejavu-core libgstrtspserver-1.0-dev gstreamer1.0-rtsp
  # NVDEC frames in place (memory:CUDAMemory): GStreamer's CUDA library headers (gstreamer-cuda-1.0;
  # the package drags in OpenCV's headers too, about 66 packages, under a minute to install)
  libgstreamer-plugins-bad1.0-dev
  # caption overlay: Pango + Cairo text rendering
  libpango1.0-dev libcairo2-dev
  # sinks and service
  libzmq3-dev cppzmq-dev prometheus-cpp-dev libyaml-cpp-dev
  # the frame search index (sinks/index/): SQLite (WAL) stores every sampled frame, FAISS
  # searches their embeddings
  libsqlite3-dev libfaiss-dev
  # HTTP for /metrics: civetweb (prometheus-cpp's exposer) cannot start threads next to LibTorch
  libmicrohttpd-dev
  # tests (the generators of tests/data need python3-torch / python3-pil only to regenerate)
  libgtest-dev libgmock-dev liblsan0
  # the format check of every C++ source (tests/check_format.sh)
  clang-format-14
  # make fuzz: the libFuzzer targets (tests/fuzz/) are built by clang-14 with its libFuzzer
  clang-14 libclang-rt-14-dev
  # tests: the JSON Schema check of sink messages (tests/sinks/validate_messages.py, run by
  # /usr/bin/python3) and a Python ZeroMQ subscriber for checking a live endpoint by hand
  python3-jsonschema python3-zmq
  # tests/bench/eager_internvl.py: the PyTorch eager baseline of the GPU benchmark, checked here
  # against the official outputs of the tiny fixture (uses the libtorch1.13 already installed);
  # the build also writes the tiny checkpoint's pytorch_model.bin with it (tests/data/parity/)
  python3-torch python3-numpy
  # service tests (tests/integration/run_service_e2e.py): a real Prometheus server scraping the
  # service (package prometheus, below) and headless Chromium loading its status page
  chromium
  # deploy checks (tests/deploy/check_deploy.py): promtool (Debian ships it only in the
  # prometheus package), Go + sprig + yaml.v3 for the Helm-free chart renderer, PyYAML
  prometheus golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# LibTorch must use the OpenMP OpenBLAS, not the reference BLAS or the pthread OpenBLAS
# (oversubscribes with LibTorch's OpenMP threads).
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
if [ -e "$blas" ] && [ "$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null)" != "$blas" ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas"
  "${sudo_cmd[@]}" update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3 || true
fi
