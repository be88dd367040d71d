#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stream density end to end: how many H.264 streams one machine decodes, samples at 1 frame/s
and classifies in real time, and the frame-to-result latency on the way.

Usage: e2e_streams.py --model DIR [--streams 1,2,4] [--decoder avdec_h264|nvh264dec]
                      [--width 1920 --height 1080 --fps 30 --seconds 20] [--sample-fps 1]
                      [--p95-bound-ms 300] [--work-dir DIR] [--json OUT] [--all]

One clip (videotestsrc ball -> x264enc -> MP4) is made once. For each N, one gst-launch-1.0
pipeline plays N copies of it at real time (clocksync after each decoder hands frames on at
their time, as cameras would), each decoded by --decoder, classified by internvlclassify
(selection-fps, one engine shared by all N) and
published to a JSON-lines file. N keeps up when the pipeline takes no longer than the clip to
play (gst-launch's "Execution ended after", PLAYING to EOS, within 5 %) and the p95 of the
results' latency_seconds (frame arrival at the classifier to its result) is under the bound.
Sweeps stop at the first N that does not keep up (--all runs every N). Prints a table and one
line `e2e: decoder=... streams=<largest N that kept up> p95_ms=<its p95>`.

Needs gst-launch-1.0 with x264enc, qtdemux, h264parse, the decoder, and our plugin on
GST_PLUGIN_PATH. Run with Debian's /usr/bin/python3. Speed is reported, never asserted.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

LABELS = "a ball;a car;a person;a dog;a tree"


def run(cmd, timeout):
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=timeout)
    return proc, time.monotonic() - started


def make_clip(path, o):
    frames = int(round(o.seconds * o.fps))
    proc, took = run(["gst-launch-1.0", "-e", "videotestsrc", "pattern=ball", f"num-buffers={frames}",
                      "!", f"video/x-raw,format=I420,width={o.width},height={o.height},"
                      f"framerate={o.fps}/1", "!",
                      "x264enc", "speed-preset=ultrafast", "tune=zerolatency",
                      f"key-int-max={o.fps}", "bitrate=8000", "!", "h264parse", "!", "mp4mux", "!",
                      "filesink", f"location={path}"], timeout=600)
    if proc.returncode != 0 or not os.path.exists(path):
        sys.exit(f"making the clip failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    print(f"clip: {frames} frames {o.width}x{o.height} at {o.fps} fps, H.264, made in {took:.1f} s")


def pipeline(n_streams, clip, work, o):
    args = []
    for n in range(n_streams):
        # clocksync releases each decoded frame at its time, as a camera would deliver it, so
        # latency_seconds measures inference and not frames decoded ahead waiting for playback.
        args += ["filesrc", f"location={clip}", "!", "qtdemux", "!", "h264parse", "!", o.decoder, "!",
                 "clocksync", "!", "internvlclassify", f"name=classify{n}", f"model={o.model}", f"labels={LABELS}",
                 f"selection-fps={o.sample_fps}", "clip-frames=0", f"batch-size={o.batch_size}",
                 "max-latency=60000000000", "!",
                 "internvlpublish", f"file-path={os.path.join(work, f'stream{n}.jsonl')}",
                 f"sensor-id=stream{n}", "!", "fakesink", "sync=false"]
    return args


def percentile(values, q):
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


def measure(n_streams, clip, work, o):
    for n in range(n_streams):
        path = os.path.join(work, f"stream{n}.jsonl")
        if os.path.exists(path):
            os.remove(path)
    proc, wall = run(["gst-launch-1.0", "-e"] + pipeline(n_streams, clip, work, o),
                     timeout=o.seconds * 10 + 600)
    if proc.returncode != 0:
        sys.exit(f"{n_streams} streams: gst-launch exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    found = re.search(r"Execution ended after (\d+):(\d+):([\d.]+)", proc.stdout)
    if not found:
        sys.exit(f"{n_streams} streams: no 'Execution ended after' in gst-launch's output")
    hours, minutes, seconds = found.groups()
    playing = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    latencies, results = [], 0
    for n in range(n_streams):
        with open(os.path.join(work, f"stream{n}.jsonl"), encoding="utf-8") as f:
            for line in f:
                body = json.loads(line)
                if body.get("kind") != "classification":
                    continue
                results += 1
                latencies.append(body["metrics"]["latency_seconds"])
    expected = n_streams * int(o.seconds * o.sample_fps)
    row = {"streams": n_streams, "playing_seconds": playing, "process_seconds": wall,
           "realtime_ratio": playing / o.seconds, "results": results,
           "expected_results": expected,
           "p50_ms": 1e3 * percentile(latencies, 0.5) if latencies else None,
           "p95_ms": 1e3 * percentile(latencies, 0.95) if latencies else None}
    row["kept_up"] = (row["realtime_ratio"] <= 1.05 and row["p95_ms"] is not None and
                      row["p95_ms"] < o.p95_bound_ms and results >= expected * 0.9)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--streams", default="1,2,4")
    parser.add_argument("--decoder", default="avdec_h264")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sample-fps", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--p95-bound-ms", type=float, default=300.0)
    parser.add_argument("--work-dir", default="e2e-streams")
    parser.add_argument("--json")
    parser.add_argument("--all", action="store_true")
    o = parser.parse_args()
    counts = [int(x) for x in o.streams.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        sys.exit("--streams takes positive integers such as 1,2,4")
    if not os.path.isdir(o.model):
        sys.exit(f"--model {o.model}: not a checkpoint directory")
    os.makedirs(o.work_dir, exist_ok=True)
    clip = os.path.join(o.work_dir, f"clip-{o.width}x{o.height}-{o.fps}-{o.seconds:g}s.mp4")
    if not os.path.exists(clip):
        make_clip(clip, o)
    rows = []
    print(f"{'streams':>7} {'play/clip':>9} {'results':>9} {'p50 ms':>8} {'p95 ms':>8}  kept up")
    for n in counts:
        row = measure(n, clip, o.work_dir, o)
        rows.append(row)
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}"
        p95 = "-" if row["p95_ms"] is None else f"{row['p95_ms']:.1f}"
        print(f"{n:7d} {row['realtime_ratio']:9.3f} {row['results']:4d}/{row['expected_results']:<4d}"
              f" {p50:>8} {p95:>8}  {'yes' if row['kept_up'] else 'no'}", flush=True)
        if not row["kept_up"] and not o.all:
            break
    kept = [r for r in rows if r["kept_up"]]
    best = max(kept, key=lambda r: r["streams"]) if kept else None
    p95 = f"{best['p95_ms']:.1f}" if best else "na"
    print(f"e2e: decoder={o.decoder} {o.width}x{o.height}@{o.fps} sample_fps={o.sample_fps:g} "
          f"streams={best['streams'] if best else 0} p95_ms={p95}")
    if o.json:
        with open(o.json, "w", encoding="utf-8") as f:
            json.dump({"decoder": o.decoder, "width": o.width, "height": o.height, "fps": o.fps,
                       "seconds": o.seconds, "sample_fps": o.sample_fps, "model": o.model,
                       "p95_bound_ms": o.p95_bound_ms, "rows": rows,
                       "streams_kept_up": best["streams"] if best else 0,
                       "p95_ms": best["p95_ms"] if best else None}, f, indent=2)


if __name__ == "__main__":
    main()
