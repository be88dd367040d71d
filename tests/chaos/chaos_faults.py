# SPDX-License-Identifier: Apache-2.0
"""Fault scenarios for run_chaos.py: an RTSP camera killed and restarted many times, the JSON-lines
disk filling up, slow and hostile ZeroMQ subscribers. Each scenario runs internvl-streamd with
the tiny checkpoint through the service harness of tests/integration and returns its figures."""
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from e2e_common import Subscriber, check, load_validator, log  # noqa: E402
from run_service_e2e import Http, RtspCamera, Service, base_config, make_video, sensors_in, wait_for  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(REPO, "sinks", "schema", "internvl-result-1.0.schema.json")
VALIDATOR = os.path.join(REPO, "tests", "sinks", "validate_messages.py")


def add_arguments(parser):
    group = parser.add_argument_group("chaos_faults")
    group.add_argument("--cycles", type=int, default=100, help="rtsp_restarts: kill/restart cycles")
    group.add_argument("--tmpfs-kib", type=int, default=1024, help="disk_full: size of the tmpfs")
    group.add_argument("--full-errors", type=int, default=20,
                       help="disk_full: write errors to see counted before space returns")
    group.add_argument("--hostile-connections", type=int, default=300,
                       help="zmq_subscribers: connect/disconnect cycles (raw TCP and ZeroMQ each)")
    group.add_argument("--slow-seconds", type=float, default=20,
                       help="zmq_subscribers: how long the good subscriber is watched once the slow one is full")
    group.add_argument("--idle-connections", type=int, default=200, help="zmq_subscribers: idle TCP connections")


def looping_file(work, name, pattern="ball"):
    path = os.path.join(work, f"{name}.mp4")
    make_video(path, 60, pattern=pattern)
    return {"id": name, "uri": path, "restart_on_eos": True, "realtime": True}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def read_jsonl(path, validator, line_errors):
    """(lines, problems): the whole lines of a JSON-lines file and what is wrong with it (a line
    that is not a schema-valid message, a last line without its newline, duplicated lines)."""
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if data and not data.endswith(b"\n"):
        problems.append(f"the file ends in a partial line: {data[-80:]!r}")
    lines = data.decode("utf-8", errors="replace").split("\n")[:-1]
    for number, line in enumerate(lines, 1):
        errors = line_errors(validator, line)
        if errors:
            problems.append(f"line {number} is not a valid message ({errors[0]}): {line[:120]!r}")
    duplicates = len(lines) - len(set(lines))
    if duplicates:
        problems.append(f"{duplicates} duplicated lines")
    return lines, problems


class ControlWatch:
    """Watches one stream's results arrive at a subscriber on a thread: their number and the
    longest time without any (sampled every 0.1 s)."""

    def __init__(self, sub, sensor):
        self.sub = sub
        self.sensor = sensor
        self.total = 0
        self.gap = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self):
        self.thread.start()

    def _watch(self):
        seen = self.sub.count()
        last = time.monotonic()
        while not self.stopping.wait(0.1):
            new = self.sub.since(seen)
            seen += len(new)
            now = time.monotonic()
            arrived = sum(json.loads(body)["sensor_id"] == self.sensor for _, body in new)
            if arrived:
                self.total += arrived
                last = now
            self.gap = max(self.gap, now - last)

    def longest_gap(self):
        return self.gap

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()


