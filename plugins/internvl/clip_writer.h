// SPDX-License-Identifier: Apache-2.0
// One clip file of internvlrecord: `appsrc ! h264parse|h265parse ! mp4mux ! filesink` in a
// pipeline of its own, fed with the recorded stream's encoded buffers (never re-encoded), their
// timestamps rebased so that the file starts at 0. The pipeline's own streaming thread writes,
// so write() never waits for the disk.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <string>

namespace ivs::plugins {

/// The parser element that feeds mp4mux for `caps` ("h264parse" or "h265parse"), or nullptr
/// when internvlrecord cannot record them; then `problem` says why and what to put upstream.
const char* clip_parser_for(const GstCaps* caps, std::string* problem);

/// Throws std::runtime_error naming the first element a clip needs that is not installed, and
/// the Debian package that has it.
void check_clip_elements();

/// Not thread-safe: the recording's streaming thread writes and ends it, then hands it to the
/// thread that waits for it.
class ClipWriter {
 public:
  /// Starts writing `path` (created or truncated) from buffers of `caps`. Throws
  /// std::runtime_error naming the file when the pipeline cannot be built or started.
  ClipWriter(const std::string& path, GstCaps* caps);
  ~ClipWriter();  // stops the pipeline; a file not yet ended is left unfinished
  ClipWriter(const ClipWriter&) = delete;
  ClipWriter& operator=(const ClipWriter&) = delete;

  /// Queues a shallow copy of `buffer` (memory shared, not copied), timestamps rebased.
  void write(GstBuffer* buffer);
  /// No more buffers: mp4mux writes its index when this end arrives.
  void end();
  /// Waits up to `timeout` for the file to be complete; "" on success, else what went wrong.
  std::string wait(GstClockTime timeout);

  const std::string& path() const { return path_; }
  /// Span of the written presentation times (first to last buffer's end), ns.
  uint64_t duration_ns() const;

 private:
  std::string path_;
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;                  // the appsrc (owned by pipeline_)
  GstClockTime offset_ = GST_CLOCK_TIME_NONE;  // subtracted from every timestamp
  GstClockTime first_pts_ = GST_CLOCK_TIME_NONE;
  GstClockTime end_pts_ = 0;
};

}  // namespace ivs::plugins
