#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the demo's results as they are published: binds a ZeroMQ SUB socket on a free
loopback port (written to --port-file for the pipeline to connect to), prints one line per
classification and caption with the scene that was on screen (from --timeline), and on SIGINT
a summary of how many were right."""
import argparse
import json
import signal
import sys

import zmq


def scene_at(scenes, seconds):
    return next((s for s in scenes if s["start_time"] - 1e-6 <= seconds < s["end_time"] - 1e-6), None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--timeline", required=True)
    args = parser.parse_args()
    with open(args.timeline) as f:
        scenes = json.load(f)["scenes"]
    context = zmq.Context()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.setsockopt(zmq.RCVTIMEO, 200)
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    with open(args.port_file, "w") as f:
        f.write(str(port))
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    right = {"frame": 0, "clip": 0, "caption": 0}
    total = {"frame": 0, "clip": 0, "caption": 0}
    while not stop:
        try:
            _, body = socket.recv_multipart()
        except zmq.Again:
            continue
        m = json.loads(body)
        t = m["segment"]["start_time"]
        scene = scene_at(scenes, t)
        if m["kind"] == "classification":
            top = m["classification"][0]
            end = m["segment"]["end_time"]
            kind = "clip" if end > t else "frame"
            if kind == "clip" and scene_at(scenes, end) is not scene:
                # A clip across a scene change has no single right label.
                verdict, ok = "(spans two scenes)", None
            else:
                ok = scene is not None and top["label"] == scene["label"]
                verdict = "ok" if ok else "WRONG"
            when = f"{t:4.1f}-{end:4.1f} s" if kind == "clip" else f"{t:4.1f} s"
            print(f"{when:>11}  {kind:5}  {top['label']:<22} {top['confidence']:.2f}  {verdict}")
            if ok is not None:
                total[kind] += 1
                right[kind] += ok
        else:
            ok = scene is not None and m["caption"]["text"] == scene["caption"]
            print(f"{t:4.1f} s".rjust(11) + f"  caption \"{m['caption']['text']}\"  {'ok' if ok else 'WRONG'}")
            total["caption"] += 1
            right["caption"] += ok
        sys.stdout.flush()
    print(f"== {right['frame']}/{total['frame']} sampled frames and {right['clip']}/{total['clip']} clips (within one "
          f"scene) labelled right, {right['caption']}/{total['caption']} captions exact")
    socket.close(linger=0)
    context.term()


if __name__ == "__main__":
    main()
