#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Alerts end to end: the trained demo model (model/demo) through the real elements.

Usage: run_alerts_e2e.py SCENARIO --scenes-tool BIN --model DIR --work-dir DIR
                         [--schema SCHEMA --validator VALIDATE_MESSAGES_PY]
Scenarios:
  events   a generated video of known scenes (one shape shown twice, one held out of training),
           H.264 in MP4, through `tee`: one branch to internvlrecord, the other decoded through
           internvlclassify -> internvlalert -> internvlpublish (ZeroMQ and JSON-lines). A rule
           for a scene starts once per occurrence, within 0.75 s of the scene's start + min-on,
           and ends within 0.75 s of its end + min-off; a rule for a scene never shown never
           fires; every event has a snapshot and an MP4 clip that gst-discoverer-1.0 reads, of
           pre-roll + event + post-roll within one GOP. Prints the measured delays and durations.
           Paced at the video's frame rate, as a camera.
  events-fast  the same read flat out (the encoded branch could run far ahead of the analysis):
           the clips must still be exact (ZeroMQ not checked: the first event may beat the
           connection).
  flicker  scenes shorter than min-on: no rule ever fires.

The plugin comes from GST_PLUGIN_PATH (CTest points it at the build tree). Needs python3-zmq.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

from e2e_common import SKIP, Subscriber, check, load_validator, log, run_scenario, zmq_missing

FPS = 10
SIZE = 224
GOP_SECONDS = 1.0   # key-int-max = FPS
MIN_ON = 1.0
MIN_OFF = 1.0
PRE_ROLL = 2.0
POST_ROLL = 2.0
TOLERANCE = 0.75    # seconds, the bound on start and end delays


