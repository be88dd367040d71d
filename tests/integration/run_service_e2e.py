#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of internvl-streamd as a real process: loopback only, ports picked by the OS.

Usage: run_service_e2e.py SCENARIO --service BIN --rtsp-server BIN --schema SCHEMA
                          --validator VALIDATE_MESSAGES_PY --model DIR --work-dir DIR
                          [--soak-seconds N]
Scenarios:
  streams      two looping file sources and one RTSP camera (gst-rtsp-server, started by the test):
               results for all three over a real ZeroMQ SUB socket, each schema-valid; /metrics,
               REST and health; the camera is killed and comes back (stream down, restarted,
               counted, results again); a stream is added, relabelled and removed over REST while
               the others run; bad requests get 4xx JSON errors; SIGTERM exits 0 and every line of
               the JSON-lines output is valid
  prometheus   a real Prometheus server (Debian package `prometheus`) scrapes the service; its
               HTTP API returns our series
  status-page  headless Chromium (Debian package `chromium`) loads the status page and shows the
               streams
  bad-input    malformed YAML, unknown keys, a missing model, a taken port: clear errors, exit 1;
               an unreachable URI only puts its stream into backoff
  soak         accelerated file sources and a camera for --soak-seconds: RSS stays bounded
  signals      SIGTERM and SIGINT while the service is still starting (its start blocked on opening
               outputs.jsonl.path, a FIFO nobody reads, right after the model loaded): the process
               dies by the signal within 5 s and says why
  shutdown-hang SIGTERM while the JSON-lines output (a FIFO whose reader stopped reading) blocks the
               drain: the process exits within supervision.shutdown_timeout_seconds + 10 s with
               status 1, says what it gave up, and every line it wrote is whole and valid

--model is the tiny checkpoint (tests/data/parity/internvl-tiny). Exit status 77 (CTest: skipped,
which fails `make test`) with a message when python3-jsonschema or python3-zmq is missing. Prometheus and Chromium are installed by deploy/install-deps.sh; their
absence is a failure naming the package.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from e2e_common import SKIP, Failure, Subscriber, check, checkpoint_dir, load_validator, log, run_scenario, zmq_missing

LABELS = ["red", "green", "blue", "stripes"]


def wait_for(condition, timeout, what, interval=0.2):
    """Polls condition() until it returns a truthy value; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise Failure(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def make_video(path, frames, pattern="ball"):
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", f"pattern={pattern}", "!",
                    "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc", "speed-preset=ultrafast",
                    "key-int-max=30", "!", "mp4mux", "!", "filesink", f"location={path}"],
                   check=True, timeout=120)


class Http:
    def __init__(self, port, token=None):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method, path, body=None, token=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get_bytes(self, path):
        """GET `path`: (status, content type, body bytes) of a binary answer; errors too."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=15) as response:
                return response.status, response.headers.get("Content-Type"), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type"), error.read()

    def json(self, method, path, body=None, **kwargs):
        status, text = self.call(method, path, body, **kwargs)
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            raise Failure(f"{method} {path}: {status} with a body that is not JSON: {text[:300]!r}")

    def streams(self):
        status, body = self.json("GET", "/api/v1/streams")
        check(status == 200, f"GET /api/v1/streams: {status} {body}")
        return {s["id"]: s for s in body["streams"]}

    def metric(self, name, **labels):
        status, text = self.call("GET", "/metrics")
        check(status == 200, f"GET /metrics: {status}")
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(name + "{" + wanted + "}") or (not labels and line.startswith(name + " ")):
                return float(line.rsplit(" ", 1)[1])
        return None


class Service:
    """internvl-streamd running on a config; its log is collected from stderr."""

    def __init__(self, binary, work, config, name="service", env=None):
        self.path = os.path.join(work, f"{name}.yaml")
        with open(self.path, "w") as f:
            json.dump(config, f, indent=1)  # JSON is YAML: the service reads it as its config
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([binary, "--config", self.path], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace",
                                     env=dict(os.environ, **(env or {})))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with open(self.path[:-len(".yaml")] + ".log", "w") as saved:  # kept for a failed run
            for line in self.proc.stdout:
                saved.write(line)
                saved.flush()
                with self.lock:
                    self.lines.append(line.rstrip("\n"))

    def log_text(self):
        with self.lock:
            return "\n".join(self.lines)

    def tail(self, n=40):
        with self.lock:
            return "\n  | ".join([""] + self.lines[-n:])

    def find(self, pattern):
        match = re.search(pattern, self.log_text())
        return match.group(1) if match else None

    def wait_ready(self, timeout=120):
        def ready():
            if self.proc.poll() is not None:
                raise Failure(f"the service exited with {self.proc.returncode} while starting:{self.tail()}")
            return self.find(r"(ready): \d+ of \d+ configured streams")
        wait_for(ready, timeout, "the service to be ready")
        self.http_port = int(self.find(r"on http://\S+ \(port (\d+)\)"))
        self.zmq_endpoint = self.find(r"publishing results on ZeroMQ (tcp://\S+)")
        return self

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"the service did not stop within {timeout} s of SIGTERM:{self.tail()}")
        self.reader.join(timeout=5)
        return code

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


