// SPDX-License-Identifier: Apache-2.0
// C interface of libivs_sentencepiece.so, the one place that links Debian's libsentencepiece.
//
// Why a separately loaded module: Debian 12's libsentencepiece.so.0 carries its own copy of
// protobuf-lite 3.14 and exports all of its symbols, while LibTorch loads the system
// libprotobuf 3.21. Linked into one process, whichever library comes first in symbol lookup
// wins for both, and the process dies at start-up (protobuf's static initialisers call the
// other version's code, or its version check aborts). So sentencepiece is kept in its own scope:
// - the module is linked against libsentencepiece_symbolic.so, a copy of Debian's library whose
//   soname entry is made DT_SYMBOLIC (cmake/symbolic_library.py): sentencepiece's references to
//   its protobuf resolve to its own copy, never to LibTorch's, whatever is loaded already;
// - the module exports ivs_spm_* alone (sentencepiece_module.map) and is loaded RTLD_LOCAL, so
//   neither it nor sentencepiece's protobuf can interpose a symbol of LibTorch's.
// RTLD_DEEPBIND gave the first as well, but the sanitizer runtimes refuse it (google/sanitizers
// #611), and it would bind sentencepiece's malloc past an interposed allocator (the sanitizers',
// jemalloc); DT_SYMBOLIC binds only what sentencepiece defines. Tokenizer (tokenizer.cpp) is the
// only caller.
#pragma once

#include <cstddef>

extern "C" {

/// Loads a SentencePiece model file. Returns a handle, or nullptr with a message in `error`.
void* ivs_spm_load(const char* path, char* error, size_t error_size);

void ivs_spm_free(void* handle);

int ivs_spm_piece_size(const void* handle);

/// Encodes `text` (`size` bytes, UTF-8) to ids. Writes at most `capacity` ids to `out` and
/// returns the total count (call again with a larger buffer when it exceeds capacity), or -1
/// with a message in `error`.
long ivs_spm_encode(const void* handle, const char* text, size_t size, int* out, size_t capacity,
                    char* error, size_t error_size);

/// Decodes ids to UTF-8. Writes at most `capacity` bytes to `out` (not NUL-terminated) and returns
/// the total length, or -1 with a message in `error`.
long ivs_spm_decode(const void* handle, const int* ids, size_t count, char* out, size_t capacity,
                    char* error, size_t error_size);

/// The piece of `id` ("▁photo"): bytes written as for ivs_spm_decode; -1 for an invalid id.
long ivs_spm_id_to_piece(const void* handle, int id, char* out, size_t capacity);

}  // extern "C"
