#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stream density end to end: how many H.264 streams one machine decodes, samples at 1 frame/s
and classifies in real time, and the capture-to-result latency on the way.

Usage: e2e_streams.py --model DIR [--streams 1,2,4] [--clip gop1|gop2|ball]
                      [--decode auto|all|keyframes|none] [--decoder avdec_h264|nvh264dec]
                      [--decoder-threads 1|auto|slice] [--width 1920 --height 1080 --fps 30
                      --seconds 20] [--sample-fps 1] [--p95-bound-ms 1000] [--work-dir DIR]
                      [--json OUT] [--all]

The clip (e2e_clips.py: gop1/gop2 realistic 1080p30 4 Mbit/s with a 1 s/2 s GOP, ball the old
low-bitrate synthetic one that overstates density) is made once and cached. For each N, one
gst-launch-1.0 pipeline plays N copies of it:

  filesrc ! qtdemux ! h264parse ! clocksync ! internvlkeyframes mode=<decode> ! <decoder>
    ! internvlclassify selection-fps=<sample-fps> ! internvlpublish ! fakesink

clocksync hands each encoded packet on at its frame's time, as a camera delivers them, so every
delay after it (the decoder holding frames for reordering or threading, batching, inference)
counts. It paces by DTS, which x264 puts 2 frames before the PTS on these clips, so its
ts-offset is the clip's PTS - DTS: a packet leaves when its frame is "captured", never before.
--decode none leaves internvlkeyframes out (the pipeline before issue 18); avdec_* decoders get
--decoder-threads.

