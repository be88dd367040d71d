// SPDX-License-Identifier: Apache-2.0
// The metrics of sinks/README.md, registered once in one prometheus-cpp registry that the owner
// (the engine, the service) passes to whoever records. Labels stay low-cardinality: stream ids,
// task names, stages, sink names, drop reasons — never frame ids.
//
// Histogram buckets (base units, upper bounds; +Inf is implicit):
//   internvl_inference_duration_seconds, internvl_result_latency_seconds:
//     0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30
//     (1 ms, a tiny CPU model, up to 30 s, a long caption on a loaded GPU).
//   internvl_batch_size: 1 2 4 8 16 32 64 128 256 (powers of two, as batches are sized).
//   internvl_search_query_seconds: the latency buckets (a query embeds its text, then searches).
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace ivs::sinks {

/// Owns its own registry and the metric families (no global state: two Metrics objects are
/// independent). Thread-safe: prometheus-cpp families and metrics are. The accessors create the
/// labelled series on first use and return the same series afterwards, so callers may either
/// cache the reference or look it up each time.
class Metrics {
 public:
  /// `version`, `torch_version`, `device` become the labels of internvl_build_info (value 1).
  Metrics(const std::string& version, const std::string& torch_version, const std::string& device);

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  /// Seconds bounds of the latency histograms, and the batch-size bounds (see the file comment).
  static const prometheus::Histogram::BucketBoundaries& latency_buckets();
  static const prometheus::Histogram::BucketBoundaries& batch_size_buckets();

  prometheus::Counter& frames(const std::string& stream);
  /// Frames out of the decoder: below frames() when only key frames are decoded.
  prometheus::Counter& frames_decoded(const std::string& stream);
  prometheus::Counter& frames_sampled(const std::string& stream, const std::string& task);
  prometheus::Counter& frames_dropped(const std::string& stream, const std::string& reason);
  prometheus::Histogram& inference_duration(const std::string& task, const std::string& stage);
  prometheus::Histogram& batch_size(const std::string& task);
  prometheus::Gauge& queue_depth(const std::string& task);
  prometheus::Histogram& result_latency(const std::string& stream, const std::string& task);
  prometheus::Counter& caption_tokens();
  prometheus::Counter& messages_published(const std::string& sink);
  prometheus::Counter& publish_errors(const std::string& sink);
  prometheus::Gauge& stream_up(const std::string& stream);
  prometheus::Counter& stream_restarts(const std::string& stream);
  prometheus::Counter& events(const std::string& stream, const std::string& rule);
  prometheus::Gauge& alert_active(const std::string& stream, const std::string& rule);
  prometheus::Gauge& alert_probability(const std::string& stream, const std::string& rule);
  /// Sampled frames handed to the search index (internvlindex), and those its full queue refused.
  prometheus::Counter& index_frames(const std::string& stream);
  prometheus::Counter& index_frames_dropped(const std::string& stream);

  /// Drops every series labelled stream=`stream` (a removed stream), so streams added and
  /// removed over months do not pile up in /metrics. References obtained for it before become
  /// dangling: call only once nothing records for the stream any more (its pipeline is gone).
  void remove_stream(const std::string& stream);

  // Search (the service's index): set from the index's stats, observed per REST query.
  prometheus::Gauge& search_index_frames() { return *search_index_frames_; }
  prometheus::Gauge& search_index_disk_bytes() { return *search_index_disk_bytes_; }
  prometheus::Histogram& search_query_duration() { return *search_query_duration_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* frames_;
  prometheus::Family<prometheus::Counter>* frames_decoded_;
  prometheus::Family<prometheus::Counter>* frames_sampled_;
  prometheus::Family<prometheus::Counter>* frames_dropped_;
  prometheus::Family<prometheus::Histogram>* inference_duration_;
  prometheus::Family<prometheus::Histogram>* batch_size_;
  prometheus::Family<prometheus::Gauge>* queue_depth_;
  prometheus::Family<prometheus::Histogram>* result_latency_;
  prometheus::Family<prometheus::Counter>* caption_tokens_;
  prometheus::Family<prometheus::Counter>* messages_published_;
  prometheus::Family<prometheus::Counter>* publish_errors_;
  prometheus::Family<prometheus::Gauge>* stream_up_;
  prometheus::Family<prometheus::Counter>* stream_restarts_;
  prometheus::Family<prometheus::Counter>* events_;
  prometheus::Family<prometheus::Gauge>* alert_active_;
  prometheus::Family<prometheus::Gauge>* alert_probability_;
  prometheus::Family<prometheus::Counter>* index_frames_;
  prometheus::Family<prometheus::Counter>* index_frames_dropped_;
  prometheus::Family<prometheus::Gauge>* build_info_;
  // The unlabelled counter is created once up front so it is exported as 0 before first use.
  prometheus::Counter* caption_tokens_total_;
  // Search: unlabelled, one index per process; created up front so they export 0 at once.
  prometheus::Gauge* search_index_frames_;
  prometheus::Gauge* search_index_disk_bytes_;
  prometheus::Histogram* search_query_duration_;
};

}  // namespace ivs::sinks
