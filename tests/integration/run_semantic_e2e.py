#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Semantic end-to-end tests: the trained demo model (model/demo) through the real elements.

Usage: run_semantic_e2e.py SCENARIO --scenes-tool BIN --model DIR --work-dir DIR
                           [--schema SCHEMA --validator VALIDATE_MESSAGES_PY]
Scenarios:
  classify   a generated video of changing scenes (half of them combinations held out of
             training), H.264-encoded and decoded again, through internvlclassify ->
             internvlcaption -> internvlpublish over a real ZeroMQ socket: >= 90 % of the sampled
             frames get the label of the scene on screen at their PTS (and judged one scene
             late, the same results must fail), and held-out scenes get their exact caption
  fault-bgr  the same frames with red and blue swapped before the elements (a colour-order bug):
             accuracy must collapse, proving the check above can fail
  overlay    internvloverlay on the classified frames: visible text in the bottom-left box of
             (nearly) every frame, pixels elsewhere untouched
  testsrc    videotestsrc's own smpte, snow and checkers-8 frames at 320x240: the right label on
             every frame and the right caption

The plugin comes from GST_PLUGIN_PATH (CTest points it at the build tree). Needs python3-zmq.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from e2e_common import SKIP, Subscriber, check, log, run_scenario, zmq_missing

SECONDS_PER_SCENE = 1.5
FPS = 10
SIZE = 224


def make_scenes(tool, work, scenes=8):
    raw = os.path.join(work, "scenes.rgb")
    timeline_path = os.path.join(work, "scenes.json")
    labels = os.path.join(work, "labels.txt")
    subprocess.run([tool, "video", "--scenes", str(scenes), "--seconds", str(SECONDS_PER_SCENE), "--fps", str(FPS),
                    "--size", str(SIZE), "--seed", "11", "--out", raw, "--timeline", timeline_path], check=True)
    subprocess.run([tool, "labels", labels], check=True)
    with open(timeline_path) as f:
        return raw, json.load(f), labels


def raw_source(raw, pixel_format="rgb"):
    """gst-launch words reading the raw frames (format rgb, or bgr to swap the channels)."""
    return ["filesrc", f"location={raw}", "!", "rawvideoparse", f"width={SIZE}", f"height={SIZE}",
            f"format={pixel_format}", f"framerate={FPS}/1"]


