# SPDX-License-Identifier: Apache-2.0
"""Load scenarios for run_chaos.py: internvl-streamd as a real process over half an hour, and
under half-open HTTP connections.

Scenarios:
  rss             8 realistic streams (4 RTSP cameras, 4 looping realtime files; classify on all,
                  captions on two, key frames only on some; JSON-lines and ZeroMQ with a reader)
                  for --rss-seconds after --rss-warmup-seconds: RSS sampled every
                  --rss-interval-seconds; the median of the last minute within --rss-tolerance
                  of the median of the first minute after warm-up
  half_open_http  --half-open-connections connections that send nothing or a partial request and
                  stay open, from one source address, from many (127.0.0.2...), and a slow-loris
                  that sends a byte every few seconds: /health/live from a fresh connection
                  answers within 1 s throughout, and normally after they go

Figures are printed as JSON lines starting with "figure " so a note can quote them.
"""
import http.client
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from e2e_common import Subscriber, check, log  # noqa: E402
from run_service_e2e import Http, RtspCamera, Service, base_config, make_video, wait_for  # noqa: E402


def figure(name, value):
    print("figure", json.dumps({"name": name, "value": value}), flush=True)


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


class CountingSubscriber(Subscriber):
    """A subscriber that keeps counts per (sensor, kind) rather than every message: it reads for
    the whole half hour."""

    def __init__(self, endpoint):
        self.counts = {}
        super().__init__(endpoint)

    def _receive(self):
        while self.running:
            try:
                _, body = self.socket.recv_multipart()
            except self.zmq.Again:
                continue
            message = json.loads(body)
            key = f"{message['sensor_id']}/{message['kind']}"
            with self.lock:
                self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


def rss_streams(work, camera_uri):
    """4 cameras (15 fps, 1 s GOP) and 4 realtime 10 s files (30 fps, 1 s GOP). Classify samples
    4 fps by default, so `decode_frames: auto` decodes every frame; at 1 fps (every second stream)
    it decodes key frames only. Captions on one camera and one file."""
    key_frames_only = {"classify": {"selection_fps": 1}, "caption": {"enabled": False}}
    no_caption = {"caption": {"enabled": False}}
    streams = []
    for n in range(1, 5):
        tasks = {} if n == 1 else (key_frames_only if n % 2 == 0 else no_caption)
        streams.append({"id": f"cam-{n}", "uri": camera_uri, "tasks": tasks})
    for n, pattern in enumerate(["ball", "smpte", "snow", "pinwheel"], 1):
        path = os.path.join(work, f"{pattern}.mp4")
        make_video(path, 300, pattern=pattern)
        tasks = {} if n == 1 else (key_frames_only if n % 2 == 0 else no_caption)
        streams.append({"id": f"file-{n}", "uri": path, "realtime": True, "restart_on_eos": True, "tasks": tasks})
    return streams


def scenario_rss(args, tiny, work):
    service_bin, camera_bin = args.service, args.rtsp_server
    camera = RtspCamera(camera_bin)  # a shared media: one encoder, four clients
    config = base_config(tiny, rss_streams(work, camera.uri), work)
    service = Service(service_bin, work, config).wait_ready()
    http = Http(service.http_port)
    sub = CountingSubscriber(service.zmq_endpoint)
    samples = []  # (seconds since ready, RSS KiB)
    try:
        total = args.rss_warmup_seconds + args.rss_seconds
        log(f"rss: 8 streams, warm-up {args.rss_warmup_seconds:.0f} s, measured {args.rss_seconds:.0f} s")
        started = time.monotonic()
        while time.monotonic() - started < total:
            time.sleep(args.rss_interval_seconds)
            check(service.proc.poll() is None, f"the service died:{service.tail()}")
            samples.append((round(time.monotonic() - started, 1), service.rss_kib()))
            if len(samples) % 30 == 0:
                log(f"rss {samples[-1][0]:.0f} s: {samples[-1][1] / 1024:.1f} MiB, {sum(sub.snapshot().values())} "
                    "messages")
        streams = http.streams()
        counts = sub.snapshot()
        check(service.stop() == 0, f"the service did not exit 0:{service.tail()}")
    finally:
        sub.close()
        camera.stop()
        if service.proc.poll() is None:
            service.proc.kill()
    warm = args.rss_warmup_seconds
    first = [rss for t, rss in samples if warm <= t < warm + 60]
    last = [rss for t, rss in samples if t >= total - 60]
    after = [rss for t, rss in samples if t >= warm]
    change = (median(last) - median(first)) / median(first)
    per_stream = {name: {"state": s["state"], "frames": s["frames"], "restarts": s["restarts"],
                         "decoding": s.get("decoding"), "last_error": s["last_error"],
                         "messages": {k.split("/")[1]: v for k, v in counts.items() if k.split("/")[0] == name}}
                  for name, s in sorted(streams.items())}
    print("rss_samples_kib", json.dumps(samples), flush=True)
    figure("rss_per_stream", per_stream)
    figure("rss_mib", {"after_warmup_median": round(median(first) / 1024, 1),
                       "end_median": round(median(last) / 1024, 1), "change_percent": round(100 * change, 2),
                       "peak_after_warmup": round(max(after) / 1024, 1),
                       "peak_overall": round(max(rss for _, rss in samples) / 1024, 1)})
    for name, s in per_stream.items():
        check(s["messages"].get("classification", 0) > 0, f"{name} published no classification: {s}")
    check(abs(change) <= args.rss_tolerance,
          f"RSS changed {100 * change:.1f} % from warm-up to the end, bound {100 * args.rss_tolerance:.0f} %")


