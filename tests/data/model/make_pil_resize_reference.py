#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the Pillow references for the image tests (tests/model/common/pil_resize_test.cpp,
image_test.cpp, clip_image_processor_test.cpp) into tests/data/model/pil_resize/.

Needs Debian's Pillow 9.4 (`apt-get install -y python3-pil`; run with /usr/bin/python3, not a
virtualenv python) and the scikit-image sample photographs, which Debian ships in python3-skimage
(no need to install it):

    apt-get download python3-skimage && dpkg -x python3-skimage_*.deb /tmp/skimage
    /usr/bin/python3 tests/data/model/make_pil_resize_reference.py \
        /tmp/skimage/usr/lib/python3/dist-packages/skimage/data

Photographs used (licences stated in scikit-image's skimage/data/_fetchers.py):
  chelsea.png  "Chelsea the cat", CC0 by the photographer (Stefan van der Walt)
  coffee.png   "Coffee cup", CC0 by the photographer (Rachel Michetti)
  rocket.jpg   DSCOVR launch on Falcon 9, by SpaceX, released into the public domain

Everything written is deterministic: crops (no resampling) saved as PNG, Pillow BICUBIC resizes
saved as PNG (lossless, so decoding them is exact), JPEG encodes of a rocket crop made by Pillow's
libjpeg-turbo (baseline 4:2:0 and 4:4:4, progressive 4:2:2, greyscale, Adobe CMYK) with Pillow's
own Image.open(...).convert("RGB") of each, and a manifest, pil_resize_reference.json.
"""
import hashlib
import json
import pathlib
import sys

import PIL
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent / "pil_resize"
CROP = 224  # CLIPImageProcessor defaults of InternVL-14B-224px: shortest edge 224, crop 224

# name -> (skimage file, crop box left, top, width, height): odd sizes on purpose.
PHOTOS = {
    "cat_173x131": ("chelsea.png", 139, 61, 173, 131),
    "coffee_97x211": ("coffee.png", 251, 97, 97, 211),
}

# Resize targets per photo: non-integer downscales, upscales, one axis only, mixed.
# (Kept few and small: the folder must stay under 400 KB.)
TARGETS = {
    "cat_173x131": [(101, 77), (60, 131), (32, 24)],
    "coffee_97x211": [(41, 89), (61, 250), (97, 61), (3, 7)],
}
# Photos whose full shortest-edge-224 + centre-crop result is stored (an upscale on both axes).
CLIP_PHOTOS = ["coffee_97x211"]

# JPEG encodes of one rocket crop, one per libjpeg decoding path that matters: 4:2:0 (what
# cameras and most web images use; h2v2 fancy upsampling), 4:4:4 (no upsampling), progressive
# 4:2:2 (coefficient buffering, h2v1 upsampling), greyscale (one component, replicated by
# convert("RGB")) and CMYK (Pillow writes Adobe-inverted CMYK and reads it back the same way).
ROCKET = ("rocket.jpg", 251, 113, 161, 121)
# name -> (Pillow mode, quality, Pillow subsampling id, progressive, store the CLIP crop of
# Pillow's decode too). Subsampling 0 is 4:4:4, 1 is 4:2:2, 2 is 4:2:0.
JPEGS = {
    "rocket_161x121_q90_420": ("RGB", 90, 2, False, True),
    "rocket_161x121_q95_444": ("RGB", 95, 0, False, False),
    "rocket_161x121_q85_422_progressive": ("RGB", 85, 1, True, False),
    "rocket_161x121_q90_grey": ("L", 90, 0, False, False),
    "rocket_161x121_q90_cmyk": ("CMYK", 90, 0, False, False),
}


def save_png(image, name):
    image.save(OUT / name, format="PNG", optimize=True)
    return name


def crop(source_dir, spec):
    file, left, top, width, height = spec
    return Image.open(source_dir / file).convert("RGB").crop((left, top, left + width, top + height))


def clip_crop(image):
    """transformers' CLIPImageProcessor resize + center_crop, on uint8, with Pillow."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(CROP * long / short)
    size = (CROP, new_long) if width <= height else (new_long, CROP)
    resized = image.resize(size, Image.BICUBIC)
    top = (resized.height - CROP) // 2
    left = (resized.width - CROP) // 2
    return resized.crop((left, top, left + CROP, top + CROP))


def photo_cases(source_dir):
    resizes, clips = [], []
    for name, spec in PHOTOS.items():
        image = crop(source_dir, spec)
        source = save_png(image, f"photo_{name}.png")
        for width, height in TARGETS[name]:
            ref = save_png(image.resize((width, height), Image.BICUBIC),
                           f"pil_bicubic_{name}_to_{width}x{height}.png")
            resizes.append({"source": source, "width": width, "height": height, "reference": ref})
        if name in CLIP_PHOTOS:
            ref = save_png(clip_crop(image), f"pil_clip_{name}.png")
            clips.append({"source": source, "reference": ref})
    return resizes, clips


def jpeg_cases(source_dir):
    jpegs = []
    rocket = crop(source_dir, ROCKET)
    for name, (mode, quality, subsampling, progressive, with_clip) in JPEGS.items():
        path = OUT / f"photo_{name}.jpg"
        rocket.convert(mode).save(path, format="JPEG", quality=quality, subsampling=subsampling,
                                  progressive=progressive)
        opened = Image.open(path)
        assert opened.mode == mode, (path, opened.mode)
        decoded = opened.convert("RGB")
        entry = {"source": path.name, "mode": mode,
                 "pil_decode": save_png(decoded, f"pil_decode_{name}.png")}
        if with_clip:
            entry["pil_clip"] = save_png(clip_crop(decoded), f"pil_clip_{name}.png")
        jpegs.append(entry)
    return jpegs


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source_dir = pathlib.Path(sys.argv[1])
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("*.*"):
        stale.unlink()
    resizes, clips = photo_cases(source_dir)
    manifest = {
        "generator": "tests/data/model/make_pil_resize_reference.py",
        "pillow": PIL.__version__,
        "resize": resizes,
        "clip_224": clips,
        "jpeg": jpeg_cases(source_dir),
    }
    for entry in sorted(OUT.iterdir()):
        if entry.suffix in (".png", ".jpg"):
            manifest.setdefault("sha256", {})[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
    (OUT / "pil_resize_reference.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
