// SPDX-License-Identifier: Apache-2.0
// The running state of internvlindex (built when it starts, dropped when it stops): the shared
// search index of its location, the thumbnail maker and the pipeline's metrics. Each frame whose
// InternVLResultMeta carries a sampled embedding becomes a search::IndexedFrame handed to the
// index's queue, which never blocks. gstinternvlindex.cpp is the GObject shell that delegates
// here.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/frame_thumbnail.h"
#include "pipeline/metrics_context.h"
#include "plugins/internvl/element_settings.h"
#include "sinks/index/search_index.h"

namespace ivs::plugins {

/// The element's read-only counters. Atomic: the streaming thread writes them while
/// get_property reads them from any thread; they outlive the state so a stopped element still
/// reports its last run.
struct IndexCounters {
  std::atomic<uint64_t> indexed{0};  // frames the index's queue took
  std::atomic<uint64_t> dropped{0};  // frames refused (queue full) or not indexable
  void reset() {
    indexed = 0;
    dropped = 0;
  }
};

class IndexState {
 public:
  /// Checks `location`, opens (or shares) the index there (search::open_shared_index) and finds
  /// the pipeline's metrics. Throws std::runtime_error naming the property and the fix, or
  /// search::IndexError naming the file.
  static std::unique_ptr<IndexState> start(GstElement* element,
                                           const IndexElementSettings& settings,
                                           IndexCounters& counters);
  /// Takes the index and metrics as given (tests bring a fake index).
  IndexState(GstElement* element, const IndexElementSettings& settings,
             std::shared_ptr<search::SearchIndex> index,
             std::shared_ptr<pipeline::MetricsHub> metrics, IndexCounters& counters);
  IndexState(const IndexState&) = delete;
  IndexState& operator=(const IndexState&) = delete;

  /// The negotiated video format (for thumbnails); false when the caps are not raw video.
  bool set_caps(GstCaps* caps);

  /// Streaming thread: when `buffer` carries a sampled embedding, queues it (with a thumbnail
  /// when enabled) into the index; `stream_time_ns` is the buffer's stream time. Reads the
  /// buffer only; never blocks; failures are counted and logged at most every few seconds.
  void on_frame(GstBuffer* buffer, uint64_t stream_time_ns);

  const std::string& stream() const { return stream_; }
  search::SearchIndex& index() { return *index_; }

 private:
  std::vector<uint8_t> thumbnail(GstBuffer* buffer);
  void count_drop(const std::string& why);

  GstElement* element_;
  std::string stream_;
  std::shared_ptr<search::SearchIndex> index_;
  std::shared_ptr<pipeline::MetricsHub> metrics_;
  IndexCounters& counters_;
  std::optional<pipeline::FrameThumbnailer> thumbnailer_;  // none: thumbnails off
  GstVideoInfo info_{};
  bool have_info_ = false;
  uint64_t thumbnail_failures_ = 0;
  uint64_t drops_unreported_ = 0;  // since the last drop warning
  std::chrono::steady_clock::time_point last_drop_warning_{};
  bool warned_refused_ = false;  // the index refused a frame (mode or dim): said once
};

}  // namespace ivs::plugins
