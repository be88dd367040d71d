#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: makes a short video of changing synthetic scenes (half of them combinations the
# demo model never saw in training), runs the real product on it — a gst-launch-1.0 pipeline
# with internvlclassify, internvlindex, internvlcaption, internvloverlay and internvlpublish —
# prints each classification and caption as it is published over ZeroMQ, writes the JSON
# results and an annotated video, and searches the frames it indexed by text. The model is the trained demo checkpoint in model/demo (2.4 MB, see its
# README), or $INTERNVL_MODEL_DIR (e.g. InternVL-14B-224px; then the synthetic labels are only
# a toy task for it).
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)  # relative to where make runs, or absolute
out_dir=${2:-out/demo}
root=$(cd "$(dirname "$0")/.." && pwd)
model=${INTERNVL_MODEL_DIR:-$root/model/demo}
if [ ! -f "$model/config.json" ]; then
  echo "demo: no model at $model (set INTERNVL_MODEL_DIR to an InternVL checkpoint directory)" >&2
  exit 1
fi
export GST_PLUGIN_PATH="$build_dir/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$build_dir/demo-registry.bin"
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
size=256
fps=10

echo "== making a 12 s video of 6 scenes: $out_dir/scenes.mp4"
"$build_dir/bin/internvl-scenes" video --scenes 6 --seconds 2 --fps $fps --size $size --seed 3 \
  --out "$out_dir/scenes.rgb" --timeline "$out_dir/scenes.json" > /dev/null
"$build_dir/bin/internvl-scenes" labels "$out_dir/labels.txt"
gst-launch-1.0 -q -e filesrc location="$out_dir/scenes.rgb" \
  ! rawvideoparse width=$size height=$size format=rgb framerate=$fps/1 ! videoconvert \
  ! x264enc speed-preset=ultrafast key-int-max=$fps ! mp4mux ! filesink location="$out_dir/scenes.mp4"
rm -rf "$out_dir/scenes.rgb" "$out_dir/results.jsonl" "$out_dir/index"

echo "== model: $model"
echo "== pipeline: decode -> internvlclassify (2 samples/s) -> internvlindex -> internvlcaption (1/s) -> internvloverlay -> internvlpublish"
# The printer binds a ZeroMQ SUB socket first; the pipeline connects to it, so nothing is missed.
# The file sink keeps the clock: the video plays in real time, as from a camera. A file is not
# live, so the captioner captions every sampled frame (once a second), waiting if it must.
port_file=$(mktemp)
/usr/bin/python3 -u "$root/deploy/demo_printer.py" --port-file "$port_file" --timeline "$out_dir/scenes.json" &
printer=$!
trap 'kill $printer 2>/dev/null || true; rm -f "$port_file"' EXIT
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
gst-launch-1.0 -q -e filesrc location="$out_dir/scenes.mp4" ! decodebin ! videoconvert \
  ! internvlclassify model="$model" labels-file="$out_dir/labels.txt" selection-fps=2 clip-frames=4 top-k=3 \
  ! internvlindex location="$out_dir/index" stream-id=demo \
  ! internvlcaption model="$model" selection-fps=1 min-new-tokens=1 \
  ! internvloverlay font-desc="Sans 9" top-k=1 \
  ! internvlpublish endpoint="connect:tcp://127.0.0.1:$port" file-path="$out_dir/results.jsonl" sensor-id=demo \
  ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$out_dir/annotated.mp4" sync=true
sleep 1
kill -INT $printer 2>/dev/null || true
wait $printer 2>/dev/null || true
query=${INTERNVL_DEMO_QUERY:-a green star}
echo "== search: internvl search --index $out_dir/index --model $model -k 3 \"$query\""
"$build_dir/bin/internvl" search --index "$out_dir/index" --model "$model" -k 3 "$query"
echo "== outputs:"
echo "   $out_dir/results.jsonl   every result as JSON (sinks/schema/internvl-result-1.1.schema.json)"
echo "   $out_dir/annotated.mp4   the video with the labels and captions drawn on it"
echo "   $out_dir/index/          every sampled frame's embedding and thumbnail (internvl search)"
echo "   $out_dir/scenes.mp4      the input; $out_dir/scenes.json says which scene is on screen when"
