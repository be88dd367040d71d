#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Search in internvl-streamd, end to end: the service as a real process with the trained demo
model (model/demo), real HTTP, a real SQLite + FAISS index on disk, loopback only, ports picked by
the OS.

Usage: run_service_search_e2e.py --service BIN --scenes-tool BIN --model DIR --work-dir DIR

A generated video of known scenes (H.264 in MP4, internvl-scenes) plays in real time, looping, on
a stream of a config with a `search:` section, so internvlindex follows internvlclassify:
  - frames are indexed (internvl_search_index_frames grows);
  - GET /api/v1/search?q=<scene label> returns, first, a moment of the stream that starts in a
    scene of that label (for at least 90% of the labels), whose thumbnail URL serves a JPEG; the stream
    filter holds; /api/v1/streams/{id}/latest.jpg is a JPEG, 404 for a stream without frames;
  - an empty q, k out of range, a bad time, an unknown parameter are 400s naming the parameter;
    a malformed thumbnail id is a 400, a missing one a 404;
  - the status page in headless Chromium (driven over --remote-debugging-pipe): the stream's
    picture loads; a query typed into the search box and submitted shows moments whose
    thumbnails load;
  - a second service on the same data_dir refuses to start, naming search.data_dir and the
    other writer;
  - crash safety: the service is killed (SIGKILL) while it indexes and restarted on the same
    data_dir: SQLite's integrity_check is ok, the index opens with at least the frames it held
    2.5 s before the kill, and queries work;
  - SIGTERM exits 0; a data_dir whose database is not SQLite stops the start with a message naming
    the file and the fix.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

from e2e_common import Failure, check, log, run_scenario
from run_alerts_e2e import make_video, occurrences
from run_service_e2e import LOCAL_SOURCES, Http, Service, run_expecting_failure, wait_for

STREAM = "yard"
SECONDS_PER_SCENE = 3
TOLERANCE = 0.75  # seconds: a sample may be up to one sampling period into the next scene


def search(http, query):
    status, body = http.json("GET", "/api/v1/search?" + urllib.parse.urlencode(query))
    check(status == 200, f"GET /api/v1/search {query}: {status} {body}")
    return body["moments"]