def scenario_rtsp_restarts(args, tiny, work):
    """N cycles: kill the camera, see its stream go down, restart the camera on the same port and
    wait for its results over ZeroMQ, while a looping file stream goes on as a control."""
    camera = RtspCamera(args.rtsp_server)
    streams = [{"id": "cam", "uri": camera.uri}, looping_file(work, "control")]
    config = base_config(tiny, streams, work)
    config["supervision"].update({"backoff_initial_seconds": 0.2, "backoff_max_seconds": 1})
    config["outputs"].pop("jsonl")  # not what is measured; a file growing for many minutes
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    sub = Subscriber(service.zmq_endpoint)
    pid = service.proc.pid
    down_times, recover_times = [], []
    control = ControlWatch(sub, "control")
    try:
        mark = sub.count()
        wait_for(lambda: {"cam", "control"} <= sensors_in(sub.since(mark)), 120, "results from cam and control")
        rss_before = service.rss_kib()
        control.start()
        for cycle in range(1, args.cycles + 1):
            restarts = http.streams()["cam"]["restarts"]
            camera.kill()
            killed = time.monotonic()
            wait_for(lambda: (lambda s: s["state"] != "running" or s["restarts"] > restarts)(http.streams()["cam"]),
                     60, f"cycle {cycle}: cam to go down after the camera was killed", interval=0.05)
            down_times.append(time.monotonic() - killed)
            camera.restart()
            back = time.monotonic()
            mark = sub.count()
            wait_for(lambda: "cam" in sensors_in(sub.since(mark)), 120,
                     f"cycle {cycle}: results from cam after the camera came back", interval=0.05)
            recover_times.append(time.monotonic() - back)
            check(service.proc.poll() is None and service.proc.pid == pid,
                  f"cycle {cycle}: the service died:{service.tail()}")
            check(control.longest_gap() < 10, f"cycle {cycle}: no results from the control stream for "
                  f"{control.longest_gap():.1f} s")
            if cycle % 10 == 0:
                log(f"cycle {cycle}: down after {down_times[-1]:.2f} s, recovered {recover_times[-1]:.2f} s "
                    f"after the restart, RSS {mib(service.rss_kib())}")
        rss_after = service.rss_kib()
        status = http.streams()
        metric = http.metric("internvl_stream_restarts_total", stream="cam")
        figures = (f"recoveries {len(recover_times)}/{args.cycles}, crashes 0 (pid {pid} throughout); "
                   f"recovery after the camera's restart p50 {percentile(recover_times, 0.5):.2f} s, "
                   f"p95 {percentile(recover_times, 0.95):.2f} s, max {max(recover_times):.2f} s; "
                   f"down seen after the kill p50 {percentile(down_times, 0.5):.2f} s, max {max(down_times):.2f} s; "
                   f"control stream {control.total} results, longest gap {control.longest_gap():.2f} s, restarts "
                   f"{status['control']['restarts']} (end of file loops); cam restarts {status['cam']['restarts']} "
                   f"(internvl_stream_restarts_total {metric:.0f}); RSS before {mib(rss_before)}, "
                   f"after {mib(rss_after)}")
        code = service.stop()
        check(code == 0, f"exit status {code} after SIGTERM:{service.tail()}")
        return figures
    finally:
        control.stop()
        sub.close()
        camera.stop()
        if service.proc.poll() is None:
            service.proc.kill()


