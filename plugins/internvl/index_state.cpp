// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/index_state.h"

#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "pipeline/result_meta.h"
#include "plugins/internvl/element_common.h"

GST_DEBUG_CATEGORY_EXTERN(gst_internvl_index_debug);
#define GST_CAT_DEFAULT gst_internvl_index_debug

namespace ivs::plugins {
namespace {

// A full queue means the disk or the index cannot keep up; one warning per this long says how
// many frames it cost instead of one line per frame.
constexpr std::chrono::seconds kDropWarningInterval{5};

// The index names an embedding space as the `mode` property does ("c", "g"); the meta as the
// wire format does ("InternVL-C", "InternVL-G").
std::string index_mode(const std::string& meta_mode) {
  return mode_name(meta_mode == "InternVL-G" ? Mode::kG : Mode::kC);
}

}  // namespace

std::unique_ptr<IndexState> IndexState::start(GstElement* element,
                                              const IndexElementSettings& settings,
                                              IndexCounters& counters) {
  if (settings.location.empty()) {
    throw std::runtime_error(
        "internvlindex has no location: set the property location to the index directory "
        "(created when missing), e.g. location=/var/lib/internvl/index");
  }
  search::SearchIndexOptions options;
  options.dir = settings.location;
  // The index outlives this element when others share it: its operator messages (a rebuilt
  // vector file, retention) go to the element's debug category, not to the element.
  options.log = [](const std::string& message) {
    GST_CAT_WARNING(gst_internvl_index_debug, "%s", message.c_str());
  };
  std::shared_ptr<search::SearchIndex> index = search::open_shared_index(options);
  auto metrics = pipeline::acquire_metrics(element, "");
  return std::make_unique<IndexState>(element, settings, std::move(index), std::move(metrics),
                                      counters);
}

IndexState::IndexState(GstElement* element, const IndexElementSettings& settings,
                       std::shared_ptr<search::SearchIndex> index,
                       std::shared_ptr<pipeline::MetricsHub> metrics, IndexCounters& counters)
    : element_(element),
      stream_(pipeline::stream_name_of(element, settings.stream_id)),
      index_(std::move(index)),
      metrics_(std::move(metrics)),
      counters_(counters) {
  if (settings.thumbnails) thumbnailer_.emplace(static_cast<int>(settings.thumbnail_size));
  gst_video_info_init(&info_);
  // Exported as 0 from the start, so a dashboard tells "nothing sampled" from "not running".
  metrics_->metrics().index_frames(stream_);
  metrics_->metrics().index_frames_dropped(stream_);
}

bool IndexState::set_caps(GstCaps* caps) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps)) return false;
  info_ = info;
  have_info_ = true;
  if (thumbnailer_) thumbnailer_->reset();
  return true;
}

void IndexState::on_frame(GstBuffer* buffer, uint64_t stream_time_ns) {
  const pipeline::ResultEntry* sampled = pipeline::sampled_embedding_entry(buffer);
  if (sampled == nullptr) return;
  search::IndexedFrame frame;
  frame.stream = stream_;
  frame.frame_id = static_cast<int64_t>(sampled->segment.first_frame);
  frame.pts_ns =
      stream_time_ns != pipeline::kNoClockTime ? static_cast<int64_t>(stream_time_ns) : 0;
  frame.wall_time = std::chrono::system_clock::now();
  frame.mode = index_mode(sampled->mode);
  frame.embedding = *sampled->embedding;
  if (thumbnailer_) frame.thumbnail_jpeg = thumbnail(buffer);
  bool queued = false;
  try {
    queued = index_->add(std::move(frame));
  } catch (const std::exception& e) {
    // A frame of another model or mode than the index holds: the same for every later frame,
    // so one warning on the bus names it; the video goes on, unindexed.
    if (!warned_refused_) {
      warned_refused_ = true;
      GST_ELEMENT_WARNING(
          element_, RESOURCE, WRITE, ("The search index refused a frame: %s", e.what()),
          ("stream %s; point location at another directory for this model", stream_.c_str()));
    }
    count_drop(e.what());
    return;
  }
  if (!queued) {
    count_drop("the index's queue is full");
    return;
  }
  ++counters_.indexed;
  metrics_->metrics().index_frames(stream_).Increment();
}

std::vector<uint8_t> IndexState::thumbnail(GstBuffer* buffer) {
  if (!have_info_) return {};
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info_, buffer, GST_MAP_READ)) return {};
  try {
    std::vector<uint8_t> jpeg = thumbnailer_->jpeg(frame);
    gst_video_frame_unmap(&frame);
    return jpeg;
  } catch (const std::exception& e) {
    gst_video_frame_unmap(&frame);
    // The frame is still indexed, without a picture.
    if (warn_now(++thumbnail_failures_)) {
      GST_WARNING_OBJECT(element_, "no thumbnail for a frame of stream %s: %s", stream_.c_str(),
                         e.what());
    }
    return {};
  }
}

void IndexState::count_drop(const std::string& why) {
  ++counters_.dropped;
  metrics_->metrics().index_frames_dropped(stream_).Increment();
  ++drops_unreported_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_drop_warning_ >= kDropWarningInterval) {
    GST_WARNING_OBJECT(element_, "%" G_GUINT64_FORMAT " frame(s) of stream %s not indexed: %s",
                       drops_unreported_, stream_.c_str(), why.c_str());
    drops_unreported_ = 0;
    last_drop_warning_ = now;
  } else {
    GST_LOG_OBJECT(element_, "frame of stream %s not indexed: %s", stream_.c_str(), why.c_str());
  }
}

}  // namespace ivs::plugins
