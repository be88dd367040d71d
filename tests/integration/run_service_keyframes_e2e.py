#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Key-frame-only decoding in internvl-streamd (`decode_frames`), end to end: the service as a real
process with the tiny checkpoint, real HTTP, loopback only, ports picked by the OS.

Usage: run_service_keyframes_e2e.py --service BIN --model DIR --work-dir DIR

One H.264 MP4 (30 fps, a key frame every 30 frames: a 1 s GOP, no B-frames) plays in real time on
two streams that classify at selection_fps 1:
  - `auto` (decode_frames: auto, the default): the decoding in effect becomes `keyframes`, the GOP
    measured is 1.0 s (within 5%), and fewer than a fifth of the frames received are decoded, over
    REST (GET /api/v1/streams and /api/v1/streams/{id}) and in /metrics
    (internvl_frames_decoded_total against internvl_frames_total);
  - `all` (decode_frames: all): every frame is decoded, the decoding stays `all`;
  - the status page shows each stream's decoding and GOP; SIGTERM exits 0.
Each run works in its own new folder under --work-dir (removed when it passes).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from e2e_common import check, checkpoint_dir, log, run_scenario
from run_service_e2e import LOCAL_SOURCES, Http, Service, wait_for

FPS = 30
GOP_FRAMES = 30
SECONDS = 24


def make_video(path):
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={FPS * SECONDS}", "pattern=ball", "!",
                    f"video/x-raw,width=320,height=240,framerate={FPS}/1", "!", "x264enc",
                    "speed-preset=ultrafast", f"key-int-max={GOP_FRAMES}", "bframes=0", "!", "mp4mux", "!",
                    "filesink", f"location={path}"],
                   check=True, timeout=120)


def scenario_keyframes(args, tiny, work):
    video = os.path.join(work, "gop1s.mp4")
    make_video(video)
    streams = [{"id": "auto", "uri": video, "realtime": True},
               {"id": "all", "uri": video, "realtime": True, "decode_frames": "all"}]
    config = {
        "model": {"path": tiny, "device": "cpu"},
        "tasks": {"classify": {"labels": ["red", "green", "blue"], "selection_fps": 1, "clip_frames": 0}},
        "streams": streams,
        "limits": LOCAL_SOURCES,
        "http": {"listen": "127.0.0.1:0"},
        "supervision": {"stall_timeout_seconds": 10},
    }
    started = time.monotonic()
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    try:
        configured = http.streams()
        check(configured["auto"]["decode_frames"] == "auto" and configured["all"]["decode_frames"] == "all",
              f"decode_frames over REST: {configured}")

        # Key frames come every 1 s and samples are needed every 1 s: `auto` decodes key frames only
        # once it has measured the spacing (three key frames), and from then on one frame in 30.
        def auto_settled():
            s = http.streams()["auto"]
            return s if s["decoding"] == "keyframes" and s["frames_received"] >= 15 * FPS else None
        auto = wait_for(auto_settled, SECONDS, "stream auto to decode key frames only for 15 s of video")
        log(f"auto: decoding {auto['decoding']}, GOP {auto['gop_seconds']} s, {auto['frames_decoded']} of "
            f"{auto['frames_received']} frames decoded, decoder {auto['decoder']}")
        check(auto["gop_seconds"] is not None and abs(auto["gop_seconds"] - 1.0) / 1.0 < 0.05,
              f"GOP of stream auto: {auto['gop_seconds']} s, expected 1.0 s")
        # A realtime file is paced where it enters, as a camera is: read ahead behind key frames
        # only, the whole file sat in the queues and the drain at SIGTERM waited for it.
        played = time.monotonic() - started
        check(auto["frames_received"] <= FPS * (played + 5),
              f"stream auto received {auto['frames_received']} frames in {played:.1f} s of playing")
        check(auto["frames_decoded"] * 5 < auto["frames_received"],
              f"stream auto decoded {auto['frames_decoded']} of {auto['frames_received']} frames (not < 1/5)")
        check(auto["decoder"].startswith("avdec_h264"), f"decoder of stream auto: {auto['decoder']!r}")
        status, one = http.json("GET", "/api/v1/streams/auto")
        check(status == 200 and one["decoding"] == "keyframes" and one["frames_decoded"] >= auto["frames_decoded"],
              f"GET /api/v1/streams/auto: {status} {one}")
        received = http.metric("internvl_frames_total", stream="auto")
        decoded = http.metric("internvl_frames_decoded_total", stream="auto")
        check(received is not None and decoded is not None and 0 < decoded * 5 < received,
              f"metrics of stream auto: internvl_frames_total {received}, internvl_frames_decoded_total {decoded}")

        every = wait_for(lambda: (lambda s: s if s["frames_received"] >= 15 * FPS else None)(http.streams()["all"]),
                         SECONDS, "stream all to receive 15 s of video")
        log(f"all: decoding {every['decoding']}, GOP {every['gop_seconds']} s, {every['frames_decoded']} of "
            f"{every['frames_received']} frames decoded")
        check(every["decoding"] == "all", f"stream all decodes {every['decoding']!r}")
        # The decoder holds a few frames at most: every frame received is decoded.
        check(every["frames_decoded"] >= every["frames_received"] - 10,
              f"stream all decoded {every['frames_decoded']} of {every['frames_received']} frames")
        all_decoded = http.metric("internvl_frames_decoded_total", stream="all")
        check(all_decoded is not None and all_decoded >= every["frames_decoded"],
              f"internvl_frames_decoded_total of stream all: {all_decoded}")

        status, page = http.call("GET", "/")
        check(status == 200, f"GET /: {status}")
        for fragment in ['<td class="decoding">keyframes <span class="kind">(auto)</span><br>GOP&nbsp;1.0',
                         '<td class="decoding">all <span class="kind">(all)</span>', "<th>Decoding</th>",
                         '<th class="num">Decoded / received</th>']:
            check(fragment in page, f"the status page lacks {fragment!r}")
        check(service.stop() == 0, "the service did not exit 0")
        check(service.find("(end of stream not through)") is None,
              f"the drain at SIGTERM timed out, results were lost:{service.tail()}")
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True)
    parser.add_argument("--model", required=True, help="the tiny checkpoint folder")
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    tiny = checkpoint_dir(args.model)
    os.makedirs(args.work_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="keyframes-", dir=args.work_dir)  # never shared by two runs
    status = run_scenario("keyframes", lambda work: scenario_keyframes(args, tiny, work), root)
    if status == 0:
        shutil.rmtree(root, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