def make_video(tool, work, seconds, scenes=6, seed=11):
    raw = os.path.join(work, "scenes.rgb")
    timeline_path = os.path.join(work, "scenes.json")
    labels = os.path.join(work, "labels.txt")
    subprocess.run([tool, "video", "--scenes", str(scenes), "--seconds", str(seconds), "--fps", str(FPS),
                    "--size", str(SIZE), "--seed", str(seed), "--out", raw, "--timeline", timeline_path],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([tool, "labels", labels], check=True)
    mp4 = os.path.join(work, "scenes.mp4")
    gst_launch(["filesrc", f"location={raw}", "!", "rawvideoparse", f"width={SIZE}", f"height={SIZE}", "format=rgb",
                f"framerate={FPS}/1", "!", "videoconvert", "!", "x264enc", "speed-preset=ultrafast", "bframes=0",
                f"key-int-max={int(FPS * GOP_SECONDS)}", "!", "h264parse", "!", "mp4mux", "!", "filesink",
                f"location={mp4}"])
    with open(timeline_path) as f:
        return mp4, json.load(f), labels


def gst_launch(words, timeout=300):
    """Runs gst-launch-1.0 -e -m; returns its output (bus messages included)."""
    proc = subprocess.run(["gst-launch-1.0", "-e", "-m"] + words, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", timeout=timeout)
    check(proc.returncode == 0, f"gst-launch failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return proc.stdout


FIELD = re.compile(r'([\w-]+)=\((\w+)\)("(?:[^"\\]|\\.)*"|[^,;]*)')


def bus_messages(output, name):
    """The fields of every element message `name` that gst-launch -m printed, in order."""
    messages = []
    for line in output.splitlines():
        at = line.find(f"(element): {name}, ")
        if at < 0:
            continue
        fields = {}
        for key, kind, value in FIELD.findall(line[at + len(name) + 13:]):
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            elif kind in ("guint64", "gint64", "uint", "int"):
                value = int(value)
            elif kind == "double":
                value = float(value)
            else:
                value = re.sub(r"\\(.)", r"\1", value)
            fields[key] = value
        messages.append(fields)
    return messages


def occurrences(timeline, label):
    """(start, end) seconds of the runs of scenes showing `label` (adjacent scenes merged)."""
    runs = []
    for scene in timeline["scenes"]:
        if scene["label"] != label:
            continue
        if runs and abs(runs[-1][1] - scene["start_time"]) < 1e-6:
            runs[-1] = (runs[-1][0], scene["end_time"])
        else:
            runs.append((scene["start_time"], scene["end_time"]))
    return runs


def write_rules(work, rules, labels):
    path = os.path.join(work, "rules.yaml")
    with open(path, "w") as f:
        for name, prompt in rules:
            f.write(f"- name: {name}\n  prompt: {prompt}\n  negatives_file: {labels}\n"
                    f"  min-on: {MIN_ON}\n  min-off: {MIN_OFF}\n")
    return path


def discovered_seconds(path):
    proc = subprocess.run(["gst-discoverer-1.0", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)
    match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", proc.stdout)
    check(proc.returncode == 0 and match, f"gst-discoverer-1.0 cannot read {path}:\n{proc.stdout[-1500:]}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def scenario_events(args, work, paced=True):
    mp4, timeline, labels = make_video(args.scenes_tool, work, seconds=3)
    shown = [s["label"] for s in timeline["scenes"]]
    twice = next(label for label in shown if shown.count(label) >= 2)
    held_out = next(s["label"] for s in timeline["scenes"] if s["held_out"] and shown.count(s["label"]) == 1)
    with open(labels) as f:
        never = next(line.strip() for line in f if line.strip() and line.strip() not in shown and " " in line.strip())
    rules = [("twice", twice), ("held-out", held_out), ("never", never)]
    rules_file = write_rules(work, rules, labels)
    clips = os.path.join(work, "clips")
    snapshots = os.path.join(work, "snapshots")
    os.makedirs(clips)
    results = os.path.join(work, "events.jsonl")
    sub = Subscriber()
    try:
        output = gst_launch([
            "filesrc", f"location={mp4}", "!", "qtdemux", "!", "h264parse", "!", "tee", "name=t",
            "t.", "!", "queue", "!", "internvlrecord", f"location={clips}/%s.mp4", "stream-id=cam",
            f"pre-roll={PRE_ROLL}", f"post-roll={POST_ROLL}",
            "t.", "!", "queue", "!", "avdec_h264", "!", "videoconvert",
            "!", "internvlclassify", f"model={args.model}", f"labels-file={labels}", "selection-fps=2", "clip-frames=0",
            "!", "internvlalert", f"model={args.model}", f"rules-file={rules_file}", "stream-id=cam",
            f"snapshot-dir={snapshots}",
            "!", "internvlpublish", f"endpoint=connect:tcp://127.0.0.1:{sub.port}", f"file-path={results}",
            "sensor-id=cam", "include=event",
            # Paced: at the video's own pace, as a camera; the first event comes a second in, long
            # after the ZeroMQ connection is up. Flat out, the recorder must still cut exactly.
            "!", "fakesink", f"sync={'true' if paced else 'false'}"])
    finally:
        time.sleep(0.5)  # the last messages in flight
        received = sub.since(0)
        sub.close()
    events = bus_messages(output, "internvl-alert")
    recordings = {m["event-id"]: m for m in bus_messages(output, "internvl-recording")}
    log(f"{len(events)} alert messages, {len(recordings)} recordings")
    for name, prompt in rules:
        expected = occurrences(timeline, prompt)
        starts = [e for e in events if e["rule"] == name and e["state"] == "start"]
        ends = [e for e in events if e["rule"] == name and e["state"] == "end"]
        check(len(starts) == len(expected) and len(ends) == len(expected),
              f"rule {name} ('{prompt}', shown at {expected}): {len(starts)} starts and {len(ends)} ends")
        for (scene_start, scene_end), start, end in zip(expected, starts, ends):
            start_delay = start["time"] / 1e9 - (scene_start + MIN_ON)
            last_frame = timeline["frames"] / FPS - 1.0 / FPS
            end_due = min(scene_end + MIN_OFF, last_frame)  # a scene that runs to the end ends at EOS
            end_delay = end["time"] / 1e9 - end_due
            log(f"rule {name}: scene {scene_start:.1f}-{scene_end:.1f} s; start decided at {start['time'] / 1e9:.2f} s "
                f"(delay {start_delay:+.2f} s after start + min-on), end at {end['time'] / 1e9:.2f} s "
                f"(delay {end_delay:+.2f} s after end + min-off)")
            check(abs(start_delay) <= TOLERANCE, f"rule {name}: start {start_delay:+.2f} s off")
            check(abs(end_delay) <= TOLERANCE, f"rule {name}: end {end_delay:+.2f} s off")
            check(start["id"] == end["id"], f"rule {name}: start and end ids differ")
            check(os.path.isfile(start["snapshot"]), f"rule {name}: no snapshot at {start['snapshot']}")
            clip = os.path.join(clips, start["id"] + ".mp4")
            check(os.path.isfile(clip), f"rule {name}: no clip at {clip} (have {glob.glob(clips + '/*')})")
            check(end["clip"] == clip, f"rule {name}: the end event names clip {end['clip']!r}, not {clip}")
            duration = discovered_seconds(clip)
            event_start = start["start-time"] / 1e9
            event_end = end["end-time"] / 1e9
            expected_duration = (min(PRE_ROLL, event_start) + (event_end - event_start)
                                 + min(POST_ROLL, timeline["frames"] / FPS - event_end))
            log(f"rule {name}: clip {os.path.basename(clip)} {duration:.2f} s, expected {expected_duration:.2f} s "
                f"+ up to one GOP ({GOP_SECONDS:.1f} s)")
            check(expected_duration - 0.15 <= duration <= expected_duration + GOP_SECONDS + 0.15,
                  f"rule {name}: clip of {duration:.2f} s, expected {expected_duration:.2f} s + at most one GOP")
    check(len(recordings) == len([e for e in events if e["state"] == "start"]), "one recording per event")
    published = [json.loads(line) for line in open(results)]
    check(len(published) == len(events), f"{len(published)} event messages published, {len(events)} on the bus")
    over_zmq = [(topic, json.loads(body)) for topic, body in received]
    if paced:  # flat out, the first event may beat the ZeroMQ connection (a slow joiner)
        check(len(over_zmq) == len(events) and all(topic == "event/cam" for topic, _ in over_zmq),
              f"ZeroMQ got {[t for t, _ in over_zmq]}, expected {len(events)} messages on event/cam")
        check([m["event"]["id"] + m["event"]["state"] for _, m in over_zmq] ==
              [e["id"] + e["state"] for e in events], "ZeroMQ events differ from the bus's, or their order")
    if args.schema:
        validate, line_errors = load_validator(args.validator, args.schema)
        problems = [p for line in open(results) for p in line_errors(validate, line)]
        check(not problems, f"event messages fail {os.path.basename(args.schema)}: {problems[:3]}")


def scenario_flicker(args, work):
    mp4, timeline, labels = make_video(args.scenes_tool, work, seconds=0.5, scenes=16, seed=5)
    shown = sorted({s["label"] for s in timeline["scenes"]})
    longest = max(end - start for label in shown for start, end in occurrences(timeline, label))
    check(longest < MIN_ON, f"the video must change scene faster than min-on; a scene lasts {longest} s")
    rules = [(f"r{i}", label) for i, label in enumerate(shown)]
    rules_file = write_rules(work, rules, labels)
    output = gst_launch([
        "filesrc", f"location={mp4}", "!", "qtdemux", "!", "h264parse", "!", "avdec_h264", "!", "videoconvert",
        "!", "internvlclassify", f"model={args.model}", f"labels-file={labels}", "selection-fps=2", "clip-frames=0",
        "!", "internvlalert", f"model={args.model}", f"rules-file={rules_file}", "!", "fakesink"])
    events = bus_messages(output, "internvl-alert")
    log(f"{len(rules)} rules over {len(timeline['scenes'])} scenes of 0.5 s: {len(events)} alert messages")
    check(not events, f"scenes shorter than min-on started events: {events[:2]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["events", "events-fast", "flicker"])
    parser.add_argument("--scenes-tool", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--validator")
    args = parser.parse_args()
    if zmq_missing():
        return SKIP
    scenarios = {"events": scenario_events, "events-fast": lambda a, w: scenario_events(a, w, paced=False),
                 "flicker": scenario_flicker}
    return run_scenario(args.scenario, lambda work: scenarios[args.scenario](args, work), args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
