#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a checkpoint's model.safetensors again as a PyTorch pytorch_model.bin.

  make_pytorch_bin.py SAFETENSORS OUTPUT_BIN

The repository keeps one copy of the tiny checkpoint's weights (internvl-tiny/model.safetensors);
the build writes the .bin twin with torch.save, the writer that produced the official .bin files
(a zip archive holding a pickled plain dict of tensor name to tensor), so the .bin loader is
tested on the real format. read_safetensors() needs PyTorch alone (no safetensors package, which
Debian's python3-torch lacks, and no numpy).
"""
import json
import os
import struct
import sys

import torch

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a safetensors file as {name: CPU tensor} (safetensors is little-endian, as
    are the machines we run on)."""
    with open(path, "rb") as f:
        data = f.read()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_size])
    body = memoryview(data)[8 + header_size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not know")
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=_DTYPES[info["dtype"]]) if end > begin \
            else torch.empty(0, dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    source, output = sys.argv[1], sys.argv[2]
    state = dict(sorted(read_safetensors(source).items()))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    temporary = output + ".tmp"
    torch.save(state, temporary)
    os.replace(temporary, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
