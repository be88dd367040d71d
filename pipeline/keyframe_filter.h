// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/frame_sampler.h"

namespace ivs::pipeline {

/// Which encoded frames reach the decoder: internvlkeyframes' `mode`, the service's
/// `decode_frames`. The numbers are the property's GEnum values.
enum class DecodeFrames { kAuto = 0, kAll = 1, kKeyframes = 2 };

/// The names of DecodeFrames' values in value order: auto, all, keyframes.
const std::vector<std::string>& decode_frames_names();
const std::string& decode_frames_name(DecodeFrames mode);

/// What the frame consumers downstream need: the answer to the sampling query.
struct SamplingNeed {
  double fps = 0.0;          ///< highest time-based sampling rate asked, samples per second
  bool every_frame = false;  ///< a consumer counts frames (interval) or takes every frame
  unsigned consumers = 0;    ///< how many consumers answered
};

/// Decides, per encoded frame in decoding order, whether it goes to the decoder, so that a
/// stream sampled at a low rate decodes only the key frames it samples. Plain C++: the
/// element internvlkeyframes adapts it to GStreamer.
///
/// Mode `auto` decodes key frames only when the consumers sample by time (`fps` > 0, no
/// consumer counting frames) and key frames come at least as often as samples are needed: the
/// longest of the last kSpacingWindow key-frame spacings is at most the sampling period (plus
/// kSpacingTolerance). Until a spacing is measured it assumes they do (cameras send a key frame
/// every one or two seconds): decoding everything while measuring would make every stream
/// that starts decode two GOPs in full at once, a burst that at 60 streams takes seconds to
/// work off. The price of a wrong guess is the samples of the first GOP. While the consumers'
/// rate is unknown (nobody answered yet), every frame passes. The decision is taken at key
/// frames only: a delta frame cannot be decoded without the frames before it, so switching
/// mid-GOP would feed the decoder broken references. One exception: when no key frame comes
/// for kOverdueGops measured GOPs (kFirstGopPeriods sampling periods while none is measured:
/// an encoder that switched to, or uses, intra refresh), waiting for one could stall the
/// stream, so frames pass from there on and the first is marked a resumption (the decoder may
/// show artefacts until the stream refreshes).
///
/// In key-frame decoding, key frames are thinned to the sampling grid with the consumers' own
/// rule (FrameSampler): a key frame passes when it is the first at or after a slot of a grid
/// that the filter keeps in step with the consumers' (it sees every frame they see), so every
/// key frame passed is sampled downstream and the samples are the frames that decoding
/// everything would have sampled when key frames fall on the grid.
///
/// `keyframes` forces key-frame decoding (thinned when a rate is known), `all` passes every
/// frame. Not thread-safe: one per stream, used from its streaming thread.
class KeyframeFilter {
 public:
  static constexpr size_t kSpacingWindow = 3;
  static constexpr double kSpacingTolerance = 0.05;  // timestamp jitter of cameras
  static constexpr double kOverdueGops = 3.0;
  static constexpr double kFirstGopPeriods = 4.0;

  struct Options {
    DecodeFrames mode = DecodeFrames::kAuto;
    double fps = 0.0;  ///< samples per second to serve; 0 = what the consumers need
  };

  enum class Verdict {
    kDrop,    ///< not decoded
    kPass,    ///< decoded
    kResume,  ///< decoded, after dropped frames it depends on (mark it a discontinuity)
  };

  struct Status {
    DecodeFrames decoding = DecodeFrames::kAll;  ///< kAll or kKeyframes, in effect now
    std::optional<double> gop_seconds;           ///< longest recent key-frame spacing
    double fps = 0.0;                            ///< sampling rate served; 0 = none known
    uint64_t frames_in = 0;
    uint64_t frames_passed = 0;
  };

  explicit KeyframeFilter(Options options);

  /// New options (a property changed): they take effect at the next key frame.
  void set_options(Options options);

  /// The next encoded frame, in decoding order: its PTS (nanoseconds of stream time, if
  /// known) and whether it is a key frame. `need` is what the consumers said (read at key
  /// frames, where decisions are taken).
  Verdict push(std::optional<uint64_t> pts_ns, bool key_frame, const SamplingNeed& need);

  /// A flush or a new segment: timestamps start over. The decision and the GOP measured stay.
  void restart();

  Status status() const;

 private:
  DecodeFrames decide(const SamplingNeed& need);
  void measure_key_frame(uint64_t pts_ns);
  std::optional<uint64_t> longest_spacing_ns() const;
  bool key_frame_overdue(uint64_t pts_ns) const;
  // Keeps the grid in step with the consumers' sampler; true where it samples.
  bool grid_takes(uint64_t pts_ns);

  Options options_;
  DecodeFrames decoding_ = DecodeFrames::kAll;
  double fps_ = 0.0;
  FrameSampler grid_{{0, 0.0}};
  std::deque<uint64_t> spacings_ns_;
  std::optional<uint64_t> last_key_ns_;
  uint64_t latest_pts_ns_ = 0;  // the largest PTS since restart (decoding order is not PTS order)
  uint64_t frames_in_ = 0;
  uint64_t frames_passed_ = 0;
};

}  // namespace ivs::pipeline