class Attack:
    """Hostile clients holding `count` connections to the service's port from `sources` (spread
    round-robin), each sending `partial` (half of them: nothing) and, when `drip_seconds` is set,
    one more byte every that many seconds (a slow-loris). A connection the server closes is
    opened again, as an attacker would. Runs on its own thread until stop()."""

    def __init__(self, port, count, sources, partial=b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                 drip_seconds=None):
        self.port, self.count, self.sources = port, count, sources
        self.partial, self.drip_seconds = partial, drip_seconds
        self.sockets = [None] * count
        self.opened_at = [0.0] * count
        self.stats = {"connects": 0, "connect_errors": 0, "refused": 0, "closed_later": 0, "longest_held_s": 0.0}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        for i in range(self.count):
            self._open(i)
        self.thread.start()
        return self

    def _open(self, i):
        s = socket.socket()
        s.bind((self.sources[i % len(self.sources)], 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            if i % 2 or self.drip_seconds:
                s.sendall(self.partial)
        except OSError:
            s.close()
            self.stats["connect_errors"] += 1
            self.sockets[i] = None
            return
        s.setblocking(False)
        self.stats["connects"] += 1
        self.sockets[i], self.opened_at[i] = s, time.monotonic()

    def _closed(self, s):
        try:
            return s.recv(1024, socket.MSG_PEEK) == b""  # closed: a request never finished gets no answer
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        next_drip = time.monotonic() + (self.drip_seconds or 0)
        while self.running:
            time.sleep(0.5)
            now = time.monotonic()
            drip = self.drip_seconds and now >= next_drip
            if drip:
                next_drip = now + self.drip_seconds
            for i, s in enumerate(self.sockets):
                if not self.running:
                    break
                if s is not None and drip:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                if s is None or self._closed(s):
                    if s is not None:
                        held = now - self.opened_at[i]
                        self.stats["refused" if held < 1.5 else "closed_later"] += 1
                        s.close()
                    self._open(i)
                else:
                    self.stats["longest_held_s"] = max(self.stats["longest_held_s"], round(now - self.opened_at[i], 1))

    def stop(self):
        self.running = False
        self.thread.join(timeout=30)
        for s in self.sockets:
            if s is not None:
                s.close()
        return dict(self.stats)


def probe(port, timeout=5.0):
    """GET /health/live on a fresh connection from 127.0.0.1: (seconds, status or the error)."""
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", "/health/live")
        status = connection.getresponse().status
        connection.close()
    except OSError as error:
        return time.monotonic() - started, type(error).__name__
    return time.monotonic() - started, status


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_files_limit(pid):
    """The soft open-files limit the process runs with (after its own raise at start-up)."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def half_open_variant(args, service, name, sources, drip_seconds=None):
    """One attack for --half-open-seconds with probes every 0.2 s; its figures, and a failure
    message when a probe did not answer 200 within 1 s."""
    attack = Attack(service.http_port, args.half_open_connections, sources, drip_seconds=drip_seconds).start()
    latencies, failures, fds, rss = [], [], [], []
    started = time.monotonic()
    while time.monotonic() - started < args.half_open_seconds:
        seconds, status = probe(service.http_port)
        latencies.append(seconds)
        if status != 200 or seconds > 1.0:
            failures.append((round(time.monotonic() - started, 1), round(seconds, 3), status))
        fds.append(fd_count(service.proc.pid))
        rss.append(service.rss_kib())
        time.sleep(0.2)
    stats = attack.stop()
    result = {"variant": name, "connections": args.half_open_connections, "sources": len(sources),
              "drip_seconds": drip_seconds, "probes": len(latencies),
              "probe_ms": {"p50": round(1000 * percentile(latencies, 0.5), 1),
                           "p95": round(1000 * percentile(latencies, 0.95), 1),
                           "max": round(1000 * max(latencies), 1)},
              "probe_failures": len(failures), "first_failures": failures[:5], "attack": stats,
              "service_fds_max": max(fds), "service_rss_mib_max": round(max(rss) / 1024, 1)}
    figure("half_open_http", result)
    return None if not failures else f"{name}: {len(failures)} of {len(latencies)} probes failed, first {failures[:3]}"


def scenario_half_open_http(args, tiny, work):
    service_bin = args.service
    if args.half_open_fd_limit:  # a soft open-files limit as systemd gives services (1024)
        wrapper = os.path.join(work, "limited.sh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nulimit -Sn {args.half_open_fd_limit}\nexec "{service_bin}" "$@"\n')
        os.chmod(wrapper, 0o755)
        service_bin = wrapper
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    service = Service(service_bin, work, base_config(tiny, [], work)).wait_ready()
    http_api = Http(service.http_port)
    many = [f"127.0.0.{n}" for n in range(2, 202)]
    problems = []
    try:
        limit = open_files_limit(service.proc.pid)
        log(f"service up, {fd_count(service.proc.pid)} fds, open-files limit {limit} (started with "
            f"{args.half_open_fd_limit or 'the inherited limit'}); {args.half_open_connections} connections per attack")
        figure("half_open_http_service", {"open_files_limit": limit, "started_with": args.half_open_fd_limit})
        for name, sources, drip in [("one-address", ["127.0.0.2"], None), ("many-addresses", many, None),
                                    ("slow-loris", many, args.half_open_drip_seconds)]:
            problems.append(half_open_variant(args, service, name, sources, drip))
            # Afterwards the service serves normally: fresh probes and the REST API.
            wait_for(lambda: fd_count(service.proc.pid) < 64, 30, "the attack's connections to be closed")
            seconds, status = probe(service.http_port)
            check(status == 200 and seconds < 1.0, f"after {name}: /health/live {status} in {seconds:.3f} s")
            check(http_api.call("GET", "/api/v1/streams")[0] == 200, f"after {name}: GET /api/v1/streams failed")
        check(service.stop() == 0, f"the service did not exit 0:{service.tail()}")
    finally:
        if service.proc.poll() is None:
            service.proc.kill()
    problems = [p for p in problems if p]
    check(not problems, "; ".join(problems))


SCENARIOS = {"rss": scenario_rss, "half_open_http": scenario_half_open_http}


def add_arguments(parser):
    group = parser.add_argument_group("chaos_load")
    group.add_argument("--rss-seconds", type=float, default=1800, help="rss: measured time after warm-up")
    group.add_argument("--rss-warmup-seconds", type=float, default=300, help="rss: warm-up")
    group.add_argument("--rss-interval-seconds", type=float, default=10, help="rss: time between samples")
    group.add_argument("--rss-tolerance", type=float, default=0.05, help="rss: bound on the relative change")
    group.add_argument("--half-open-connections", type=int, default=1000, help="half_open_http: per attack")
    group.add_argument("--half-open-seconds", type=float, default=30, help="half_open_http: length of each attack")
    group.add_argument("--half-open-drip-seconds", type=float, default=3, help="half_open_http: slow-loris pace")
    group.add_argument("--half-open-fd-limit", type=int, default=1024,
                       help="half_open_http: the service's soft open-files limit (systemd's default; 0: inherit)")

