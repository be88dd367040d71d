#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/seed_*).

Seeds are small real inputs: files from tests/data, the golden messages of the unit tests, and
the hostile cases the unit tests refuse. Inputs the fuzzers found (crash-*, regression_*) are
added by hand next to them and kept. Regenerate with: /usr/bin/python3 tests/fuzz/make_corpus.py
(needs only the standard library). Files of tests/data that seed a target unchanged are not copied:
tests/fuzz/data_seeds.txt names them and run_fuzzers.sh adds them to each run.
"""
import json
import pathlib
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def seed(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / ("seed_" + name)).write_bytes(data)


def safetensors(header, payload=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + payload


def safetensors_seeds():
    two = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
           "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]},
           "__metadata__": {"format": "pt"}}
    seed("safetensors_fuzz", "two_tensors", safetensors(two, bytes(range(22))))
    seed("safetensors_fuzz", "scalar_and_empty", safetensors(
        {"s": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
         "e": {"dtype": "F16", "shape": [0, 4], "data_offsets": [8, 8]}}, bytes(8)))
    seed("safetensors_fuzz", "overlap", safetensors(
        {"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
         "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, bytes(6)))
    seed("safetensors_fuzz", "nested_shape", safetensors(
        {"a": {"dtype": "U8", "shape": [[[[[[[[[[1]]]]]]]]]], "data_offsets": [0, 1]}}, b"x"))
    seed("safetensors_fuzz", "huge_shape", safetensors(
        {"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}, bytes(4)))
    seed("safetensors_fuzz", "header_past_end", struct.pack("<Q", 1 << 40) + b"{}")



def shard_index_seeds():
    seed("shard_index_fuzz", "parent.json", '{"weight_map": {"a": "..", "b": "0"}}')
    seed("shard_index_fuzz", "not_string.json", '{"weight_map": {"a": 1}}')


def npy(descr, shape, payload, version=1):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr, "(%s)" % "".join("%d, " % d for d in shape) if shape else "()")
    prefix = 10 if version == 1 else 12
    header += " " * (-(prefix + len(header) + 1) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + payload


def npy_seeds():
    seed("npy_fuzz", "f4_2x3.npy", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
    seed("npy_fuzz", "i8_scalar.npy", npy("<i8", [], struct.pack("<q", 7)))
    seed("npy_fuzz", "u1_v2.npy", npy("|u1", [4], b"\x01\x02\x03\x04", version=2))
    seed("npy_fuzz", "b1_empty.npy", npy("|b1", [0, 5], b""))
    seed("npy_fuzz", "truncated.npy", npy("<f8", [1000], bytes(16)))


def png(width, height, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def image_seeds():
    folder = ROOT / "tests/data/model/pil_resize"
    seed("image_fuzz", "rgb_2x2.png", png(2, 2, [bytes(6), bytes([255] * 6)]))
    seed("image_fuzz", "grey_2x1.pgm", b"P5\n2 1\n255\n\x00\xff")
    seed("image_fuzz", "bgr_1x1.bmp", b"BM" + struct.pack("<IHHI", 58, 0, 0, 54)
         + struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, 4, 0, 0, 0, 0) + b"\x00\x80\xff\x00")
    # A JPEG whose header claims 65500 x 10900 pixels (issue 19): refused before decoding.
    jpeg = bytearray((folder / "photo_rocket_161x121_q90_420.jpg").read_bytes())
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 10900, 65500)
    seed("image_fuzz", "claims_65500x10900.jpg", bytes(jpeg))


def config_seeds():
    config = json.loads((ROOT / "tests/data/parity/internvl-tiny/config.json").read_text())
    config["vision_config"]["num_hidden_layers"] = 100000000
    seed("config_json_fuzz", "layers_1e8.json", json.dumps(config))


def endpoint_seeds():
    for i, text in enumerate(["bind:tcp://127.0.0.1:5555", "connect:tcp://host:5555",
                              "tcp://*:5555", "tcp://127.0.0.1:*", "tcp://[::1]:5555",
                              "ipc:///tmp/internvl.ipc", "bind:inproc://results",
                              "connect:tcp://127.0.0.1:0", "tcp://127.0.0.1:70000",
                              "ipc:///" + "x" * 120, "tcp://127.0.0.1:5555 "]):
        seed("zmq_endpoint_fuzz", "%02d" % i, text)


def result_json_seeds():
    common = ('"sensor_id":"cam01","source":"rtsp://10.0.0.5/stream1",'
              '"timestamp":"2026-11-28T20:01:00.123Z",')
    metrics = '"metrics":{"latency_seconds":0.042,"queue_seconds":0.003,"batch_size":8}}'
    model = '"model":{"name":"InternVL-14B-224px","mode":"InternVL-C"},'
    seed("result_json_fuzz", "classification.json",
         '{"version":"1.0","kind":"classification",' + common
         + '"segment":{"start_time":12.0,"end_time":13.4},"start_frame_id":360,'
         '"end_frame_id":402,' + model
         + '"classification":[{"label":"playing guitar","label_id":3,"confidence":0.91}],'
         '"caption":null,' + metrics)
    seed("result_json_fuzz", "event.json",
         '{"version":"1.1","kind":"event",' + common
         + '"segment":{"start_time":12.0,"end_time":12.5},"start_frame_id":360,'
         '"end_frame_id":375,' + model + '"classification":[],"caption":null,'
         '"event":{"id":"cam01-person-1","rule":"person","prompt":"a person at the door",'
         '"state":"start","start_time":12.0,"probability":0.84,"peak_probability":0.88,'
         '"start_frame_id":360,"frame_id":375,'
         '"snapshot_path":"/var/lib/internvl/snapshots/cam01-person-1.jpg"},' + metrics)
    seed("result_json_fuzz", "embedding.json",
         '{"version":"1.1","kind":"embedding",' + common
         + '"segment":{"start_time":12.0,"end_time":12.0},"start_frame_id":360,'
         '"end_frame_id":360,' + model + '"classification":[],"caption":null,'
         '"embedding":{"dim":4,"vector":[0.5,-0.5,0.5,-0.5]},' + metrics)


def service_seeds():
    seed("service_yaml_fuzz", "minimal.yaml",
         "model: {path: /models/m}\ntasks:\n  classify: {labels: [a cat, a dog]}\n"
         "streams:\n  - {id: cam01, uri: \"rtsp://10.0.0.5/s1\"}\n")
    seed("service_yaml_fuzz", "duplicate_key.yaml",
         "model: {path: /models/m}\nmodel: {path: /models/n}\n")
    seed("rest_stream_fuzz", "json.json", '{"id": "cam02", "uri": "rtsp://10.0.0.6/s1"}')
    seed("rest_stream_fuzz", "labels.json",
         '{"id": "cam03", "uri": "https://h/x.m3u8", "tasks": {"classify": '
         '{"labels": ["a person", "a car"], "top_k": 2}, "caption": {"selection_fps": 0.5}}}')
    seed("rest_stream_fuzz", "yaml.yaml", "id: cam04\nuri: rtsp://h/1\ndecode: auto\n")
    seed("rest_stream_fuzz", "file_uri.json", '{"id": "x", "uri": "file:///etc/passwd"}')
    seed("rest_stream_fuzz", "labels_file.json",
         '{"id": "x", "uri": "rtsp://h/1", "tasks": {"classify": '
         '{"labels_file": "/etc/passwd"}}}')


def rest_request(method, target, body="", mutation=True, host="127.0.0.1:8080"):
    """One request in rest_api_fuzz's text form, authorised as its harness expects."""
    head = f"{method} {target}\nHost: {host}\n"
    if mutation:
        head += "Content-Type: application/json\nAuthorization: Bearer fuzz-token\n"
    return head + "\n" + body


