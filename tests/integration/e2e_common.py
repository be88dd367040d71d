# SPDX-License-Identifier: Apache-2.0
"""What the end-to-end scripts (run_pipeline_e2e.py, run_service_e2e.py, run_semantic_e2e.py)
share: the failure type, finding the tiny checkpoint the way the C++ tests do, the JSON Schema
validator, a ZeroMQ subscriber, and running one scenario in its own work folder."""
import os
import shutil
import sys
import threading
import time

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests


class Failure(Exception):
    pass


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def zmq_missing():
    """True (after saying so) when python3-zmq cannot be imported: the caller skips."""
    try:
        import zmq  # noqa: F401
    except ImportError:
        print("SKIPPED: python3-zmq is not installed (deploy/install-deps.sh installs it)")
        return True
    return False


def run_scenario(name, run, work_root):
    """Runs run(work) in a fresh folder work_root/name and says PASSED or FAILED with the reason;
    returns the exit status (0 or 1)."""
    work = os.path.join(work_root, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.monotonic()
    try:
        run(work)
    except Failure as failure:
        print(f"FAILED ({name}): {failure}")
        return 1
    log(f"PASSED ({name}) in {time.monotonic() - started:.1f} s")
    return 0


def check(condition, message):
    if not condition:
        raise Failure(message)


def checkpoint_dir(path):
    """The checkpoint folder as an absolute path; a missing one is a broken checkout (the test data
    is part of the repository), so it fails the test with the path rather than skipping it."""
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise SystemExit(f"FAILED: no checkpoint at {path} (config.json missing): the tiny checkpoint is part of "
                         "the repository (tests/data/parity/internvl-tiny); check out the whole tree")
    return os.path.abspath(path)


def load_validator(validator_script, schema):
    sys.path.insert(0, os.path.dirname(os.path.abspath(validator_script)))
    import validate_messages  # exits 77 itself when python3-jsonschema is missing
    return validate_messages.load_validator(schema), validate_messages.line_errors


class Subscriber:
    """A ZeroMQ SUB socket collecting (topic, body) strings on a thread. It connects to `endpoint`,
    or without one binds a free loopback port (`self.port`) for a publisher to connect to."""

    def __init__(self, endpoint=None):
        import zmq
        self.zmq = zmq
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.setsockopt(zmq.RCVTIMEO, 200)
        if endpoint:
            self.socket.connect(endpoint)
            self.port = None
        else:
            self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while self.running:
            try:
                topic, body = self.socket.recv_multipart()
            except self.zmq.Again:
                continue
            with self.lock:
                self.messages.append((topic.decode(), body.decode()))

    def since(self, start):
        with self.lock:
            return list(self.messages[start:])

    def count(self):
        with self.lock:
            return len(self.messages)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.socket.close(linger=0)
        self.context.term()
