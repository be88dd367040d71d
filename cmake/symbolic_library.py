#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Copies a shared library, turning its DT_SONAME entry into DT_SYMBOLIC.

The copy resolves every symbol it defines itself before looking anywhere else (glibc honours
DT_SYMBOLIC per object, as RTLD_DEEPBIND does per dlopen, but the sanitizer runtimes accept it),
and, having no soname, cannot be confused with the system's copy: a module linked against it
names it by file name. model/internvl/CMakeLists.txt builds libivs_sentencepiece.so against such
a copy of Debian's libsentencepiece (model/internvl/sentencepiece_module.h says why).

Usage: symbolic_library.py SOURCE DESTINATION
"""
import os
import struct
import sys

PT_DYNAMIC = 2
DT_NULL = 0
DT_SONAME = 14
DT_SYMBOLIC = 16


def dynamic_section(data):
    """(offset, size) in the file of the PT_DYNAMIC segment of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian 64-bit ELF file")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        header = phoff + index * phentsize
        (p_type,) = struct.unpack_from("<I", data, header)
        if p_type == PT_DYNAMIC:
            return struct.unpack_from("<Q", data, header + 8)[0], struct.unpack_from(
                "<Q", data, header + 32)[0]
    raise ValueError("no dynamic section: not a shared library")


def make_symbolic(data):
    """Rewrites the one DT_SONAME entry of `data` (a bytearray) as DT_SYMBOLIC, in place."""
    offset, size = dynamic_section(data)
    sonames = []
    for entry in range(offset, offset + size, 16):
        tag, _ = struct.unpack_from("<qQ", data, entry)
        if tag == DT_NULL:
            break
        if tag == DT_SYMBOLIC:
            raise ValueError("already has DT_SYMBOLIC")
        if tag == DT_SONAME:
            sonames.append(entry)
    if len(sonames) != 1:
        raise ValueError(f"{len(sonames)} DT_SONAME entries, expected 1")
    struct.pack_into("<qQ", data, sonames[0], DT_SYMBOLIC, 0)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    source, destination = sys.argv[1:]
    with open(source, "rb") as f:
        data = bytearray(f.read())
    try:
        make_symbolic(data)
    except ValueError as error:
        sys.exit(f"{source}: {error}")
    temporary = f"{destination}.{os.getpid()}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
    os.chmod(temporary, 0o755)
    os.replace(temporary, destination)


if __name__ == "__main__":
    main()