class RtspCamera:
    """The test's RTSP camera; restartable on the same port."""

    def __init__(self, binary, port=0):
        self.binary = binary
        self.start(port)

    def start(self, port):
        self.proc = subprocess.Popen([self.binary, str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.uri = self.proc.stdout.readline().strip()
        if not self.uri.startswith("rtsp://"):
            self.proc.wait(timeout=10)
            raise Failure(f"the RTSP test server did not start: {self.proc.stderr.read()}")
        self.port = int(self.uri.split(":")[2].split("/")[0])

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        deadline = time.monotonic() + 20
        while True:  # the port may linger for a moment after the kill
            try:
                self.start(self.port)
                return
            except Failure:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# Local files and the UDP probe are off by default (limits.allowed_uri_schemes).
LOCAL_SOURCES = {"allowed_uri_schemes": ["file", "udp", "rtsp", "rtsps", "http", "https"]}


def base_config(tiny, streams, work, **extra):
    config = {
        "model": {"path": tiny, "device": "cpu", "batch_size": 8},
        "tasks": {
            "classify": {"labels": LABELS, "selection_fps": 4, "clip_frames": 4},
            "caption": {"enabled": True, "selection_fps": 0.5, "num_beams": 1, "min_new_tokens": 1,
                        "max_new_tokens": 4},
        },
        "streams": streams,
        "limits": LOCAL_SOURCES,
        "outputs": {"zmq": {"endpoint": "bind:tcp://127.0.0.1:0"},
                    "jsonl": {"path": os.path.join(work, "results.jsonl")}},
        "http": {"listen": "127.0.0.1:0"},
        "supervision": {"stall_timeout_seconds": 4, "backoff_initial_seconds": 0.5, "backoff_max_seconds": 2,
                        "shutdown_timeout_seconds": 10},
    }
    config.update(extra)
    return config


def sensors_in(messages):
    return {json.loads(body)["sensor_id"] for _, body in messages}


def messages_of(messages, sensor, kind=None):
    out = []
    for topic, body in messages:
        m = json.loads(body)
        if m["sensor_id"] == sensor and (kind is None or m["kind"] == kind):
            out.append(m)
    return out


def scenario_streams(args, tiny, work):
    validator, line_errors = load_validator(args.validator, args.schema)
    make_video(os.path.join(work, "a.mp4"), 90)
    make_video(os.path.join(work, "b.mp4"), 60, pattern="smpte")
    camera = RtspCamera(args.rtsp_server)
    token = "t0k3n"
    streams = [
        # A 3 s file that plays at real time makes progress all along: with a stall timeout of half
        # its length, it must never be restarted as stalled (frames read ahead into the elements
        # must not count as progress made when they were read).
        {"id": "file-a", "uri": os.path.join(work, "a.mp4"), "restart_on_eos": True, "realtime": True,
         "stall_timeout_seconds": 1.5},
        {"id": "file-b", "uri": os.path.join(work, "b.mp4"), "restart_on_eos": True, "realtime": True},
        {"id": "cam", "uri": camera.uri, "stall_timeout_seconds": 3},
    ]
    config = base_config(tiny, streams, work, http={"listen": "127.0.0.1:0", "auth_token": token})
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    sub = Subscriber(service.zmq_endpoint)
    try:
        log(f"service up: http {service.http_port}, zmq {service.zmq_endpoint}, camera {camera.uri}")
        # Health and results from every stream.
        check(http.call("GET", "/health/live")[0] == 200, "/health/live is not 200")
        check(http.call("GET", "/health/ready")[0] == 200, "/health/ready is not 200")
        wait_for(lambda: {"file-a", "file-b", "cam"} <= sensors_in(sub.since(0)), 90,
                 "results from file-a, file-b and cam over ZeroMQ")
        kinds = {(json.loads(b)["sensor_id"], json.loads(b)["kind"]) for _, b in sub.since(0)}
        log(f"received {sub.count()} messages; kinds {sorted(kinds)}")
        for topic, body in sub.since(0):
            errors = line_errors(validator, body)
            check(not errors, f"message on {topic} fails the schema: {errors}")
            message = json.loads(body)
            check(topic == f"{message['kind']}/{message['sensor_id']}", f"topic {topic} does not match its message")
        cam_source = messages_of(sub.since(0), "cam")[0]["source"]
        check(cam_source == camera.uri, f"source of cam messages is {cam_source!r}, not {camera.uri}")
        wait_for(lambda: http.metric("internvl_stream_up", stream="cam") == 1.0, 30, "internvl_stream_up{cam} = 1")
        status = http.streams()
        check(set(status) == {"file-a", "file-b", "cam"}, f"streams listed: {sorted(status)}")
        check(status["cam"]["live"] and status["cam"]["decoder"] == "avdec_h264",
              f"cam status: live {status['cam']['live']}, decoder {status['cam']['decoder']!r}")
        check(http.metric("internvl_frames_total", stream="cam") > 0, "no internvl_frames_total{cam}")
        # The elements record under the stream id (stream-id), not their element names.
        for task in ["classification", "caption"]:
            sampled = http.metric("internvl_frames_sampled_total", stream="cam", task=task)
            check(sampled and sampled > 0, f"internvl_frames_sampled_total{{cam,{task}}} = {sampled}")

        # The camera dies: cam goes down and is retried; the files go on.
        camera.kill()
        log("camera killed")
        wait_for(lambda: http.streams()["cam"]["state"] == "backoff", 30, "cam to be in backoff after the camera died")
        check(http.metric("internvl_stream_up", stream="cam") == 0.0, "internvl_stream_up{cam} is not 0 while down")
        down = http.streams()["cam"]
        log(f"cam down: {down['last_error']}")
        check(down["last_error"], "cam has no last_error while down")
        before = sub.count()
        wait_for(lambda: {"file-a", "file-b"} <= sensors_in(sub.since(before)), 30,
                 "the file streams to keep publishing while the camera is down")
        time.sleep(3)  # a few failed reconnects against a closed port
        camera.restart()
        log("camera back")
        wait_for(lambda: http.streams()["cam"]["state"] == "running", 60, "cam to run again after the camera came back")
        restarts = http.metric("internvl_stream_restarts_total", stream="cam")
        check(restarts >= 1, f"internvl_stream_restarts_total{{cam}} = {restarts}")
        check(http.metric("internvl_stream_up", stream="cam") == 1.0, "internvl_stream_up{cam} is not 1 again")
        mark = sub.count()
        wait_for(lambda: "cam" in sensors_in(sub.since(mark)), 60, "results from cam after its restart")
        log(f"cam recovered after {int(restarts)} restarts")

        # REST: add a stream, relabel it, remove it, while the others run.
        check(http.call("POST", "/api/v1/streams", {"id": "added", "uri": "file://" + os.path.join(work, "a.mp4"),
                                                   "restart_on_eos": True, "realtime": True})[0] == 401,
              "POST without the bearer token was not refused with 401")
        status, body = http.json("POST", "/api/v1/streams",
                                 {"id": "added", "uri": "file://" + os.path.join(work, "a.mp4"),
                                  "restart_on_eos": True, "realtime": True,
                                  "tasks": {"caption": {"enabled": False}}}, token=token)
        check(status == 201 and body["id"] == "added", f"POST /api/v1/streams: {status} {body}")
        mark = sub.count()
        wait_for(lambda: "added" in sensors_in(sub.since(mark)), 60, "results from the added stream")
        status, body = http.json("PUT", "/api/v1/streams/added/labels", {"labels": ["zebra", "giraffe"]}, token=token)
        check(status == 200 and body["labels"] == ["zebra", "giraffe"], f"PUT labels: {status} {body}")

        def relabelled():
            for m in messages_of(sub.since(mark), "added", "classification"):
                if {c["label"] for c in m["classification"]} <= {"zebra", "giraffe"}:
                    return True
            return False
        wait_for(relabelled, 60, "classification of the added stream with the new labels")
        status, body = http.json("DELETE", "/api/v1/streams/added", token=token)
        check(status == 200, f"DELETE /api/v1/streams/added: {status} {body}")
        check(http.json("GET", "/api/v1/streams/added")[0] == 404, "a removed stream is still there")
        mark = sub.count()
        wait_for(lambda: {"file-a", "file-b", "cam"} <= sensors_in(sub.since(mark)), 60,
                 "every remaining stream to keep publishing after the removal")
        check("added" not in http.streams(), "the removed stream is still listed")

        # Bad requests: 4xx with a JSON error; the service goes on.
        for method, path, raw, expected, fragment in [
            ("POST", "/api/v1/streams", b"{not json", 400, "not valid JSON"),
            ("POST", "/api/v1/streams", b'{"id": "x", "uri": "rtsp://h/1", "colour": 1}', 400, "unknown key 'colour'"),
            ("POST", "/api/v1/streams", b'{"id": "file-a", "uri": "rtsp://h/1"}', 409, "already exists"),
            ("POST", "/api/v1/streams", b'[1, 2]', 400, "JSON object"),
            ("PUT", "/api/v1/streams/nope/labels", b'{"labels": ["a"]}', 404, "no stream 'nope'"),
            ("PUT", "/api/v1/streams/file-a/labels", b'{"labels": "a"}', 400, "list of strings"),
            ("PUT", "/api/v1/streams/file-a/labels", b'{"labels_file": "/etc/passwd"}', 400, "not over REST"),
            ("POST", "/api/v1/streams", b'{"id": "y", "uri": "rtsp://h/1", "tasks": {"classify": '
                                        b'{"labels_file": "/etc/passwd"}}}', 400, "files cannot be named over REST"),
            ("DELETE", "/api/v1/streams/nope", None, 404, "no stream 'nope'"),
            ("GET", "/api/v2/whatever", None, 404, "no such path"),
            ("PATCH", "/api/v1/streams", None, 405, "use GET or POST"),
        ]:
            status, text = http.call(method, path, raw=raw, token=token)
            body = json.loads(text)
            check(status == expected and fragment in body["error"] and body["status"] == expected,
                  f"{method} {path} {raw!r}: expected {expected} with '{fragment}', got {status} {text}")
        status, body = http.json("POST", "/api/v1/streams", {"id": "nowhere", "uri": "rtsp://127.0.0.1:1/none"},
                                 token=token)
        check(status == 201, f"adding an unreachable camera: {status} {body}")
        nowhere = wait_for(lambda: (lambda s: s if s["state"] == "backoff" and s["last_error"] else None)(
            http.streams()["nowhere"]), 30, "the unreachable stream to be in backoff with its error")
        log(f"unreachable stream: {nowhere['last_error']}")
        check(http.call("GET", "/health/ready")[0] == 200, "not ready after bad requests")

        # A paced (realtime) file is not a live source: its end is a restart (restart_on_eos), not
        # a failure with a backoff. The files are 2-3 s long and have looped by now.
        for name, s in http.streams().items():
            if name.startswith("file-"):
                check(not s["live"] and s["restarts"] >= 1 and not s["last_error"],
                      f"{name} after looping: live {s['live']}, restarts {s['restarts']}, "
                      f"last_error {s['last_error']!r}")
        # Its fps is the rate it plays at (30 fps), not the rate it was read ahead at (hundreds).
        # The 2 s window dips below 30 around each loop's restart, and further on a loaded
        # machine, so the lower bound is met by the best reading only.
        rates = []
        for _ in range(6):
            time.sleep(1.0)
            rates.append(http.streams()["file-a"]["fps"])
        playing = [r for r in rates if r > 0]
        check(len(playing) >= 3 and max(playing) <= 45.0 and max(playing) >= 15.0,
              f"fps of the 30 fps file-a while it plays: {rates}")

        # Shutdown: exit 0, every accepted result published, every line valid. SIGTERM goes out
        # while the three streams run and results flow (right after a fresh one arrived), so the
        # drain has work in flight: under load a stream can sit in a restart at that instant.
        wait_for(lambda: all(http.streams()[s]["state"] == "running" for s in ("cam", "file-a", "file-b")), 60,
                 "cam, file-a and file-b to be running before the shutdown")
        before = sub.count()
        wait_for(lambda: sub.count() > before, 30, "a fresh result before the shutdown", interval=0.02)
        published = sub.count()
        code = service.stop()
        check(code == 0, f"exit status {code} after SIGTERM:{service.tail()}")
        text = service.log_text()
        check("stopped" in text, f"no 'stopped' at the end of the log:{service.tail()}")
        sent = int(re.search(r"ZeroMQ: (\d+) messages published, (\d+) dropped", text).group(1))
        time.sleep(0.5)
        received = [body for _, body in sub.since(0)]
        log(f"shutdown: {sent} sent, {len(received)} received ({len(received) - published} during the drain)")
        check(len(received) > published, "nothing was published during the drain")
        with open(os.path.join(work, "results.jsonl")) as f:
            lines = f.read().splitlines()
        check(len(lines) == sent, f"results.jsonl has {len(lines)} lines, ZeroMQ sent {sent}")
        for number, line in enumerate(lines, 1):
            errors = line_errors(validator, line)
            check(not errors, f"results.jsonl line {number} fails the schema: {errors}")
        # ZeroMQ drops what is sent before a subscriber joins; after that nothing may be lost,
        # the drain included: every line of the (lossless) file the subscriber did not get must
        # be older than the first message it got.
        missed = sorted(set(lines) - set(received))
        check(set(received) <= set(lines), "the subscriber got messages that are not in results.jsonl")
        first = min(json.loads(body)["timestamp"] for body in received)
        late = [m for m in (json.loads(line) for line in missed) if m["timestamp"] > first]
        check(not late, f"{len(late)} messages published after the subscriber joined never reached it: {late[:2]}")
        log(f"{len(missed)} messages went out before the subscriber joined; none lost after")
    finally:
        sub.close()
        camera.stop()
        if service.proc.poll() is None:
            service.proc.kill()


def scenario_prometheus(args, tiny, work):
    prometheus = shutil.which("prometheus")
    check(prometheus, "prometheus is not installed (Debian package `prometheus`; deploy/install-deps.sh)")
    make_video(os.path.join(work, "a.mp4"), 60)
    streams = [{"id": "cam01", "uri": os.path.join(work, "a.mp4"), "restart_on_eos": True, "realtime": True}]
    service = Service(args.service, work, base_config(tiny, streams, work)).wait_ready()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        prometheus_port = s.getsockname()[1]
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: internvl
    static_configs: [{{targets: ["127.0.0.1:{service.http_port}"]}}]
""")
    server = subprocess.Popen([prometheus, f"--config.file={work}/prometheus.yml",
                               f"--storage.tsdb.path={work}/tsdb", f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "prometheus.log"), "w"))
    try:
        api = Http(prometheus_port)

        def series():
            try:
                status, body = api.json("GET", "/api/v1/query?query=internvl_frames_total")
            except (OSError, Failure):
                return None
            results = body.get("data", {}).get("result", []) if status == 200 else []
            return [r for r in results if r["metric"].get("stream") == "cam01" and float(r["value"][1]) > 0] or None
        found = wait_for(series, 60, "Prometheus to return internvl_frames_total{stream=\"cam01\"}", interval=1)
        log(f"Prometheus sees {found[0]['metric']} = {found[0]['value'][1]}")
        status, body = api.json("GET", "/api/v1/query?query=up")
        check(any(r["value"][1] == "1" for r in body["data"]["result"]), f"the scrape target is not up: {body}")
        check(service.stop() == 0, "the service did not exit 0")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if service.proc.poll() is None:
            service.proc.kill()


def scenario_status_page(args, tiny, work):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    check(chromium, "chromium is not installed (Debian package `chromium`; deploy/install-deps.sh)")
    make_video(os.path.join(work, "a.mp4"), 60)
    streams = [{"id": "front-door", "uri": os.path.join(work, "a.mp4"), "restart_on_eos": True, "realtime": True},
               {"id": "no-such-camera", "uri": "rtsp://127.0.0.1:1/none"}]
    service = Service(args.service, work, base_config(tiny, streams, work)).wait_ready()
    http = Http(service.http_port)
    try:
        wait_for(lambda: http.streams()["front-door"]["state"] == "running", 60, "front-door to run")
        wait_for(lambda: http.streams()["no-such-camera"]["state"] == "backoff", 30, "no-such-camera to fail")
        # The latest frame and clip scores are reported apart (a clip spans scene changes).
        latest = wait_for(lambda: (lambda l: l if l["classification"] and l["clip_classification"] else None)(
            http.streams()["front-door"]["latest"]), 60, "front-door's latest frame and clip classification")
        log(f"latest frame labels {latest['classification'][0]}, clip labels {latest['clip_classification'][0]}")
        profile = tempfile.mkdtemp(dir=work)
        proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={profile}", "--dump-dom",
                               f"http://127.0.0.1:{service.http_port}/"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        dom = proc.stdout
        check(proc.returncode == 0 and "<table" in dom, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
        for fragment in ['data-stream="front-door"', 'data-stream="no-such-camera"', "running", "backoff",
                         "avdec_h264", "2 streams", "frame:</span>", "clip:</span>"]:
            check(fragment in dom, f"the page Chromium rendered lacks {fragment!r}:\n{dom[:3000]}")
        log(f"Chromium rendered the status page ({len(dom)} bytes of DOM) with both streams")
        check(service.stop() == 0, "the service did not exit 0")
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


def run_expecting_failure(binary, args, fragment, what, env=None):
    proc = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))
    check(proc.returncode == 1, f"{what}: exit status {proc.returncode}, expected 1:\n{proc.stdout}")
    check(fragment in proc.stdout, f"{what}: the message lacks {fragment!r}:\n{proc.stdout}")
    log(f"{what}: {proc.stdout.strip().splitlines()[-1]}")


def scenario_bad_input(args, tiny, work):
    def write(name, text):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path
    good = f"model: {{path: {tiny}, device: cpu}}\ntasks: {{classify: {{labels: [a, b]}}}}\n"
    malformed = write("malformed.yaml", good + "streams: [{id: a, uri: 'rtsp://h/1'\n")
    unknown = write("unknown.yaml", good + "streams:\n  - id: a\n    uri: rtsp://h/1\n    decoder: cpu\n")
    no_model = write("no-model.yaml", "model: {path: /nonexistent/model}\ntasks: {classify: {labels: [a]}}\n")
    broken_model = os.path.join(work, "broken-model")
    os.makedirs(broken_model, exist_ok=True)
    write("broken-model/config.json", "{ this is not json")
    broken = write("broken.yaml", f"model: {{path: {broken_model}}}\ntasks: {{classify: {{labels: [a]}}}}\n")
    for flag in ["--validate-config", "--config"]:
        run_expecting_failure(args.service, [flag, malformed], "not valid YAML at line", f"{flag} malformed YAML")
        run_expecting_failure(args.service, [flag, unknown], "streams[0].decoder (line 6): unknown key 'decoder'",
                              f"{flag} unknown key")
        run_expecting_failure(args.service, [flag, os.path.join(work, "missing.yaml")], "cannot read the config file",
                              f"{flag} missing file")
    run_expecting_failure(args.service, ["--config", no_model], "model.path '/nonexistent/model' is not a directory",
                          "missing model")
    run_expecting_failure(args.service, ["--config", broken], "cannot load the model", "corrupt model")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = write("busy.yaml", good + f"http: {{listen: '127.0.0.1:{port}'}}\n")
        run_expecting_failure(args.service, ["--config", busy], f"cannot listen on '127.0.0.1:{port}'", "port in use")
    # A valid config whose streams cannot play: the service runs, the streams retry. A missing
    # file errors at once; a UDP port nobody sends to never errors, so the stall timeout acts.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        silent_port = probe.getsockname()[1]
    streams = [{"id": "gone", "uri": "file:///nonexistent/video.mp4"},
               {"id": "silent", "uri": f"udp://127.0.0.1:{silent_port}", "stall_timeout_seconds": 1.5}]
    service = Service(args.service, work, base_config(tiny, streams, work)).wait_ready()
    try:
        http = Http(service.http_port)
        gone = wait_for(lambda: (lambda s: s if s["restarts"] >= 2 else None)(http.streams()["gone"]), 30,
                        "the missing file to be retried twice")
        check("nonexistent/video.mp4" in gone["last_error"] or "not found" in gone["last_error"].lower(),
              f"the error does not name the file: {gone['last_error']}")
        log(f"missing source retried: {gone['last_error']}")
        silent = wait_for(lambda: (lambda s: s if s["restarts"] >= 1 else None)(http.streams()["silent"]), 30,
                          "the silent UDP stream to be restarted by the stall timeout")
        check("no frames for 1.5 s" in silent["last_error"], f"silent stream error: {silent['last_error']}")
        check(http.metric("internvl_stream_restarts_total", stream="silent") >= 1, "silent restarts not counted")
        log(f"stalled source restarted: {silent['last_error']}")
        # Garbage on the HTTP port does not hurt the service.
        with socket.create_connection(("127.0.0.1", service.http_port)) as raw:
            raw.sendall(b"\x00\xff garbage \r\n\r\n" * 10)
            raw.settimeout(5)
            try:
                raw.recv(1000)
            except OSError:
                pass
        check(http.call("GET", "/health/live")[0] == 200, "the service stopped answering after garbage")
        check(service.stop() == 0, "the service did not exit 0")
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


def scenario_signals(args, tiny, work):
    fifo = os.path.join(work, "results.fifo")
    os.mkfifo(fifo)  # opening it for writing blocks until a reader comes: none will
    config = base_config(tiny, [], work)
    config["outputs"]["jsonl"]["path"] = fifo
    for number, name in [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")]:
        service = Service(args.service, work, config, name=f"signals-{name}")
        try:
            wait_for(lambda: service.find(r"(publishing results on ZeroMQ)") or service.proc.poll() is not None, 120,
                     "the model to load and the start to reach the outputs")
            check(service.proc.poll() is None, f"the service exited while starting:{service.tail()}")
            service.proc.send_signal(number)
            try:
                code = service.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise Failure(f"{name} while starting: still running 5 s later:{service.tail()}")
            service.reader.join(timeout=5)
            check(code == -number, f"{name} while starting: exit status {code}, expected death by {name}")
            check(f"{name} while starting" in service.log_text(), f"{name}: no message saying why:{service.tail()}")
            said = service.find("(" + name + r" while starting[^\n]*)")
            log(f"{name} while starting: died by the signal within 5 s; said: {said}")
        finally:
            if service.proc.poll() is None:
                service.proc.kill()
                service.proc.wait()


class StalledReader:
    """Reads a FIFO line by line on a thread until stall(); then holds it open without reading,
    like a log shipper that hangs: the writer blocks once the pipe (shrunk to one page) is full.
    resume() reads the rest."""

    F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, missing from Python before 3.10

    def __init__(self, path):
        self.lines = []
        self.reading = threading.Event()
        self.reading.set()
        self.thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self.thread.start()

    def _read(self, path):
        import fcntl
        with open(path, "rb") as f:
            fcntl.fcntl(f.fileno(), self.F_SETPIPE_SZ, 4096)
            partial = b""
            while True:
                self.reading.wait()
                chunk = os.read(f.fileno(), 512)
                if not chunk:
                    break
                partial += chunk
                *complete, partial = partial.split(b"\n")
                self.lines.extend(line.decode() for line in complete)
            if partial:
                self.lines.append(partial.decode(errors="replace") + " [no newline]")

    def stall(self):
        self.reading.clear()

    def resume(self):
        self.reading.set()
        self.thread.join(timeout=10)


def scenario_shutdown_hang(args, tiny, work):
    """A real hang at shutdown: the JSON-lines output is a FIFO whose reader stops reading, so
    the drain blocks in write(). SIGTERM must still end the process within
    supervision.shutdown_timeout_seconds + 10 s (kStopGrace in service.cpp), saying what it gave
    up, and every line it wrote before must be whole and valid."""
    validator, line_errors = load_validator(args.validator, args.schema)
    make_video(os.path.join(work, "a.mp4"), 90)
    fifo = os.path.join(work, "results.fifo")
    os.mkfifo(fifo)
    reader = StalledReader(fifo)  # opens before the service does, so its open does not block
    streams = [{"id": "file-a", "uri": os.path.join(work, "a.mp4"), "restart_on_eos": True, "realtime": True}]
    config = base_config(tiny, streams, work)
    config["outputs"]["jsonl"]["path"] = fifo
    shutdown_timeout = config["supervision"]["shutdown_timeout_seconds"] = 3
    bound = shutdown_timeout + 10 + 5  # the service's own bound and a margin for a loaded machine
    service = Service(args.service, work, config).wait_ready()
    sub = Subscriber(service.zmq_endpoint)
    try:
        wait_for(lambda: len(reader.lines) >= 10 and sub.count() >= 5, 60, "results in the FIFO and over ZeroMQ")
        reader.stall()
        # The fan-out publishes to every sink in turn: once the FIFO is full, ZeroMQ stops too.
        seen = []

        def blocked():
            seen.append(sub.count())
            return len(seen) > 10 and seen[-1] == seen[-11]  # nothing new for 2 s
        wait_for(blocked, 60, "the writer to block on the full FIFO (no new results for 2 s)")
        log(f"writer blocked: {len(reader.lines)} lines read, {sub.count()} ZeroMQ messages")
        started = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        try:
            code = service.proc.wait(timeout=bound + 30)
        except subprocess.TimeoutExpired:
            raise Failure(f"still running {bound + 30} s after SIGTERM: the stop deadline did not act:{service.tail()}")
        took = time.monotonic() - started
        service.reader.join(timeout=5)
        check(took <= bound, f"exited {took:.1f} s after SIGTERM, bound {bound} s:{service.tail()}")
        check(code == 1, f"exit status {code}, expected 1 (stop overdue):{service.tail()}")
        said = service.find(r"(shutting down: not done after[^\n]*)")
        check(said and "waiting further for stream file-a to stop" in said
              and "results still in flight are lost" in said,
              f"no message naming what it gave up (stream file-a):{service.tail()}")
        log(f"SIGTERM with the output blocked: exit {code} after {took:.1f} s (bound {bound} s); said: {said}")
        reader.resume()  # what the pipe held: written before the exit, so whole lines only
        for number, line in enumerate(reader.lines, 1):
            errors = line_errors(validator, line)
            check(not errors, f"FIFO line {number} of {len(reader.lines)} is not a whole valid result: {errors}")
        received = [body for _, body in sub.since(0)]
        # ZeroMQ comes first in each result's round of the sinks: the one result whose write to
        # the FIFO blocked went out over ZeroMQ only; every other one is in both.
        extra = [json.loads(m)["timestamp"] for m in received if m not in set(reader.lines)]
        last = json.loads(reader.lines[-1])["timestamp"] if reader.lines else ""
        check(len(extra) <= 1 and all(t >= last for t in extra),
              f"{len(extra)} ZeroMQ results are not among the {len(reader.lines)} lines: {extra}, last line {last}")
        log(f"kept: {len(reader.lines)} whole valid lines in the FIFO, {len(received)} ZeroMQ messages, "
            f"{len(extra)} of them the result whose write blocked")
    finally:
        sub.close()
        reader.reading.set()
        if service.proc.poll() is None:
            service.proc.kill()


def scenario_soak(args, tiny, work):
    make_video(os.path.join(work, "a.mp4"), 90)
    make_video(os.path.join(work, "b.mp4"), 90, pattern="smpte")
    camera = RtspCamera(args.rtsp_server)
    streams = [{"id": "fast-a", "uri": os.path.join(work, "a.mp4"), "restart_on_eos": True},
               {"id": "fast-b", "uri": os.path.join(work, "b.mp4"), "restart_on_eos": True},
               {"id": "cam", "uri": camera.uri}]
    config = base_config(tiny, streams, work)
    config["outputs"].pop("jsonl")  # a file growing for minutes is not what is measured
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    sub = Subscriber(service.zmq_endpoint)
    samples = []
    try:
        warmup = min(30, args.soak_seconds / 4)
        started = time.monotonic()
        while time.monotonic() - started < args.soak_seconds:
            time.sleep(5)
            check(service.proc.poll() is None, f"the service died during the soak:{service.tail()}")
            samples.append((time.monotonic() - started, service.rss_kib()))
            if len(samples) % 6 == 0:
                log(f"soak {samples[-1][0]:.0f} s: RSS {samples[-1][1] / 1024:.1f} MiB, {sub.count()} messages")
        status = http.streams()
        restarts = sum(s["restarts"] for s in status.values())
        frames = sum(s["frames"] for s in status.values())
        after_warmup = [rss for t, rss in samples if t >= warmup]
        third = max(1, len(after_warmup) // 3)
        # Medians, since RSS is noisy while pipelines start and stop several times a second. The
        # middle third is compared with the last: LibTorch's allocator keeps growing until every
        # batch composition has run, which took up to ~100 s (a one-off step of ~35 MiB, then
        # flat), while a leak keeps growing; half the bound over half the distance is the same rate.
        middle = sorted(after_warmup[third:2 * third])[third // 2]
        late = sorted(after_warmup[-third:])[third // 2]
        peak = max(after_warmup)
        growth_mib = (late - middle) / 1024
        bound_mib = args.rss_bound_mib / 2
        log(f"soak {args.soak_seconds:.0f} s: {frames} frames, {restarts} pipeline restarts, {sub.count()} messages; "
            f"RSS median {middle / 1024:.1f} MiB in the middle third after warm-up, {late / 1024:.1f} MiB in the "
            f"last third (growth {growth_mib:.1f} MiB), peak {peak / 1024:.1f} MiB")
        print("rss_samples_kib", json.dumps(samples))
        check(restarts > 20, f"only {restarts} restarts: the soak did not cycle pipelines")
        check(growth_mib < bound_mib,
              f"RSS grew {growth_mib:.1f} MiB between the middle and last third, bound {bound_mib} MiB")
        check(service.stop() == 0, "the service did not exit 0 after the soak")
    finally:
        sub.close()
        camera.stop()
        if service.proc.poll() is None:
            service.proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["streams", "prometheus", "status-page", "bad-input", "soak",
                                                    "signals", "shutdown-hang"])
    parser.add_argument("--service", required=True)
    parser.add_argument("--rtsp-server", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--validator", required=True)
    parser.add_argument("--model", required=True, help="the tiny checkpoint folder")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--soak-seconds", type=float, default=180)
    parser.add_argument("--rss-bound-mib", type=float, default=32)
    args = parser.parse_args()
    tiny = checkpoint_dir(args.model)
    if zmq_missing():
        return SKIP
    scenarios = {"streams": scenario_streams, "prometheus": scenario_prometheus, "status-page": scenario_status_page,
                 "bad-input": scenario_bad_input, "soak": scenario_soak, "signals": scenario_signals,
                 "shutdown-hang": scenario_shutdown_hang}
    return run_scenario(args.scenario, lambda work: scenarios[args.scenario](args, tiny, work), args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
