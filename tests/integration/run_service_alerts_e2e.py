#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Alerts in internvl-streamd, end to end: the service as a real process with the trained demo model
(model/demo), real HTTP and a real ZeroMQ socket, loopback only, ports picked by the OS.

Usage: run_service_alerts_e2e.py --service BIN --scenes-tool BIN --model DIR --schema SCHEMA
                                 --validator VALIDATE_MESSAGES_PY --work-dir DIR

A generated video of known scenes (H.264 in MP4, internvl-scenes) plays in real time, looping, on
a stream whose `alerts:` has a rule for a scene shown twice (the other labels as its negatives,
negatives_file) and with a recordings_dir, so the encoded stream is teed into internvlrecord:
  - its events arrive over ZeroMQ as wire-format 1.1 `event` messages, valid against the schema;
  - GET /api/v1/events lists them (and filters by stream, pages with since/limit);
  - the snapshot URL returns a JPEG and the clip URL an MP4 that gst-discoverer-1.0 reads;
  - PUT /api/v1/streams/{id}/alerts with a bad rule (empty prompt, off_threshold above
    on_threshold, negative min_on) is a 400 naming the field, and the stream keeps running;
    without the token it is a 401;
  - PUT of a rule for another scene: from then on that rule starts events, the old one none;
  - the status page lists the events with their snapshot thumbnails; the metrics count them;
  - SIGTERM exits 0.