Capture-to-result latency of a result = its wall time (the JSON's `timestamp`, taken when the
result is published, floored to the millisecond) - (wall time at PLAYING + the frame's running
time). The frame's running time is its PTS (`segment.start_time`) - the segment start qtdemux
sets (the clip's first PTS, 66.7 ms on these clips), read once per clip. The wall time at
PLAYING is time.time() when gst-launch prints "Setting pipeline to PLAYING" (read line by line
as it runs; GLib flushes each line). The pipeline takes its base time just after that print and
this script reads the line just after it is written, so the reference is off by the difference
of those two gaps: about a millisecond on an idle machine, a few tens of milliseconds at worst
on a loaded one. The in-element latency (`metrics.latency_seconds`: sampled frame at the
classifier to its result) is reported beside it.

N keeps up when the pipeline plays within 5 % of the clip's length (gst-launch's "Execution
ended after", PLAYING to EOS), at least 90 % of the expected results arrive, and the p95
capture-to-result latency is at most --p95-bound-ms. The latency percentiles leave out the
frames of the first --warmup-seconds (5) of the clip: N pipelines starting at once (N decoders
set up, the engine's first batches, the label embeddings) take seconds at N = 48, which says
nothing about serving N cameras for hours; their results still count towards the 90 %. Sweeps stop at the first N that does not
keep up (--all runs every N). Per N it reports also the CPU seconds (user + sys of gst-launch,
from wait4) per stream-second (N x clip seconds) and gst-launch's peak RSS. One summary line:
`e2e: decoder=... decode=... clip=... streams=<largest N kept up> p95_ms=<its p95>`.

Needs gst-launch-1.0 with x264enc, qtdemux, h264parse, the decoder, and our plugin on
GST_PLUGIN_PATH. Run with Debian's /usr/bin/python3. Speed is reported, never asserted.
"""
import argparse
import collections
import datetime
import json
import math
import os
import re
import subprocess
import sys
import threading
import time

import e2e_clips

LABELS = "a ball;a car;a person;a dog;a tree"
# avdec_* threading: see the README's decoder-threads measurement for why 1 is the default.
DECODER_THREADS = {"1": ["max-threads=1"], "auto": [], "slice": ["thread-type=slice"]}


def decode_stage(o, n):
    if o.decode == "none":
        return []
    return ["internvlkeyframes", f"name=keyframes{n}", f"mode={o.decode}", "!"]


def decoder_stage(o):
    threads = DECODER_THREADS[o.decoder_threads] if o.decoder.startswith("avdec_") else []
    return [o.decoder] + threads + ["!"]


def pipeline(n_streams, clip, facts, work, o):
    # clocksync paces packets by DTS; a camera hands a frame's packet on once it has captured
    # it, at its PTS, so the offset moves each release from DTS to PTS.
    delay_ns = round(facts["pts_minus_dts_seconds"] * 1e9)
    args = []
    for n in range(n_streams):
        args += (["filesrc", f"location={clip}", "!", "qtdemux", "!", "h264parse", "!",
                  "clocksync", f"ts-offset={delay_ns}", "!"] +
                 decode_stage(o, n) + decoder_stage(o) +
                 ["internvlclassify", f"name=classify{n}", f"model={o.model}", f"labels={LABELS}",
                  f"selection-fps={o.sample_fps}", "clip-frames=0", f"batch-size={o.batch_size}",
                  "max-latency=60000000000", "!",
                  "internvlpublish", f"file-path={os.path.join(work, f'stream{n}.jsonl')}",
                  f"sensor-id=stream{n}", "!", "fakesink", "sync=false"])
    return args


def run_gst(args, timeout):
    """Runs gst-launch-1.0 -m (bus messages printed); returns its exit status, output tail, wall
    time at PLAYING, rusage and the internvl-keyframes messages."""
    proc = subprocess.Popen(["gst-launch-1.0", "-m"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    run = {"tail": collections.deque(maxlen=200), "playing_wall": None, "keyframes": [],
           "ended": ""}
    for line in proc.stdout:
        if run["playing_wall"] is None and line.startswith("Setting pipeline to PLAYING"):
            run["playing_wall"] = time.time()
        if "internvl-keyframes," in line:
            run["keyframes"].append(line)
        if line.startswith("Execution ended after"):
            run["ended"] = line
        run["tail"].append(line)
    # wait4, not Popen.wait: it also returns the child's CPU time and peak RSS.
    _, status, run["usage"] = os.wait4(proc.pid, 0)
    proc.returncode = run["status"] = os.waitstatus_to_exitcode(status)
    watchdog.cancel()
    run["tail"] = "".join(run["tail"])
    return run


def last_keyframes_messages(messages):
    """Each internvlkeyframes element's last message, by stream number: its fields as text."""
    last = {}
    for line in messages:
        found = re.search(r'from element "keyframes(\d+)"', line)
        if found:
            last[int(found.group(1))] = dict(re.findall(r'([\w-]+)=\([\w]+\)([^,;]+)', line))
    return last


def decoding_at_end(last, n_streams):
    """Streams per decoding in effect at the end ({"keyframes": 3, "all": 1}); an element that
    posted no message decoded all (the mode it starts in)."""
    counts = collections.Counter(last[n]["decoding"] if n in last else "all"
                                 for n in range(n_streams))
    return dict(sorted(counts.items()))


def decoded_fraction(last):
    """Frames passed to the decoders over frames received, summed over the streams (each
    element posts its totals at end of stream); None without."""
    received = sum(int(fields["frames-in"]) for fields in last.values())
    passed = sum(int(fields["frames-passed"]) for fields in last.values())
    return passed / received if received else None


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


def wall_seconds(iso_utc):
    when = datetime.datetime.strptime(iso_utc, "%Y-%m-%dT%H:%M:%S.%fZ")
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


def read_results(n_streams, work, playing_wall, segment_start, warmup):
    """(capture-to-result latencies, in-element latencies, results), seconds, over all streams;
    the latencies of frames after the first `warmup` seconds of the clip only."""
    capture, element, results = [], [], 0
    for n in range(n_streams):
        with open(os.path.join(work, f"stream{n}.jsonl"), encoding="utf-8") as f:
            for line in f:
                body = json.loads(line)
                if body.get("kind") != "classification":
                    continue
                results += 1
                if body["segment"]["start_time"] - segment_start < warmup:
                    continue
                element.append(body["metrics"]["latency_seconds"])
                if playing_wall is not None:
                    captured = playing_wall + body["segment"]["start_time"] - segment_start
                    capture.append(wall_seconds(body["timestamp"]) - captured)
    return capture, element, results


def playing_seconds(output, n_streams):
    found = re.search(r"Execution ended after (\d+):(\d+):([\d.]+)", output)
    if not found:
        sys.exit(f"{n_streams} streams: no 'Execution ended after' in gst-launch's output")
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def ms(values, q):
    value = percentile(values, q)
    return None if value is None else 1e3 * value


def measure(n_streams, clip, facts, work, o):
    for n in range(n_streams):
        path = os.path.join(work, f"stream{n}.jsonl")
        if os.path.exists(path):
            os.remove(path)
    run = run_gst(["-e"] + pipeline(n_streams, clip, facts, work, o), timeout=o.seconds * 10 + 600)
    if run["status"] != 0:
        sys.exit(f"{n_streams} streams: gst-launch exited {run['status']}:\n{run['tail'][-3000:]}")
    playing = playing_seconds(run["ended"], n_streams)
    capture, element, results = read_results(n_streams, work, run["playing_wall"],
                                             facts["segment_start_seconds"], o.warmup_seconds)
    expected = n_streams * int(o.seconds * o.sample_fps)
    usage = run["usage"]
    cpu = usage.ru_utime + usage.ru_stime
    last = last_keyframes_messages(run["keyframes"])
    row = {"streams": n_streams, "playing_seconds": playing, "realtime_ratio": playing / o.seconds,
           "results": results, "expected_results": expected,
           "p50_ms": ms(capture, 0.5), "p95_ms": ms(capture, 0.95),
           "element_p50_ms": ms(element, 0.5), "element_p95_ms": ms(element, 0.95),
           "cpu_seconds": cpu, "cpu_seconds_per_stream_second": cpu / (n_streams * o.seconds),
           "peak_rss_mib": usage.ru_maxrss / 1024.0,
           "decoding": decoding_at_end(last, n_streams) if o.decode != "none" else {},
           "decoded_fraction": decoded_fraction(last)}
    row["kept_up"] = (row["realtime_ratio"] <= 1.05 and row["p95_ms"] is not None and
                      row["p95_ms"] <= o.p95_bound_ms and results >= expected * 0.9)
    return row


HEADER = (f"{'streams':>7} {'play/clip':>9} {'results':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'el p50':>8} {'el p95':>8} {'cpu/s-s':>8} {'RSS MiB':>8} {'key-only':>8} {'decoded':>7}"
          f"  kept up")


def format_row(row):
    def num(value):
        return "-" if value is None else f"{value:.1f}"
    key_only = "-"
    fraction = row["decoded_fraction"]
    decoded = "-" if fraction is None else f"{100 * fraction:.1f}%"
    if row["decoding"]:
        key_only = f"{row['decoding'].get('keyframes', 0)}/{row['streams']}"
    return (f"{row['streams']:7d} {row['realtime_ratio']:9.3f} "
            f"{row['results']:4d}/{row['expected_results']:<4d} {num(row['p50_ms']):>8} "
            f"{num(row['p95_ms']):>8} {num(row['element_p50_ms']):>8} "
            f"{num(row['element_p95_ms']):>8} {row['cpu_seconds_per_stream_second']:8.3f} "
            f"{row['peak_rss_mib']:8.0f} {key_only:>8} {decoded:>7}  "
            f"{'yes' if row['kept_up'] else 'no'}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--streams", default="1,2,4")
    parser.add_argument("--clip", choices=sorted(e2e_clips.KINDS), default="gop1")
    parser.add_argument("--decode", choices=["auto", "all", "keyframes", "none"], default="auto")
    parser.add_argument("--decoder", default="avdec_h264")
    parser.add_argument("--decoder-threads", choices=sorted(DECODER_THREADS), default="1",
                        help="avdec_* only: 1 = max-threads=1, auto = libav's default (one "
                             "frame thread per core), slice = thread-type=slice")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sample-fps", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--p95-bound-ms", type=float, default=1000.0)
    parser.add_argument("--warmup-seconds", type=float, default=5.0,
                        help="latencies of frames in the clip's first seconds are left out")
    parser.add_argument("--work-dir", default="e2e-streams")
    parser.add_argument("--json")
    parser.add_argument("--all", action="store_true")
    o = parser.parse_args()
    o.counts = [int(x) for x in o.streams.split(",") if x.strip()]
    if not o.counts or min(o.counts) < 1:
        sys.exit("--streams takes positive integers such as 1,2,4")
    if not os.path.isdir(o.model):
        sys.exit(f"--model {o.model}: not a checkpoint directory")
    # Not --exists: it also wants the plugin's version to be GStreamer's own.
    if o.decode != "none" and subprocess.run(["gst-inspect-1.0", "internvlkeyframes"],
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL).returncode != 0:
        sys.exit(f"--decode {o.decode} needs the internvlkeyframes element: build target "
                 "gstinternvl and put build/plugins on GST_PLUGIN_PATH (or --decode none)")
    return o


def main():
    o = parse_args()
    os.makedirs(o.work_dir, exist_ok=True)
    clip, facts = e2e_clips.ensure_clip(o.work_dir, o.clip, o.width, o.height, o.fps, o.seconds)
    print(f"clip {o.clip} ({facts['label']}): {o.width}x{o.height}@{o.fps} {o.seconds:g} s, "
          f"{facts['frames']} frames, {facts['key_frames']} key frames, "
          f"{facts['mbit_per_second']:.2f} Mbit/s")
    print(HEADER)
    rows = []
    for n in o.counts:
        row = measure(n, clip, facts, o.work_dir, o)
        rows.append(row)
        print(format_row(row), flush=True)
        if not row["kept_up"] and not o.all:
            break
    kept = [r for r in rows if r["kept_up"]]
    best = max(kept, key=lambda r: r["streams"]) if kept else None
    p95 = f"{best['p95_ms']:.1f}" if best else "na"
    print(f"e2e: decoder={o.decoder} decode={o.decode} clip={o.clip} "
          f"{o.width}x{o.height}@{o.fps} sample_fps={o.sample_fps:g} "
          f"streams={best['streams'] if best else 0} p95_ms={p95}")
    if o.json:
        with open(o.json, "w", encoding="utf-8") as f:
            json.dump({"decoder": o.decoder, "decoder_threads": o.decoder_threads,
                       "decode": o.decode, "clip": dict(facts, path=clip), "width": o.width,
                       "height": o.height, "fps": o.fps, "seconds": o.seconds,
                       "sample_fps": o.sample_fps, "model": o.model,
                       "p95_bound_ms": o.p95_bound_ms, "warmup_seconds": o.warmup_seconds,
                       "rows": rows,
                       "streams_kept_up": best["streams"] if best else 0,
                       "p95_ms": best["p95_ms"] if best else None}, f, indent=2)


if __name__ == "__main__":
    main()