def rest_seeds():
    def requests(*texts):
        return "\n%%\n".join(texts)
    seed("rest_api_fuzz", "read_only", requests(
        rest_request("GET", "/api/v1/streams", mutation=False),
        rest_request("GET", "/api/v1/streams/cam", mutation=False),
        rest_request("GET", "/api/v1/streams/cam/alerts", mutation=False),
        rest_request("GET", "/health/live", mutation=False),
        rest_request("GET", "/health/ready", mutation=False),
        rest_request("GET", "/metrics", mutation=False),
        rest_request("GET", "/?q=a%20cat&k=3", mutation=False),
        rest_request("GET", "/api/v1/events?stream=cam&limit=5&since=0", mutation=False)))
    seed("rest_api_fuzz", "add_relabel_delete", requests(
        rest_request("POST", "/api/v1/streams", '{"id": "cam02", "uri": "rtsp://10.0.0.6/s1"}'),
        rest_request("PUT", "/api/v1/streams/cam02/labels", '{"labels": ["a person", "a car"]}'),
        rest_request("PUT", "/api/v1/streams/cam/alerts",
                     '{"alerts": [{"name": "person", "prompt": "a person", "threshold": 0.3}]}'),
        rest_request("DELETE", "/api/v1/streams/cam02"),
        rest_request("DELETE", "/api/v1/streams/cam")))
    seed("rest_api_fuzz", "alerts_yaml",
         rest_request("PUT", "/api/v1/streams/cam/alerts",
                      "- {name: car, prompt: a car, threshold: 0.25, min_duration_seconds: 2}\n")
         .replace("application/json", "application/yaml"))
    seed("rest_api_fuzz", "refused", requests(
        rest_request("POST", "/api/v1/streams", '{"id": "x", "uri": "file:///etc/passwd"}'),
        rest_request("POST", "/api/v1/streams", '{"id": "x", "uri": "rtsp://h/1"}', host="evil.example"),
        rest_request("POST", "/api/v1/streams", '{"id": "x", "uri": "rtsp://h/1"}', mutation=False),
        rest_request("GET", "/api/v1/events/../../etc/passwd/clip.mp4", mutation=False),
        rest_request("GET", "/api/v1/thumbnails/1.jpg", mutation=False),
        rest_request("PATCH", "/api/v1/streams/cam", "{}")))


if __name__ == "__main__":
    safetensors_seeds()
    shard_index_seeds()
    npy_seeds()
    image_seeds()
    config_seeds()
    endpoint_seeds()
    result_json_seeds()
    service_seeds()
    rest_seeds()
