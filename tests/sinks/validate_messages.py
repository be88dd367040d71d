#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validates InternVL Stream result messages (JSON lines) against the JSON Schema.

Usage: validate_messages.py --schema SCHEMA [--expect-invalid] [FILE ...]   (no FILE or -: stdin)
       validate_messages.py --schema SCHEMA --subscribe tcp://HOST:PORT [--count N] [--timeout S]
The second form checks a live publisher (internvlpublish, internvl-streamd): it subscribes to
every topic, validates N two-frame messages and checks each topic is "<prefix><kind>/<sensor_id>".

Exit status: 0 when every line is valid (with --expect-invalid: when every line is invalid,
which proves the schema rejects what it should); 1 otherwise, listing the offending lines;
2 on usage or I/O errors; 77 when python3-jsonschema is missing (CTest's SKIP_RETURN_CODE).
Run with Debian's /usr/bin/python3 (apt-get install python3-jsonschema), not a virtualenv.
"""
import argparse
import json
import sys

try:
    import jsonschema
except ImportError:
    print("validate_messages: python3-jsonschema is not installed "
          "(apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(77)


def load_validator(path):
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)  # a broken schema must not make every message look valid
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def line_errors(validator, line):
    """Reasons why one line is not a valid message; empty when it is valid."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    return [f"{'/'.join(str(p) for p in err.absolute_path) or '<message>'}: {err.message}"
            for err in sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))]


def subscribe_lines(endpoint, count, timeout_seconds):
    """(label, payload) for `count` messages from a PUB endpoint; failures for bad envelopes."""
    import zmq  # only this mode needs python3-zmq
    context = zmq.Context.instance()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, int(timeout_seconds * 1000))
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(endpoint)
    messages, failures = [], []
    try:
        for number in range(1, count + 1):
            frames = socket.recv_multipart()
            label = f"{endpoint}#{number}"
            if len(frames) != 2:
                failures.append(f"{label}: {len(frames)} frames, expected topic + payload")
                continue
            topic, payload = frames[0].decode("utf-8", "replace"), frames[1].decode("utf-8", "replace")
            try:
                body = json.loads(payload)
                suffix = f"{body['kind']}/{body['sensor_id']}"
                if not topic.endswith(suffix):
                    failures.append(f"{label}: topic {topic!r} does not end with {suffix!r}")
            except (ValueError, KeyError, TypeError):
                pass  # the schema check reports it
            messages.append((label, payload))
    except zmq.Again:
        failures.append(f"{endpoint}: no message within {timeout_seconds} s "
                        f"({len(messages)} of {count} received)")
    finally:
        socket.close()
    return messages, failures


def read_lines(files):
    """(label, line) for every line of the files; None after reporting an unreadable file."""
    labelled = []
    for name in files:
        try:
            stream = sys.stdin if name == "-" else open(name, encoding="utf-8", errors="strict")
            lines = stream.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            print(f"validate_messages: cannot read {name}: {e}", file=sys.stderr)
            return None, []
        labelled.extend((f"{name}:{number}", line) for number, line in enumerate(lines, start=1))
    return labelled, []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--expect-invalid", action="store_true",
                        help="succeed only when every line is rejected")
    parser.add_argument("--subscribe", metavar="ENDPOINT",
                        help="validate messages from a live ZeroMQ publisher instead of files")
    parser.add_argument("--count", type=int, default=10, help="messages to check with --subscribe")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for each message with --subscribe")
    parser.add_argument("files", nargs="*", default=["-"])
    args = parser.parse_args()
    try:
        validator = load_validator(args.schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"validate_messages: cannot load schema {args.schema}: {e}", file=sys.stderr)
        return 2

    if args.subscribe:
        labelled, failures = subscribe_lines(args.subscribe, args.count, args.timeout)
    else:
        labelled, failures = read_lines(args.files)
        if labelled is None:
            return 2
    checked = 0
    bad_lines = 0
    for label, line in labelled:
        if not line.strip():
            continue
        checked += 1
        errors = line_errors(validator, line)
        if args.expect_invalid:
            if not errors:
                bad_lines += 1
                failures.append(f"{label}: accepted but expected invalid: {line}")
            else:
                print(f"{label}: rejected as expected: {errors[0]}")
        elif errors:
            bad_lines += 1
            failures.extend(f"{label}: {e}" for e in errors)

    if checked == 0:
        print("validate_messages: no messages to check", file=sys.stderr)
        return 1
    for failure in failures:
        print(failure, file=sys.stderr)
    verdict = "accepted" if args.expect_invalid else "invalid"
    print(f"validate_messages: {checked} messages, {bad_lines} {verdict}, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
