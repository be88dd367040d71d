#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A plain PyTorch eager implementation of InternVL's image paths (InternVL-C and InternVL-G), for
benchmarking only: the baseline the device run (tests/bench/gpu/run.sh, issue 6) times our C++
engine against. It is written from the model's description (model/README.md) in the style of the official
Hugging Face code (one module call per op, softmax attention, no fusion, no caches) and is not
used by the product.

  eager_internvl.py check TINY_CHECKPOINT_DIR
      runs the official-format tiny checkpoint (tests/data/parity/internvl-tiny: model.safetensors)
      on its pixel_values.npy and compares the InternViT hidden states, the QLLaMA query states and
      the C and G image embeddings with the official code's outputs (expected.json, *.npy):
      relative L2 error must stay under 1e-4 in fp32, else exit 1.
  eager_internvl.py bench [--preset full|tiny] [--device cuda] [--dtype bf16] [--tasks c,g]
                          [--batch 1,8,64,256] [--attention eager|sdpa] [--seconds 3]
      random weights in the chosen shapes; prints one JSON object with images/s per task and batch.

Needs python3-torch (Debian's 1.13 here; PyTorch 2.x on the device, where --attention sdpa exists).
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIPPED: no PyTorch for this python3 (Debian: python3-torch, deploy/install-deps.sh installs it)")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "parity"))
from make_pytorch_bin import read_safetensors  # noqa: E402  (PyTorch alone: no safetensors package needed)

FULL = {  # InternVL-14B-224px
    "vision_hidden": 3200, "vision_heads": 25, "vision_layers": 48, "vision_intermediate": 12800,
    "qllama_hidden": 4096, "qllama_heads": 32, "qllama_layers": 32, "qllama_intermediate": 11008,
    "num_query_token": 96, "clip_embed_dim": 768, "attn_pool_num_heads": 16, "image_size": 224,
    "patch_size": 14, "cross_attention_frequency": 2, "qkv_bias": False,
}
TINY = dict(FULL, vision_hidden=64, vision_heads=4, vision_layers=2, vision_intermediate=128, qllama_hidden=24,
            qllama_heads=4, qllama_layers=2, qllama_intermediate=128, clip_embed_dim=48, attn_pool_num_heads=8)
VISION_EPS = 1e-6   # InternViT RMSNorm
QLLAMA_EPS = 1e-6   # QLLaMA RMSNorm
POOL_EPS = 1e-5     # LayerNorm of the attention pools
ROPE_THETA = 10000.0


def rms_norm(x, weight, eps):
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def split_heads(x, heads):
    b, t, c = x.shape
    return x.view(b, t, heads, c // heads).transpose(1, 2)


def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class Model:
    def __init__(self, sizes, weights, attention="eager"):
        self.s = sizes
        self.w = weights
        self.attention_kind = attention

    def attention(self, q, k, v):
        if self.attention_kind == "sdpa":
            return F.scaled_dot_product_attention(q, k, v)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        return torch.matmul(torch.softmax(scores.float(), dim=-1).to(v.dtype), v)

    # InternViT
    def vision(self, pixel_values):
        w, s = self.w, self.s
        p = "vision_model.embeddings."
        x = F.conv2d(pixel_values, w[p + "patch_embedding.weight"], w[p + "patch_embedding.bias"],
                     stride=s["patch_size"])
        x = x.flatten(2).transpose(1, 2)
        cls = w[p + "class_embedding"].expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + w[p + "position_embedding"]
        for i in range(s["vision_layers"]):
            x = self.vision_layer(x, f"vision_model.encoder.layers.{i}.")
        return x

    def vision_layer(self, x, p):
        w, heads = self.w, self.s["vision_heads"]
        h = rms_norm(x, w[p + "norm1.weight"], VISION_EPS)
        q, k, v = F.linear(h, w[p + "attn.qkv.weight"], w.get(p + "attn.qkv.bias")).chunk(3, dim=-1)
        q = rms_norm(q, w[p + "attn.q_norm.weight"], VISION_EPS)
        k = rms_norm(k, w[p + "attn.k_norm.weight"], VISION_EPS)
        a = merge_heads(self.attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)))
        x = x + F.linear(a, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"]) * w[p + "ls1"]
        h = rms_norm(x, w[p + "norm2.weight"], VISION_EPS)
        h = F.linear(F.gelu(F.linear(h, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"])), w[p + "mlp.fc2.weight"],
                     w[p + "mlp.fc2.bias"])
        return x + h * w[p + "ls2"]

    # clip_projector / clip_projector2: attention pooling with the token mean as the query
    def pool(self, x, p):
        w = self.w
        width = x.shape[-1]
        query = x.mean(1, keepdim=True)
        norm = lambda t, n: F.layer_norm(t.float(), (width,), w[p + n + ".weight"].float(),  # noqa: E731
                                         w[p + n + ".bias"].float(), POOL_EPS).to(t.dtype)
        c = p + "cross_attn."
        q = F.linear(norm(query, "norm1_q"), w[c + "q.weight"], w[c + "q_bias"])
        k = F.linear(norm(x, "norm1_k"), w[c + "k.weight"], w[c + "k_bias"])
        v = F.linear(norm(x, "norm1_v"), w[c + "v.weight"], w[c + "v_bias"])
        heads = self.s["attn_pool_num_heads"]
        a = merge_heads(self.attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)))
        return F.linear(a, w[c + "proj.weight"], w[c + "proj.bias"]).squeeze(1)

    # QLLaMA over the learned queries, cross-attending to the image every other layer
    def query_hidden(self, vision):
        w, s = self.w, self.s
        b = vision.shape[0]
        heads, hidden = s["qllama_heads"], s["qllama_hidden"]
        h = w["query_tokens"].expand(b, -1, -1)
        n = h.shape[1]
        d = hidden // heads
        inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, d, 2, device=h.device).float() / d))
        freqs = torch.outer(torch.arange(n, device=h.device).float(), inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(h.dtype), emb.sin().to(h.dtype)

        def rope(t):
            half = t.shape[-1] // 2
            return t * cos + torch.cat([-t[..., half:], t[..., :half]], dim=-1) * sin

        for i in range(s["qllama_layers"]):
            p = f"qllama.model.layers.{i}."
            x = rms_norm(h, w[p + "input_layernorm.weight"], QLLAMA_EPS)
            q = rope(split_heads(F.linear(x, w[p + "self_attn.q_proj.weight"]), heads))
            k = rope(split_heads(F.linear(x, w[p + "self_attn.k_proj.weight"]), heads))
            v = split_heads(F.linear(x, w[p + "self_attn.v_proj.weight"]), heads)
            h = h + F.linear(merge_heads(self.attention(q, k, v)), w[p + "self_attn.o_proj.weight"])
            if i % s["cross_attention_frequency"] == 0:
                c = p + "cross_attn."
                q = split_heads(F.linear(rms_norm(h, w[c + "norm1.weight"], QLLAMA_EPS), w[c + "q_proj.weight"]), heads)
                vn = rms_norm(vision, w[c + "norm2.weight"], QLLAMA_EPS)
                k = split_heads(F.linear(vn, w[c + "k_proj.weight"]), heads)
                v = split_heads(F.linear(vn, w[c + "v_proj.weight"]), heads)
                h = h + F.linear(merge_heads(self.attention(q, k, v)), w[c + "o_proj.weight"])
            x = rms_norm(h, w[p + "post_attention_layernorm.weight"], QLLAMA_EPS)
            m = p + "mlp."
            h = h + F.linear(F.silu(F.linear(x, w[m + "gate_proj.weight"])) * F.linear(x, w[m + "up_proj.weight"]),
                             w[m + "down_proj.weight"])
        return rms_norm(h, w["qllama.model.norm.weight"], QLLAMA_EPS)

    def encode_image(self, pixel_values, mode):
        vision = self.vision(pixel_values)
        backbone = self.pool(vision, "clip_projector.").float()
        if mode == "c":
            return backbone
        queries = self.pool(self.query_hidden(vision), "clip_projector2.").float()
        return F.normalize(backbone, dim=-1) + F.normalize(queries, dim=-1)


def random_weights(s, device, dtype):
    """Weights of the image paths in the checkpoint's names, small random values (speed only)."""
    g = torch.Generator(device=device).manual_seed(0)  # made where they live: 14B values on a CPU take minutes
    w = {}

    def add(name, *shape, scale=0.02, const=None):
        if const is not None:
            w[name] = torch.full(shape, const, device=device, dtype=dtype)
        else:
            w[name] = torch.randn(*shape, generator=g, device=device, dtype=dtype) * scale

    c, ci, hq, hi = s["vision_hidden"], s["vision_intermediate"], s["qllama_hidden"], s["qllama_intermediate"]
    grid = s["image_size"] // s["patch_size"]
    p = "vision_model.embeddings."
    add(p + "patch_embedding.weight", c, 3, s["patch_size"], s["patch_size"])
    add(p + "patch_embedding.bias", c)
    add(p + "class_embedding", 1, 1, c)
    add(p + "position_embedding", 1, grid * grid + 1, c)
    for i in range(s["vision_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        add(p + "attn.qkv.weight", 3 * c, c)
        for n in ("attn.q_norm.weight", "attn.k_norm.weight", "norm1.weight", "norm2.weight"):
            add(p + n, c, const=1.0)
        add(p + "attn.proj.weight", c, c)
        add(p + "attn.proj.bias", c)
        add(p + "ls1", c, const=0.1)
        add(p + "ls2", c, const=0.1)
        add(p + "mlp.fc1.weight", ci, c)
        add(p + "mlp.fc1.bias", ci)
        add(p + "mlp.fc2.weight", c, ci)
        add(p + "mlp.fc2.bias", c)
    for prefix, width in (("clip_projector.", c), ("clip_projector2.", hq)):
        for n in ("norm1_q", "norm1_k", "norm1_v"):
            add(prefix + n + ".weight", width, const=1.0)
            add(prefix + n + ".bias", width)
        for n in ("q", "k", "v"):
            add(prefix + f"cross_attn.{n}.weight", width, width)
            add(prefix + f"cross_attn.{n}_bias", width)
        add(prefix + "cross_attn.proj.weight", s["clip_embed_dim"], width)
        add(prefix + "cross_attn.proj.bias", s["clip_embed_dim"])
    add("query_tokens", 1, s["num_query_token"], hq)
    for i in range(s["qllama_layers"]):
        p = f"qllama.model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            add(p + f"self_attn.{n}.weight", hq, hq)
        add(p + "input_layernorm.weight", hq, const=1.0)
        add(p + "post_attention_layernorm.weight", hq, const=1.0)
        add(p + "mlp.gate_proj.weight", hi, hq)
        add(p + "mlp.up_proj.weight", hi, hq)
        add(p + "mlp.down_proj.weight", hq, hi)
        if i % s["cross_attention_frequency"] == 0:
            add(p + "cross_attn.q_proj.weight", hq, hq)
            add(p + "cross_attn.o_proj.weight", hq, hq)
            add(p + "cross_attn.k_proj.weight", hq, c)
            add(p + "cross_attn.v_proj.weight", hq, c)
            add(p + "cross_attn.norm1.weight", hq, const=1.0)
            add(p + "cross_attn.norm2.weight", c, const=1.0)
    add("qllama.model.norm.weight", hq, const=1.0)
    return w


def relative_error(ours, reference):
    ours, reference = ours.double(), reference.double()
    return ((ours - reference).norm() / reference.norm()).item()


def check(fixture):
    import numpy as np
    expected_path = os.path.join(fixture, "expected.json")
    with open(expected_path) as f:
        expected = json.load(f)
    sizes = dict(TINY, **{k: v for k, v in expected["meta"]["sizes"].items() if k in TINY})
    weights = read_safetensors(os.path.join(fixture, "model.safetensors"))
    model = Model(sizes, {k: v.float() for k, v in weights.items()})
    pixels = torch.from_numpy(np.load(os.path.join(fixture, "pixel_values.npy"))).float()
    with torch.no_grad():
        vision = model.vision(pixels)
        results = {
            "vision last_hidden_state": relative_error(
                vision, torch.from_numpy(np.load(os.path.join(fixture, "vision_last_hidden_state.npy")))),
            "QLLaMA query hidden": relative_error(
                model.query_hidden(vision),
                torch.from_numpy(np.load(os.path.join(fixture, "qllama_image_query_hidden.npy")))),
            "InternVL-C image_embeds": relative_error(
                model.encode_image(pixels, "c"), torch.tensor(expected["internvl_c"]["image_embeds"])),
            "InternVL-G image_embeds": relative_error(
                model.encode_image(pixels, "g"), torch.tensor(expected["internvl_g"]["image_embeds"])),
        }
    failed = False
    for name, error in results.items():
        ok = error < 1e-4
        failed |= not ok
        print(f"{name}: relative error {error:.2e} {'ok' if ok else 'ABOVE 1e-4'}")
    return 1 if failed else 0


def bench(args):
    sizes = FULL if args.preset == "full" else TINY
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    device = torch.device(args.device)
    model = Model(sizes, random_weights(sizes, device, dtype), args.attention)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    report = {"implementation": f"PyTorch {torch.__version__} eager ({args.attention} attention)",
              "preset": args.preset, "device": str(device), "dtype": args.dtype, "results": []}
    for task in args.tasks.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            pixels = torch.randn(batch, 3, sizes["image_size"], sizes["image_size"], device=device, dtype=dtype)
            with torch.no_grad():
                model.encode_image(pixels, task)  # warm-up
                sync()
                iterations, started = 0, time.perf_counter()
                while True:
                    model.encode_image(pixels, task)
                    sync()
                    iterations += 1
                    elapsed = time.perf_counter() - started
                    if elapsed >= args.seconds or iterations >= 1000:
                        break
            report["results"].append({"task": task, "batch": batch, "iterations": iterations,
                                      "images_per_s": batch * iterations / elapsed})
            print(f"{task} batch {batch}: {batch * iterations / elapsed:.1f} images/s", file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("checkpoint", help="the tiny checkpoint folder (tests/data/parity/internvl-tiny)")
    b = sub.add_parser("bench")
    b.add_argument("--preset", choices=["full", "tiny"], default="full")
    b.add_argument("--device", default="cuda")
    b.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    b.add_argument("--tasks", default="c,g")
    b.add_argument("--batch", default="1,8,64,256")
    b.add_argument("--attention", choices=["eager", "sdpa"], default="eager")
    b.add_argument("--seconds", type=float, default=3.0, help="timed seconds per task and batch (after a warm-up)")
    args = parser.parse_args()
    torch.manual_seed(0)
    return check(args.checkpoint) if args.command == "check" else bench(args)


if __name__ == "__main__":
    sys.exit(main())