def fill(path):
    """Writes `path` until the file system is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block)
                except OSError:
                    break
    return written


def scenario_disk_full(args, tiny, work):
    """JSON-lines output on a small tmpfs that a filler file fills up, then frees."""
    check(os.geteuid() == 0, "disk_full mounts a tmpfs and needs root")
    validator, line_errors = load_validator(VALIDATOR, SCHEMA)
    mount = os.path.join(work, "tmpfs")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_kib}k", "tmpfs", mount], check=True)
    service = sub = None
    try:
        streams = [looping_file(work, "a"), looping_file(work, "b", "smpte")]
        config = base_config(tiny, streams, work)
        results = os.path.join(mount, "results.jsonl")
        config["outputs"]["jsonl"]["path"] = results
        service = Service(args.service, work, config).wait_ready()
        http = Http(service.http_port)
        sub = Subscriber(service.zmq_endpoint)
        jsonl_errors = lambda: http.metric("internvl_publish_errors_total", sink="jsonl") or 0  # noqa: E731
        jsonl_taken = lambda: http.metric("internvl_messages_published_total", sink="jsonl") or 0  # noqa: E731
        wait_for(lambda: sub.count() >= 20 and {"a", "b"} <= sensors_in(sub.since(0)), 120,
                 "results over ZeroMQ before the disk fills")
        filler = os.path.join(mount, "filler")
        filled = fill(filler)
        full_since = time.monotonic()
        zmq_mark = sub.count()
        log(f"tmpfs full: {filled} bytes of filler, results.jsonl {os.path.getsize(results)} bytes")
        errors = wait_for(lambda: (lambda e: e if e >= args.full_errors else None)(jsonl_errors()), 180,
                          f"{args.full_errors} JSON-lines write errors to be counted")
        check(service.proc.poll() is None, f"the service died on a full disk:{service.tail()}")
        published_while_full = sub.count() - zmq_mark
        check({"a", "b"} <= sensors_in(sub.since(zmq_mark)), "ZeroMQ publishing stopped while the disk was full")
        size_full = os.path.getsize(results)
        taken_before = jsonl_taken()
        os.remove(filler)
        freed = time.monotonic()
        wait_for(lambda: jsonl_taken() > taken_before, 60, "JSON-lines writes to resume once space returned",
                 interval=0.05)
        resumed = time.monotonic() - freed
        errors = jsonl_errors()
        full_seconds = freed - full_since
        log(f"space back after {full_seconds:.1f} s full: writes resumed after {resumed:.2f} s")
        wait_for(lambda: os.path.getsize(results) > size_full + 2000, 60, "results.jsonl to grow again")
        code = service.stop()
        check(code == 0, f"exit status {code} after SIGTERM:{service.tail()}")
        logged = [line for line in service.log_text().splitlines()
                  if "JSON-lines file" in line and ("cannot write" in line or "writing again" in line)]
        lines, problems = read_jsonl(results, validator, line_errors)
        received = [body for _, body in sub.since(0)]
        lost = len(set(received) - set(lines))
        said = " | ".join(line.split("**: ", 1)[-1][:140] for line in logged)
        figures = (f"write errors counted {errors:.0f} (internvl_publish_errors_total{{sink=\"jsonl\"}}), "
                   f"lines lost {lost} (published over ZeroMQ, not in the file), {published_while_full} published "
                   f"over ZeroMQ during {full_seconds:.1f} s full, writes resumed {resumed:.2f} s after space "
                   f"returned, file {len(lines)} lines, {'valid' if not problems else 'INVALID'}; log lines about it: "
                   f"{len(logged)}{f' ({said})' if logged else ''}")
        check(not problems, f"results.jsonl is corrupt: {'; '.join(problems[:5])}; {figures}")
        check(lost == errors, f"the write errors counted are not the lines lost: {figures}")
        return figures
    finally:
        if sub:
            sub.close()
        if service and service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()
        subprocess.run(["umount", mount], check=False)


def zmtp_greeting():
    """A ZMTP 3.0 greeting (NULL mechanism) and the READY command of a SUB socket."""
    greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31
    ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    return greeting + bytes([0x04, len(ready)]) + ready


def closed_by_peer(conn, timeout):
    """True when the peer closes (or resets) `conn` within `timeout` s. What it sends meanwhile
    is read and dropped: ZeroMQ takes a peer whose first bytes are no ZMTP 3 greeting for a
    ZMTP 1.0 subscriber, and publishes everything to it."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            if not conn.recv(65536):
                return True
        return False
    except ConnectionResetError:
        return True
    except OSError:
        return False