def starts_inside(moment, runs):
    """Whether the moment starts in one of `runs`: hits of a similar scene right after it (a white
    circle after a blue one) may merge into its end, as the index merges hits closer than 3 s."""
    return any(start - TOLERANCE <= moment["start_seconds"] <= end + TOLERANCE for start, end in runs)


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
    JSON messages ended by NUL on fds 3 and 4), so no websocket package is needed."""

    def __init__(self, binary, work):
        self.to_browser_read, self.to_browser = os.pipe()
        self.from_browser, self.from_browser_write = os.pipe()
        profile = tempfile.mkdtemp(dir=work)

        def plumb():
            os.dup2(self.to_browser_read, 3)
            os.dup2(self.from_browser_write, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=plumb, pass_fds=(3, 4))
        os.close(self.to_browser_read)
        os.close(self.from_browser_write)
        self.next_id = 0
        self.buffer = b""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise Failure(f"Chromium closed the DevTools pipe (exit {self.proc.poll()})")
                self.buffer += chunk
            text, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(text)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    def evaluate(self, expression):
        """The value of `expression` in the page; None while the page is (re)loading."""
        try:
            result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        except Failure:
            return None
        return result.get("result", {}).get("value")

    def close(self):
        os.close(self.to_browser)
        os.close(self.from_browser)
        self.proc.kill()
        self.proc.wait()


def all_loaded(selector):
    """JS: the images matching `selector` (at least one) have all loaded a picture."""
    return (f"(() => {{ const images = [...document.querySelectorAll({json.dumps(selector)})]; "
            "return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0) ? images.length : 0; })()")


def check_status_page(http, label):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    check(chromium, "chromium is not installed (Debian package `chromium`; deploy/install-deps.sh)")
    browser = Chromium(chromium, tempfile.mkdtemp())
    try:
        browser.page("Page.navigate", url=http.base + "/")
        wait_for(lambda: browser.evaluate(all_loaded("img.latest")), 30, "the stream's latest picture to load")
        # Type the query as a person would and press Enter; the form submits to /?q=...
        wait_for(lambda: browser.evaluate("document.getElementById('q').focus() || true"), 10, "the search box")
        browser.page("Input.insertText", text=label)
        for kind in ["keyDown", "keyUp"]:
            browser.page("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                         text="\r" if kind == "keyDown" else "")
        count = wait_for(lambda: browser.evaluate(all_loaded("#moments img.thumb")), 30,
                         "moments with loaded thumbnails after typing a query")
        shown = browser.evaluate("new URLSearchParams(location.search).get('q')")
        check(shown == label, f"the page searched {shown!r}, not the typed {label!r}")
        # The live part refreshes beside the results (its pictures stay loaded).
        wait_for(lambda: browser.evaluate(all_loaded("img.latest")), 30, "the stream's picture beside the results")
        log(f"Chromium: typed {label!r}, {count} moment thumbnails loaded; the stream picture loaded")
    finally:
        browser.close()


def check_bad_requests(http):
    for query, parameter in [("q=", "q"), ("q=%20", "q"), ("q=a&k=0", "k"), ("q=a&k=1001", "k"),
                             ("q=a&k=ten", "k"), ("q=a&from=yesterday", "from"), ("q=a&to=2026-13-01T00:00:00Z", "to"),
                             ("q=a&colour=red", "colour")]:
        status, body = http.json("GET", f"/api/v1/search?{query}")
        check(status == 400 and parameter in body["error"], f"GET /api/v1/search?{query}: {status} {body}")
    status, _, _ = http.get_bytes("/api/v1/thumbnails/abc.jpg")
    check(status == 400, f"a malformed thumbnail id: {status}")
    status, _, _ = http.get_bytes("/api/v1/thumbnails/999999999.jpg")
    check(status == 404, f"a missing thumbnail: {status}")
    status, _, _ = http.get_bytes("/api/v1/streams/nobody/latest.jpg")
    check(status == 404, f"latest.jpg of a stream without frames: {status}")


def check_queries(http, timeline):
    labels = sorted({scene["label"] for scene in timeline["scenes"]})
    right = []
    for label in labels:
        moments = search(http, {"q": label, "k": 5})
        check(moments, f"no moments for {label!r}")
        best = moments[0]
        check(best["stream"] == STREAM, f"the best moment for {label!r} is of another stream: {best}")
        if starts_inside(best, occurrences(timeline, label)):
            right.append(label)
        else:
            log(f"  {label!r}: best moment {best['start_seconds']:.2f}-{best['end_seconds']:.2f} s, "
                f"scenes at {occurrences(timeline, label)}")
    log(f"{len(right)} of {len(labels)} labels: the best moment starts inside their scene")
    check(len(right) >= 0.9 * len(labels), f"only {len(right)} of {len(labels)} labels found in their scene")
    best = search(http, {"q": labels[0], "k": 3})[0]
    for key in ["start_time", "end_time", "score", "frame_id", "id", "frames"]:
        check(key in best, f"a moment lacks {key}: {best}")
    status, kind, jpeg = http.get_bytes(best["thumbnail_url"])
    check(status == 200 and kind == "image/jpeg" and jpeg[:3] == b"\xff\xd8\xff",
          f"thumbnail {best['thumbnail_url']}: {status} {kind} {jpeg[:16]!r}")
    check(search(http, {"q": labels[0], "stream": "nobody"}) == [], "the stream filter let moments of yard through")
    status, kind, jpeg = http.get_bytes(f"/api/v1/streams/{STREAM}/latest.jpg")
    check(status == 200 and jpeg[:3] == b"\xff\xd8\xff", f"latest.jpg: {status} {kind} {jpeg[:16]!r}")
    return labels


def scenario_service(args, work):
    mp4, timeline, labels_file = make_video(args.scenes_tool, work, seconds=SECONDS_PER_SCENE)
    data_dir = os.path.join(work, "index")
    config = {
        "model": {"path": os.path.abspath(args.model), "device": "cpu"},
        "tasks": {"classify": {"labels_file": labels_file, "selection_fps": 4, "clip_frames": 0}},
        "search": {"data_dir": data_dir},
        "streams": [{"id": STREAM, "uri": mp4, "realtime": True, "restart_on_eos": True}],
        "limits": LOCAL_SOURCES,
        "http": {"listen": "127.0.0.1:0"},
        "supervision": {"stall_timeout_seconds": 10, "backoff_initial_seconds": 0.5, "backoff_max_seconds": 2},
    }
    video_seconds = max(scene["end_time"] for scene in timeline["scenes"])
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    try:
        # One whole loop of the video indexed: every scene is in the index.
        wait_for(lambda: http.streams()[STREAM]["restarts"] >= 1, video_seconds + 60, "one loop of the video")
        wait_for(lambda: (http.metric("internvl_search_index_frames") or 0) >= 2 * video_seconds, 30,
                 "the frames of one loop in the index")
        labels = check_queries(http, timeline)
        check_bad_requests(http)
        check_status_page(http, labels[-1])
        count = http.metric("internvl_search_query_seconds_count")
        check(count and count >= len(labels), f"internvl_search_query_seconds_count: {count}")
        total = http.metric("internvl_search_query_seconds_sum")
        log(f"{count:.0f} queries over REST and the page took {1000 * total / count:.1f} ms each on average "
            f"(text embedding included)")
        check((http.metric("internvl_search_index_disk_bytes") or 0) > 0, "internvl_search_index_disk_bytes is 0")

        second = dict(config, http={"listen": "127.0.0.1:0"})
        path = os.path.join(work, "second.yaml")
        with open(path, "w") as f:
            json.dump(second, f)
        run_expecting_failure(args.service, ["--config", path], f"search.data_dir '{data_dir}'",
                              "a second writer of the index")

        # Crash safety: what was indexed 2.5 s before a SIGKILL survives it.
        before = http.metric("internvl_search_index_frames")
        time.sleep(2.5)  # the freshness bound (2 s) plus the gauge's update interval
        service.proc.kill()
        service.proc.wait()
        log(f"killed the service while indexing; {before:.0f} frames were indexed 2.5 s before")
        with sqlite3.connect(os.path.join(data_dir, "index.sqlite")) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        check(verdict == "ok", f"integrity_check after the kill: {verdict}")
        service = Service(args.service, work, config, name="restarted").wait_ready()
        http = Http(service.http_port)
        reopened = float(service.find(r"search index \S+: (\d+) frames"))
        check(reopened >= before, f"the index reopened with {reopened:.0f} frames; {before:.0f} were indexed before")
        log(f"restarted: the index opened with {reopened:.0f} frames (lost none of the {before:.0f})")
        check(search(http, {"q": labels[0]})[0]["stream"] == STREAM, "no query result after the restart")
        check(service.stop() == 0, f"the service did not exit 0:{service.tail()}")

        broken_dir = os.path.join(work, "broken-index")
        os.makedirs(broken_dir)
        with open(os.path.join(broken_dir, "index.sqlite"), "wb") as f:
            f.write(b"this is not a database" * 100)
        path = os.path.join(work, "broken.yaml")
        with open(path, "w") as f:
            json.dump(dict(config, search={"data_dir": broken_dir}), f)
        run_expecting_failure(args.service, ["--config", path], os.path.join(broken_dir, "index.sqlite"),
                              "an index database that is not SQLite")
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", required=True)
    parser.add_argument("--scenes-tool", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    return run_scenario("search", lambda work: scenario_service(args, work), args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