Exit status 77 (skipped) when python3-zmq or python3-jsonschema is missing.
"""
import argparse
import json
import os
import sys

from e2e_common import SKIP, Subscriber, check, log, load_validator, run_scenario, zmq_missing
from run_alerts_e2e import discovered_seconds, make_video, occurrences
from run_service_e2e import LOCAL_SOURCES, Http, Service, wait_for

STREAM = "yard"
TOKEN = "s3cret"


def rule(name, prompt, labels, **extra):
    return dict({"name": name, "prompt": prompt, "negatives_file": labels, "min_on": 1.0, "min_off": 1.0}, **extra)


def events_of(sub, since=0):
    return [json.loads(body) for topic, body in sub.since(since) if topic.startswith("event/")]


def scenario_service(args, work):
    mp4, timeline, labels = make_video(args.scenes_tool, work, seconds=3)
    shown = [s["label"] for s in timeline["scenes"]]
    twice = next(label for label in shown if shown.count(label) >= 2)
    other = next(label for label in shown if label != twice)
    log(f"scenes {shown}; first rule for {twice!r} at {occurrences(timeline, twice)}, "
        f"then one for {other!r} at {occurrences(timeline, other)}")
    recordings = os.path.join(work, "recordings")
    config = {
        "model": {"path": os.path.abspath(args.model), "device": "cpu"},
        "tasks": {"classify": {"labels_file": labels, "selection_fps": 2, "clip_frames": 0}},
        "alerts": [rule("first", twice, labels)],
        "recordings_dir": recordings,
        "recording": {"pre_roll_seconds": 1, "post_roll_seconds": 1, "max_duration_seconds": 60},
        "streams": [{"id": STREAM, "uri": mp4, "realtime": True, "restart_on_eos": True}],
        "limits": LOCAL_SOURCES,
        "outputs": {"zmq": {"endpoint": "bind:tcp://127.0.0.1:0"}},
        "http": {"listen": "127.0.0.1:0", "auth_token": TOKEN},
        "supervision": {"stall_timeout_seconds": 10, "backoff_initial_seconds": 0.5, "backoff_max_seconds": 2},
    }
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    sub = Subscriber(service.zmq_endpoint)
    validate, line_errors = load_validator(args.validator, args.schema)
    try:
        status, body = http.json("GET", f"/api/v1/streams/{STREAM}/alerts")
        check(status == 200 and [r["name"] for r in body["alerts"]] == ["first"], f"GET alerts: {status} {body}")
        check(body["alerts"][0]["negatives"] and "negatives_file" not in body["alerts"][0],
              f"the rules in force list their negatives inline: {body}")

        # Events over ZeroMQ: a start and an end of the first rule, schema-valid.
        wait_for(lambda: {"start", "end"} <= {e["event"]["state"] for e in events_of(sub) if e["event"]["rule"] == "first"},
                 90, "a start and an end of rule 'first' over ZeroMQ")
        for topic, message in sub.since(0):
            if topic.startswith("event/"):
                errors = line_errors(validate, message)
                check(not errors, f"event message on {topic} fails the schema: {errors}")
                check(topic == f"event/{STREAM}", f"event topic {topic}")
        log(f"ZeroMQ: {len(events_of(sub))} event messages, schema-valid")

        # The same events over REST, with a snapshot and (once complete) a clip.
        def listed():
            status, body = http.json("GET", f"/api/v1/events?stream={STREAM}")
            check(status == 200, f"GET /api/v1/events: {status} {body}")
            return body["events"]
        events = wait_for(lambda: (lambda l: l if any(e["state"] == "end" for e in l) else None)(listed()), 30,
                          "GET /api/v1/events to list an end")
        start = next(e for e in events if e["state"] == "start")
        check(start["rule"] == "first" and start["prompt"] == twice and start["stream"] == STREAM, f"event {start}")
        check(start["snapshot_url"] == f"/api/v1/events/{start['id']}/snapshot.jpg", f"snapshot_url of {start}")
        status, _, jpeg = http.get_bytes(start["snapshot_url"])
        check(status == 200 and jpeg[:3] == b"\xff\xd8\xff", f"snapshot: {status}, {jpeg[:16]!r}")
        clip_url = wait_for(lambda: next((e["clip_url"] for e in listed() if e["id"] == start["id"] and e["clip_url"]),
                                         None), 60, f"the clip of {start['id']} to be complete")
        status, _, mp4_bytes = http.get_bytes(clip_url)
        check(status == 200 and mp4_bytes[4:8] == b"ftyp", f"clip: {status}, {mp4_bytes[:16]!r}")
        clip_path = os.path.join(work, "clip.mp4")
        with open(clip_path, "wb") as f:
            f.write(mp4_bytes)
        log(f"event {start['id']}: snapshot {len(jpeg)} bytes, clip {len(mp4_bytes)} bytes, "
            f"{discovered_seconds(clip_path):.2f} s")
        check(os.path.isfile(os.path.join(recordings, STREAM, start["id"] + ".mp4")), "the clip is not where documented")
        for path in [f"/api/v1/events/{start['id']}/..%2F..%2Fservice.yaml", "/api/v1/events/../service.yaml/clip.mp4",
                     "/api/v1/events/nosuchevent/clip.mp4", f"/api/v1/events/{start['id']}/other.mp4"]:
            check(http.call("GET", path)[0] == 404, f"GET {path} is not a 404")
        status, body = http.json("GET", f"/api/v1/events?since={start['seq']}&limit=1")
        check(status == 200 and len(body["events"]) == 1 and body["events"][0]["seq"] == start["seq"] + 1
              and body["next"] == start["seq"] + 1, f"paging with since and limit: {body}")
        check(http.json("GET", "/api/v1/events?stream=nobody")[1]["events"] == [], "an unknown stream has events")
        for query, fragment in [("limit=0", "limit must be"), ("since=-1", "since must be"), ("colour=1", "unknown")]:
            status, body = http.json("GET", f"/api/v1/events?{query}")
            check(status == 400 and fragment in body["error"], f"GET /api/v1/events?{query}: {status} {body}")

        # Bad rules: 400 naming the field; the stream runs on; no token: 401.
        frames = http.streams()[STREAM]["frames"]
        for bad, fragment in [
            ([{"name": "x", "prompt": "", "negatives": ["a", "b"]}], "prompt is empty"),
            ([{"name": "x", "prompt": "p", "negatives": ["a"], "on_threshold": 0.5, "off_threshold": 0.7}],
             "off-threshold"),
            ([{"name": "x", "prompt": "p", "negatives": ["a"], "min_on": -1}], "alerts[0].min_on"),
            ([{"name": "x", "prompt": "p", "negatives_file": "/etc/passwd"}], "cannot be named over REST"),
            ({"alerts": [{"name": "x", "prompt": "p", "colour": 1}]}, "unknown key 'colour'"),
        ]:
            status, body = http.json("PUT", f"/api/v1/streams/{STREAM}/alerts", bad, token=TOKEN)
            check(status == 400 and fragment in body["error"], f"PUT {bad}: {status} {body}")
        status, _ = http.call("PUT", f"/api/v1/streams/{STREAM}/alerts", [rule("x", other, labels)])
        check(status == 401, f"PUT without the token: {status}")
        wait_for(lambda: http.streams()[STREAM]["frames"] > frames + 10, 30, "the stream to keep running")
        check(http.json("GET", f"/api/v1/streams/{STREAM}/alerts")[1]["alerts"][0]["name"] == "first",
              "a refused PUT changed the rules")

        # A good rule, in YAML this time: it fires from the next samples on, the old one no more.
        with open(labels) as f:
            negatives = [line.strip() for line in f if line.strip()]
        yaml_body = ("- name: second\n  prompt: " + json.dumps(other) + "\n  negatives: " + json.dumps(negatives)
                     + "\n  min_on: 1\n  min_off: 1\n").encode()
        mark = sub.count()
        status, body = http.json("PUT", f"/api/v1/streams/{STREAM}/alerts", raw=yaml_body, token=TOKEN)
        check(status == 200 and [r["name"] for r in body["alerts"]] == ["second"], f"PUT a good rule: {status} {body}")
        wait_for(lambda: any(e["event"]["rule"] == "second" and e["event"]["state"] == "start"
                             for e in events_of(sub, mark)), 90, "a start of rule 'second' after the PUT")
        late = [e for e in events_of(sub, mark) if e["event"]["rule"] == "first" and e["event"]["state"] == "start"]
        check(not late, f"rule 'first' started events after it was replaced: {late}")
        log(f"after the PUT: {[(e['event']['rule'], e['event']['state']) for e in events_of(sub, mark)]}")
        check(http.json("GET", f"/api/v1/streams/{STREAM}/alerts")[1]["alerts"][0]["prompt"] == other,
              "GET alerts does not show the new rule")

        # Status page and metrics.
        status, page = http.call("GET", "/")
        check(status == 200 and 'id="events"' in page and f'src="/api/v1/events/{start["id"]}/snapshot.jpg"' in page,
              f"the status page lacks the events with thumbnails: {page[-1500:]}")
        total = http.metric("internvl_events_total", rule="first", stream=STREAM)  # labels sorted
        check(total and total >= 1, f"internvl_events_total for rule first: {total}")
        check(service.stop() == 0, f"the service did not exit 0:{service.tail()}")
    finally:
        sub.close()
        if service.proc.poll() is None:
            service.proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True)
    parser.add_argument("--scenes-tool", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--validator", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    if zmq_missing():
        return SKIP
    return run_scenario("service", lambda work: scenario_service(args, work), args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