class Hostile:
    """The hostile peer: garbage, oversized subscriptions, connect/disconnect cycles and idle
    connections against a ZeroMQ TCP endpoint; counts what the publisher did about each."""

    def __init__(self, endpoint, cycles, idle):
        host, port = endpoint.rsplit("/", 1)[1].rsplit(":", 1)
        self.address = (host, int(port))
        self.cycles = cycles
        self.idle_count = idle
        self.idle = []
        self.idle_since = time.monotonic()
        self.figures = {}

    def connect(self):
        return socket.create_connection(self.address, timeout=10)

    def garbage(self):
        rng = random.Random(19)
        closed = 0
        for _ in range(20):
            with self.connect() as conn:
                try:
                    conn.sendall(bytes(rng.randrange(256) for _ in range(4096)))
                except OSError:
                    pass  # already dropped by the publisher
                closed += closed_by_peer(conn, 1)
        self.figures["garbage connections closed by the publisher within 1 s"] = f"{closed}/20"

    def oversized_subscriptions(self):
        closed = 0
        # A frame claiming 1 TiB, and one really sending 64 KiB (the limit is 4 KiB).
        for frame in (b"\x02" + struct.pack(">Q", 1 << 40) + b"\x01",
                      b"\x02" + struct.pack(">Q", 65537) + b"\x01" + b"t" * 65536):
            for _ in range(10):
                with self.connect() as conn:
                    try:
                        conn.sendall(zmtp_greeting() + frame)
                    except OSError:
                        pass
                    closed += closed_by_peer(conn, 5)
        self.figures["oversized subscriptions disconnected within 5 s"] = f"{closed}/20"

    def churn(self, zmq):
        context = zmq.Context()
        for i in range(self.cycles):
            self.connect().close()
            sock = context.socket(zmq.SUB)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(f"tcp://{self.address[0]}:{self.address[1]}")
            if i % 10 == 0:
                time.sleep(0.05)  # some of them complete the handshake and get messages
            sock.close(linger=0)
        context.term()
        self.figures["connect/disconnect cycles"] = f"{self.cycles} raw + {self.cycles} ZeroMQ"

    def count_idle_open(self):
        """How many idle connections the publisher has not closed; what it sent (its greeting)
        is read and dropped."""
        still_open = 0
        for conn in self.idle:
            conn.setblocking(False)
            try:
                while conn.recv(65536):
                    pass
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        self.figures["idle connections"] = (f"{len(self.idle)}, {still_open} still open "
                                            f"{time.monotonic() - self.idle_since:.0f} s later")

    def open_idle(self):
        for _ in range(self.idle_count):
            self.idle.append(self.connect())
        self.idle_since = time.monotonic()

    def close_idle(self):
        for conn in self.idle:
            conn.close()
        self.idle = []


def slow_subscriber(zmq, endpoint):
    """A SUB socket that subscribes to everything and never reads, with the smallest queue and
    kernel buffer, so its backlog reaches the publisher at once."""
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 1)
    sock.setsockopt(zmq.RCVBUF, 4096)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return context, sock


class SendQueue:
    """The largest Send-Q of the service's connections from `port` (ss), and whether it stopped
    growing: unchanged and not empty for five samples in a row."""

    def __init__(self):
        self.history = []

    def __call__(self, port):
        out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        self.history.append(max([int(line.split()[1]) for line in out.splitlines()] or [0]))
        last = self.history[-5:]
        return last[0] if len(last) == 5 and last[0] > 0 and len(set(last)) == 1 else None


