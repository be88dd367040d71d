#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the small torch.save (zip format) fixtures used by tests/model/common/torch_zip_test.cpp.

Run with Debian's python, which ships torch 1.13 (the `python3` on PATH may not have torch):

    /usr/bin/python3 tests/data/model/make_torch_bin_fixtures.py

Every value is arange-based so the C++ test computes its expectations without python; README.md
in this folder lists them. The output is deterministic (torch 1.13 writes fixed zip timestamps and
sequential storage keys), so re-running it must not change the committed files.
"""

import collections
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def mixed_state_dict():
    """One tensor per storage class plus the layouts the reader must honour."""
    shared = torch.arange(10, dtype=torch.float32)  # one storage, numel 10
    sd = collections.OrderedDict()
    sd["bf16"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).to(torch.bfloat16)
    sd["f16"] = torch.arange(4, dtype=torch.float16) * 0.5
    sd["f32"] = (torch.arange(12, dtype=torch.float32) * 0.25 - 1.0).reshape(3, 4)
    sd["f64"] = torch.arange(3, dtype=torch.float64) / 8.0
    sd["i64"] = torch.arange(5, dtype=torch.int64) * 3 - 7
    sd["i32"] = torch.arange(4, dtype=torch.int32) - 2
    sd["i16"] = torch.arange(3, dtype=torch.int16) * 1000
    sd["i8"] = torch.arange(4, dtype=torch.int8) - 1
    sd["u8"] = torch.arange(4, dtype=torch.uint8) * 60
    sd["bool"] = torch.arange(5) % 2 == 0
    sd["scalar"] = torch.tensor(2.5, dtype=torch.float32)
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    sd["shared.head"] = shared[2:6]
    sd["shared.tail"] = shared[4:10].view(2, 3)
    sd["param"] = torch.nn.Parameter(torch.arange(3, dtype=torch.float32) + 1.0)
    # Module.state_dict() attaches this attribute; pickling it emits a BUILD opcode.
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


def protocol4_state_dict():
    sd = collections.OrderedDict()
    sd["weight"] = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    sd["bias"] = torch.arange(3, dtype=torch.float32) - 1.0
    return sd


def sharded_state_dicts():
    """bf16 shards split the way transformers' save_pretrained does (plain key order)."""
    def bf16(n, shape, start):
        return (torch.arange(n, dtype=torch.float32) + start).reshape(shape).to(torch.bfloat16)

    shard1 = collections.OrderedDict()
    shard1["embed.weight"] = bf16(12, (4, 3), 0)
    shard1["layers.0.weight"] = bf16(9, (3, 3), 100)
    shard2 = collections.OrderedDict()
    shard2["layers.1.weight"] = bf16(9, (3, 3), 200)
    shard2["norm.weight"] = bf16(3, (3,), 1)
    return [shard1, shard2]


def write_sharded(folder):
    os.makedirs(folder, exist_ok=True)
    shards = sharded_state_dicts()
    weight_map = {}
    total_size = 0
    for i, sd in enumerate(shards, start=1):
        name = "pytorch_model-%05d-of-%05d.bin" % (i, len(shards))
        torch.save(sd, os.path.join(folder, name))
        for key, tensor in sd.items():
            weight_map[key] = name
            total_size += tensor.numel() * tensor.element_size()
    index = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def main():
    torch.save(mixed_state_dict(), os.path.join(HERE, "torch_mixed.bin"))
    torch.save(protocol4_state_dict(), os.path.join(HERE, "torch_protocol4.bin"), pickle_protocol=4)
    write_sharded(os.path.join(HERE, "torch_sharded_bf16"))


if __name__ == "__main__":
    main()
