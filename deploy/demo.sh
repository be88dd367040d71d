#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job for now: makes a sample image with GStreamer, then classifies and captions it
# with the `internvl` CLI. The model is $INTERNVL_MODEL_DIR when set (e.g. a downloaded
# OpenGVLab/InternVL-14B-224px), else the tiny parity checkpoint in ../shared/fixtures (random
# weights: the labels and captions are meaningless until the trained demo model lands).
set -euo pipefail
build_dir=${1:-build}
out_dir=${2:-out/demo}
root=$(cd "$(dirname "$0")/.." && pwd)
cli="$build_dir/bin/internvl"

model=${INTERNVL_MODEL_DIR:-$root/../shared/fixtures/internvl-tiny}
if [ ! -f "$model/config.json" ]; then
  echo "demo: no model found at $model." >&2
  echo "      Set INTERNVL_MODEL_DIR to an InternVL checkpoint directory (config.json, weights," >&2
  echo "      tokenizer.model), e.g. a download of OpenGVLab/InternVL-14B-224px." >&2
  exit 1
fi

mkdir -p "$out_dir"
image="$out_dir/smpte.png"
gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=smpte \
  ! video/x-raw,width=320,height=240 ! videoconvert ! pngenc ! filesink location="$image"

echo "== model: $model"
echo "== image: $image"
echo "== zero-shot classification (InternVL-C)"
"$cli" classify --model "$model" --image "$image" --top-k 3 \
  --labels "colour bars;a cat;a city street at night;a black screen" --json | tee "$out_dir/classify.json"
echo "== caption (5 beams)"
"$cli" caption --model "$model" --image "$image" --json | tee "$out_dir/caption.json"
echo "== outputs: $out_dir/classify.json $out_dir/caption.json"
