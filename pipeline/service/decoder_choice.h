// SPDX-License-Identifier: Apache-2.0
// Which video decoder a stream's decodebins may plug (the stream's `decode`: auto, gpu, cpu),
// applied through their autoplug-select signal.
#pragma once

#include <gst/gst.h>

#include "pipeline/service/service_config.h"

namespace ivs::service {

enum class DecodePolicy { kCpuOnly, kPreferNvidia, kNvidiaOnly, kAny };

/// The policy of `stream` on this machine; `cuda`: the engine runs on CUDA (decode: auto then
/// prefers NVIDIA decoders). Throws std::runtime_error for decode: gpu without an NVIDIA decoder.
DecodePolicy decode_policy(const StreamConfig& stream, bool cuda);

/// Makes `decodebin` (a decodebin or uridecodebin) plug only the decoders `policy` allows.
void restrict_decoders(GstElement* decodebin, DecodePolicy policy);

/// Caps a libav video decoder (avdec_*) at one thread; other elements are left alone. Call it
/// before the decoder opens (when it is added to its bin).
void limit_decoder_threads(GstElement* decoder);

/// Whether `factory` makes video decoders.
bool is_video_decoder(GstElementFactory* factory);

}  // namespace ivs::service