def scenario_zmq_subscribers(args, tiny, work):
    """A slow and a hostile subscriber while three streams publish; a well-behaved subscriber must
    get every result the JSON-lines file got, RSS stays bounded, SIGTERM stops the service."""
    import zmq
    validator, line_errors = load_validator(VALIDATOR, SCHEMA)
    names = ["s1", "s2", "s3"]
    streams = [looping_file(work, name, pattern) for name, pattern in zip(names, ["ball", "smpte", "snow"])]
    config = base_config(tiny, streams, work)
    # A small queue per subscriber, so that the slow one is full within seconds, not minutes.
    config["outputs"]["zmq"]["send_hwm"] = 50
    service = Service(args.service, work, config).wait_ready()
    http = Http(service.http_port)
    good = Subscriber(service.zmq_endpoint)
    slow = None
    hostile = Hostile(service.zmq_endpoint, args.hostile_connections, args.idle_connections)
    rss = {}
    try:
        wait_for(lambda: set(names) <= sensors_in(good.since(0)), 120, "results of every stream")
        rss["before"] = service.rss_kib()
        slow = slow_subscriber(zmq, service.zmq_endpoint)
        # The slow subscriber's backlog fills the kernel's send buffer of its connection (seen
        # as the service's Send-Q) and then its ZeroMQ queue; the good one must still get every
        # stream's results all along, and after that for --slow-seconds.
        port = hostile.address[1]
        send_queue_full = SendQueue()
        full = wait_for(lambda: send_queue_full(port), 600, "the slow subscriber's send queue to fill", interval=1)
        log(f"the slow subscriber's send queue is full ({full} bytes)")
        ends = time.monotonic() + args.slow_seconds
        while time.monotonic() < ends:
            mark = good.count()
            wait_for(lambda: set(names) <= sensors_in(good.since(mark)), 15,
                     "every stream's results at the good subscriber while a slow one never reads")
            time.sleep(1)
        log(f"slow subscriber for {args.slow_seconds:.0f} s: the good one has {good.count()} results, "
            f"{http.metric('internvl_publish_errors_total', sink='zmq') or 0:.0f} ZeroMQ sends refused")
        hostile.open_idle()
        peak = [service.rss_kib()]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.5):
                peak.append(service.rss_kib() or 0)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        mark = good.count()
        hostile.garbage()
        hostile.oversized_subscriptions()
        hostile.churn(zmq)
        log(f"hostile peer done: {', '.join(f'{k} {v}' for k, v in hostile.figures.items())}")
        sampling.set()
        sampler.join()
        rss["during"] = max(peak)
        check(service.proc.poll() is None, f"the service died under the hostile peer:{service.tail()}")
        wait_for(lambda: set(names) <= sensors_in(good.since(mark)), 30,
                 "every stream's results at the good subscriber during the hostile peer's attack")
        check(http.call("GET", "/health/live")[0] == 200, "/health/live fails after the hostile peer")
        time.sleep(5)
        rss["after"] = service.rss_kib()
        hostile.count_idle_open()
        # SIGTERM with the slow subscriber and the idle connections still there.
        wait_for(lambda: all(s["state"] == "running" for s in http.streams().values()), 60,
                 "every stream to be running before the shutdown")
        before = good.count()
        wait_for(lambda: good.count() > before, 30, "a fresh result before the shutdown", interval=0.02)
        stopping = time.monotonic()
        code = service.stop(timeout=30)
        stop_seconds = time.monotonic() - stopping
        hostile.close_idle()
        check(code == 0, f"exit status {code} after SIGTERM:{service.tail()}")
        time.sleep(0.5)
        lines, problems = read_jsonl(os.path.join(work, "results.jsonl"), validator, line_errors)
        check(not problems, f"results.jsonl: {'; '.join(problems[:5])}")
        received = [body for _, body in good.since(0)]
        first = min(json.loads(body)["timestamp"] for body in received)
        missed = [line for line in set(lines) - set(received) if json.loads(line)["timestamp"] > first]
        sent = service.find(r"ZeroMQ: (\d+ messages published, \d+ dropped)")
        details = ", ".join(f"{k} {v}" for k, v in hostile.figures.items())
        figures = (f"good subscriber {len(received)} results, file {len(lines)} lines, missed after it joined "
                   f"{len(missed)}; service says '{sent}'; {details}; RSS before {mib(rss['before'])}, during "
                   f"{mib(rss['during'])} (peak), after {mib(rss['after'])}; SIGTERM to exit {stop_seconds:.2f} s")
        check(not missed, f"{len(missed)} results in the file never reached the good subscriber: {figures}")
        check(rss["during"] - rss["before"] < 64 * 1024, f"RSS grew by more than 64 MiB: {figures}")
        check(stop_seconds < 15, f"SIGTERM took {stop_seconds:.1f} s: {figures}")
        return figures
    finally:
        good.close()
        hostile.close_idle()
        if slow:
            slow[1].close(linger=0)
            slow[0].term()
        if service.proc.poll() is None:
            service.proc.kill()


SCENARIOS = {"rtsp_restarts": scenario_rtsp_restarts, "disk_full": scenario_disk_full,
             "zmq_subscribers": scenario_zmq_subscribers}
