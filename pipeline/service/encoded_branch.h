// SPDX-License-Identifier: Apache-2.0
// How a stream's video goes from uridecodebin to the queue of decoded frames. H.264 and H.265
// leave uridecodebin parsed and reach the decoder through internvlkeyframes, which passes only
// the key frames the InternVL elements sample when the stream's key frames come often enough
// (the stream's `decode_frames`), so that a stream sampled once a second decodes one frame a
// second instead of thirty:
//   uridecodebin ! internvlkeyframes ! decodebin ! queue "decoded" ! ...
// A stream that records alert clips keeps the encoded stream for internvlrecord with a tee:
//   uridecodebin ! tee ! queue ! internvlrecord
//                  tee ! queue ! internvlkeyframes ! decodebin ! queue "decoded" ! ...
// Other codecs are decoded by uridecodebin and go straight to the queue, all frames.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <gst/gst.h>

#include "pipeline/alerts/clip_planner.h"
#include "pipeline/keyframe_filter.h"
#include "pipeline/service/decoder_choice.h"
#include "pipeline/service/stream_pipeline.h"

namespace ivs::service {

/// What the source's pad-added handler needs to build the branch of an encoded stream.
struct EncodedBranch {
  GstElement* pipeline = nullptr;  // borrowed: the handler lives no longer than the pipeline
  GstElement* decoded = nullptr;   // the queue of decoded frames
  DecodePolicy policy = DecodePolicy::kCpuOnly;
  pipeline::DecodeFrames decode_frames = pipeline::DecodeFrames::kAuto;
  std::string stream_id;
  std::string record_location;  // <recordings_dir>/<stream id>/%s.mp4; empty: no recording
  pipeline::ClipLimits limits;
  bool realtime = false;  // the stream's `realtime`: the recording keeps the file's pace too
  std::shared_ptr<StreamTelemetry> telemetry;  // frames received; the note on codecs unrecorded
};

/// Makes `source`, a uridecodebin in `branch.pipeline`, stop at parsed H.264/H.265 and links
/// each video pad it exposes as the file comment says (the first video stream only). Counts the
/// frames received from the source in branch.telemetry (frames_received and frames_metric).
void route_source_video(GstElement* source, EncodedBranch branch);

/// The pad to ask, with a latency query to its peer, whether the stream's source is live: the
/// sink of a realtime file's pacing (a clocksync, which, syncing to the clock, answers "live"
/// whatever its source) when there is one, else `decoded_queue`'s sink. A reference.
GstPad* liveness_pad(GstElement* pipeline, GstElement* decoded_queue);

/// What a stream's internvlkeyframes does now.
struct KeyframesState {
  pipeline::DecodeFrames decoding = pipeline::DecodeFrames::kAll;  // kAll or kKeyframes
  std::optional<double> gop_seconds;  // the key-frame spacing measured; unset until known
};

/// The state of the internvlkeyframes in `pipeline`; all frames decoded and no GOP known without
/// one (another codec, or no video yet). Thread-safe (reads the element's properties).
KeyframesState keyframes_state(GstElement* pipeline);

}  // namespace ivs::service