def gst_launch(words, timeout=300):
    proc = subprocess.run(["gst-launch-1.0", "-e", "-q"] + words, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", timeout=timeout)
    check(proc.returncode == 0, f"gst-launch failed ({proc.returncode}):\n{proc.stdout[-3000:]}")


def scene_at(timeline, seconds):
    for scene in timeline["scenes"]:
        if scene["start_time"] - 1e-6 <= seconds < scene["end_time"] - 1e-6:
            return scene
    return None


def classify_and_caption(args, work, source_words, tag):
    # The sink keeps the clock (a 12 s video takes 12 s) so that the captioner, which skips a
    # sampled frame while a caption is in flight, captions every second of every scene, as live.
    raw, timeline, labels = make_scenes(args.scenes_tool, work)
    sub = Subscriber()
    results = os.path.join(work, f"{tag}.jsonl")
    try:
        gst_launch(source_words(raw) + [
            "!", "videoconvert",
            "!", "internvlclassify", f"model={args.model}", f"labels-file={labels}", "clip-frames=0", "top-k=3",
            "!", "internvlcaption", f"model={args.model}", "selection-fps=1", "num-beams=5", "min-new-tokens=1",
            "!", "internvlpublish", f"endpoint=connect:tcp://127.0.0.1:{sub.port}", f"file-path={results}",
            f"sensor-id={tag}", "!", "fakesink", "sync=true"])
    finally:
        time.sleep(0.5)  # the last messages in flight
        messages = [json.loads(body) for _, body in sub.since(0)]
        sub.close()
    with open(results) as f:
        written = [json.loads(line) for line in f]
    check(len(messages) == len(written), f"ZeroMQ delivered {len(messages)} messages, the file has {len(written)}")
    frames = [m for m in messages if m["kind"] == "classification"]
    captions = [m for m in messages if m["kind"] == "caption"]
    check(len(frames) == timeline["frames"], f"{len(frames)} classifications for {timeline['frames']} frames")
    right = 0
    held_right = held_total = 0
    late_right = 0  # matched against the scene one scene earlier: a result attached one scene late
    for m in frames:
        scene = scene_at(timeline, m["segment"]["start_time"])
        check(scene is not None, f"no scene at {m['segment']['start_time']}")
        correct = m["classification"][0]["label"] == scene["label"]
        right += correct
        earlier = scene_at(timeline, m["segment"]["start_time"] - SECONDS_PER_SCENE)
        late_right += earlier is not None and m["classification"][0]["label"] == earlier["label"]
        if scene["held_out"]:
            held_total += 1
            held_right += correct
    caption_checks = []
    for m in captions:
        scene = scene_at(timeline, m["segment"]["start_time"])
        caption_checks.append((scene["held_out"], m["caption"]["text"], scene["caption"]))
    return {"accuracy": right / len(frames), "held_accuracy": held_right / held_total if held_total else 0.0,
            "late_accuracy": late_right / len(frames), "captions": caption_checks, "frames": len(frames)}


def scenario_classify(args, work):
    def encoded_source(raw):
        # Encode to H.264 and decode again, as a camera or file would deliver the scenes.
        mp4 = os.path.join(work, "scenes.mp4")
        gst_launch(raw_source(raw) + ["!", "videoconvert", "!", "x264enc", "speed-preset=ultrafast", "key-int-max=15",
                                      "!", "mp4mux", "!", "filesink", f"location={mp4}"])
        return ["filesrc", f"location={mp4}", "!", "decodebin"]
    outcome = classify_and_caption(args, work, encoded_source, "scenes")
    accuracy = outcome["accuracy"]
    log(f"top-1 accuracy {accuracy:.3f} over {outcome['frames']} frames "
        f"(held-out scenes {outcome['held_accuracy']:.3f})")
    check(accuracy >= 0.9, f"top-1 accuracy {accuracy:.3f} is below 0.9")
    # The same results judged as if each were attached one scene late (a sampling alignment
    # fault) must fail: the timeline check can see misplaced results.
    log(f"judged one scene late: top-1 accuracy {outcome['late_accuracy']:.3f}")
    check(outcome["late_accuracy"] < 0.3, f"results judged one scene late still score {outcome['late_accuracy']:.3f}")
    held = [(text, truth) for is_held, text, truth in outcome["captions"] if is_held]
    exact = sum(text == truth for text, truth in held)
    for text, truth in held:
        log(f"held-out caption: {text!r} (scene: {truth!r})")
    check(held, "no caption of a held-out scene")
    check(exact / len(held) >= args.min_caption_exact,
          f"{exact}/{len(held)} held-out captions exact, below {args.min_caption_exact}")
    log(f"held-out captions exact: {exact}/{len(held)}")


def scenario_fault_bgr(args, work):
    outcome = classify_and_caption(args, work, lambda raw: raw_source(raw, "bgr"), "bgr")
    accuracy = outcome["accuracy"]
    log(f"with red and blue swapped: top-1 accuracy {accuracy:.3f} over {outcome['frames']} frames")
    # Well below the 0.9 the classify scenario demands (only red, blue, orange, yellow and purple
    # change under the swap, so about half the scenes still look right).
    check(accuracy < 0.75, f"swapping red and blue left accuracy at {accuracy:.3f}: the check cannot see colour faults")


def scenario_overlay(args, work):
    raw, timeline, labels = make_scenes(args.scenes_tool, work, scenes=4)
    out = os.path.join(work, "overlay.rgb")
    gst_launch(raw_source(raw) + [
        "!", "videoconvert", "!", "video/x-raw,format=RGB",
        "!", "internvlclassify", f"model={args.model}", f"labels-file={labels}", "clip-frames=0",
        "!", "internvloverlay", "show-caption=false", "top-k=2", "position=bottom-left",
        "!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", f"location={out}"])
    frame_bytes = SIZE * SIZE * 3
    with open(raw, "rb") as f:
        before = f.read()
    with open(out, "rb") as f:
        after = f.read()
    check(len(after) == len(before), f"the overlay output has {len(after)} bytes, the input {len(before)}")
    frames = len(before) // frame_bytes
    with_text = 0
    for i in range(frames):
        a = before[i * frame_bytes:(i + 1) * frame_bytes]
        b = after[i * frame_bytes:(i + 1) * frame_bytes]
        changed_top = changed_bottom = 0
        for y in range(SIZE):
            row = y * SIZE * 3
            diff = sum(1 for x in range(0, SIZE * 3, 3) if abs(a[row + x] - b[row + x]) > 40)
            if y < SIZE // 2:
                changed_top += diff
            else:
                changed_bottom += diff
        check(changed_top < 50, f"frame {i}: {changed_top} pixels changed in the top half (the text box is bottom-left)")
        with_text += changed_bottom > 150
    log(f"visible text in {with_text}/{frames} frames")
    check(with_text >= frames * 0.95, f"only {with_text}/{frames} frames show the overlay text")


# videotestsrc patterns and what the demo model must say of them: frames GStreamer draws itself,
# at a 4:3 size the model never trained on (its training renders are approximations).
TEST_PATTERNS = [("smpte", "colour bars", "a test card with colour bars"),
                 ("snow", "static noise", "a screen of static noise"),
                 ("checkers-8", "a checkerboard", "a red and green checkerboard")]


def scenario_testsrc(args, work):
    labels = os.path.join(work, "labels.txt")
    subprocess.run([args.scenes_tool, "labels", labels], check=True)
    for pattern, label, caption in TEST_PATTERNS:
        results = os.path.join(work, f"{pattern}.jsonl")
        gst_launch(["videotestsrc", f"pattern={pattern}", "num-buffers=6", "!",
                    "video/x-raw,width=320,height=240,framerate=10/1", "!", "videoconvert",
                    "!", "internvlclassify", f"model={args.model}", f"labels-file={labels}", "clip-frames=0",
                    "!", "internvlcaption", f"model={args.model}", "selection-fps=10", "num-beams=5",
                    "min-new-tokens=1",
                    "!", "internvlpublish", f"file-path={results}", "!", "fakesink", "sync=true"])
        with open(results) as f:
            messages = [json.loads(line) for line in f]
        said = [m["classification"][0]["label"] for m in messages if m["kind"] == "classification"]
        captions = [m["caption"]["text"] for m in messages if m["kind"] == "caption"]
        log(f"videotestsrc pattern={pattern}: labels {sorted(set(said))}, captions {sorted(set(captions))}")
        check(len(said) == 6, f"{len(said)} classifications of {pattern} for 6 frames")
        check(all(x == label for x in said), f"pattern={pattern} labelled {said}, expected {label!r}")
        check(captions and all(c == caption for c in captions),
              f"pattern={pattern} captioned {captions}, expected {caption!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["classify", "fault-bgr", "overlay", "testsrc"])
    parser.add_argument("--scenes-tool", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--min-caption-exact", type=float, default=0.75)
    args = parser.parse_args()
    if zmq_missing():
        return SKIP
    scenarios = {"classify": scenario_classify, "fault-bgr": scenario_fault_bgr, "overlay": scenario_overlay,
                 "testsrc": scenario_testsrc}
    return run_scenario(args.scenario, lambda work: scenarios[args.scenario](args, work), args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
