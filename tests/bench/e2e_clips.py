# SPDX-License-Identifier: Apache-2.0
"""The H.264 clips e2e_streams.py plays: how each is made, where it is cached, what it holds.

gop1 and gop2 are issue 18's realistic clips: moving zone-plate texture (fine detail everywhere,
changing every frame, like camera video) encoded by x264 veryfast at 4 Mbit/s with one key frame
per second (gop1) or every two seconds (gop2). x264's scene-cut detection fires on this content
and puts each key frame one frame early (6 key frames in 150 frames at key-int-max=30 instead of
5, every 29 frames), so the encoder runs with scenecut=0: the GOP is then exactly what the name
says. ball is the clip e2e_streams.py used before issue 18: a ball on a flat background that
x264 squeezes to ~0.2 Mbit/s whatever the bitrate asks; it decodes several times faster than
camera video and so overstates how many streams fit.

A clip is made once per parameter set and cached in the work directory under a name that spells
every parameter; a JSON sidecar next to it keeps what was counted in it (frames, key frames,
bytes), so a cached clip is never re-read.
"""
import json
import os
import re
import subprocess
import sys
import time


class ClipKind:
    """One recipe: a videotestsrc pattern and an x264enc configuration."""

    def __init__(self, label, source, encoder, gop_seconds):
        self.label = label              # shown in the output, e.g. "realistic, 1 s GOP"
        self.source = source            # videotestsrc properties
        self.encoder = encoder          # x264enc properties, without key-int-max
        self.gop_seconds = gop_seconds  # key-int-max = gop_seconds x fps

    def encoder_args(self, fps):
        return self.encoder + [f"key-int-max={self.gop_seconds * fps}"]


_ZONE_PLATE = ["pattern=zone-plate", "kt2=2", "kx2=3", "ky2=3", "kxt=5"]
_CAMERA_LIKE = ["speed-preset=veryfast", "bitrate=4000", "option-string=scenecut=0"]

KINDS = {
    "gop1": ClipKind("realistic 4 Mbit/s, 1 s GOP", _ZONE_PLATE, _CAMERA_LIKE, 1),
    "gop2": ClipKind("realistic 4 Mbit/s, 2 s GOP", _ZONE_PLATE, _CAMERA_LIKE, 2),
    "ball": ClipKind("low-bitrate synthetic (overstates density)", ["pattern=ball"],
                     ["speed-preset=ultrafast", "tune=zerolatency", "bitrate=8000"], 1),
}


def _slug(args):
    # Property values go into a file name that gst-launch later parses as location=...; keep
    # it to characters that need no quoting there.
    text = "_".join(a.replace("option-string=", "") for a in args)
    return text.replace("=", "-").replace(":", "-").replace("/", "-")


def clip_path(work_dir, kind_name, width, height, fps, seconds):
    kind = KINDS[kind_name]
    params = _slug(kind.source) + "__x264_" + _slug(kind.encoder_args(fps))
    return os.path.join(work_dir, f"clip-{kind_name}-{width}x{height}-{fps}fps-{seconds:g}s-"
                                  f"{params}.mp4")


def _gst(args, what):
    proc = subprocess.run(["gst-launch-1.0"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", timeout=900)
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return proc.stdout


def _time(text):
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def count_frames(path):
    """Facts of an MP4's H.264 track, from the parser's buffers and qtdemux's segment event:
    frames, key frames, the segment start and PTS - DTS (both in seconds)."""
    out = _gst(["-v", "filesrc", f"location={path}", "!", "qtdemux", "!", "h264parse", "!",
                "fakesink", "silent=false"], f"reading {path}")
    chains = [line for line in out.splitlines() if "chain" in line and "flags:" in line]
    start = re.search(r"type: segment .*?start=\(guint64\)(\d+)", out)
    stamps = re.search(r"dts: ([\d:.]+), pts: ([\d:.]+)", chains[0] if chains else "")
    if not start or not stamps:
        sys.exit(f"reading {path}: no segment event or timestamps in the parser's output")
    # x264's reorder delay (2 frames with the veryfast preset's B-frame settings, even where it
    # uses no B-frame) makes PTS = DTS + 2 frames; the MP4 edit list moves the segment start to
    # the first PTS, so running time (what the clock paces) = PTS - segment start.
    return {"frames": len(chains),
            "key_frames": sum(1 for line in chains if "delta-unit" not in line),
            "segment_start_seconds": int(start.group(1)) / 1e9,
            "pts_minus_dts_seconds": _time(stamps.group(2)) - _time(stamps.group(1))}


def _encode(path, kind, width, height, fps, seconds):
    frames = int(round(seconds * fps))
    _gst(["-e", "videotestsrc"] + kind.source + [f"num-buffers={frames}", "!",
          f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1", "!",
          "x264enc"] + kind.encoder_args(fps) + ["!", "h264parse", "!", "mp4mux", "!",
          "filesink", f"location={path}"], f"making {path}")


def ensure_clip(work_dir, kind_name, width, height, fps, seconds):
    """Path of the clip and its sidecar facts, made first if not cached."""
    path = clip_path(work_dir, kind_name, width, height, fps, seconds)
    sidecar = path + ".json"
    if os.path.exists(path) and os.path.exists(sidecar):
        with open(sidecar, encoding="utf-8") as f:
            return path, json.load(f)
    started = time.monotonic()
    _encode(path, KINDS[kind_name], width, height, fps, seconds)
    facts = dict(count_frames(path), clip=kind_name, label=KINDS[kind_name].label,
                 bytes=os.path.getsize(path),
                 mbit_per_second=os.path.getsize(path) * 8 / seconds / 1e6)
    with open(sidecar, "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=2)
    print(f"clip {kind_name}: made in {time.monotonic() - started:.1f} s: {path}")
    return path, facts
