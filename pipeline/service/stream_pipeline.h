// SPDX-License-Identifier: Apache-2.0
// The GStreamer pipeline of one service stream (README.md, "Architecture"):
//   uridecodebin [! internvlkeyframes ! decodebin] (decoder chosen by `decode`)
//     ! queue "decoded" (leaky when live) ! videoconvert
//     ! internvlclassify [! internvlindex] [! internvlalert] ! internvlcaption ! internvlpublish
//     ! fakesink
// with the stream id on every element (metric labels, sensor_id) and the service's shared
// engine, metrics hub and sink pool set on it as GstContexts. H.264 and H.265 leave uridecodebin
// parsed and are decoded behind internvlkeyframes (`decode_frames`), with a tee to
// internvlrecord on streams that record alert clips (encoded_branch.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gst/gst.h>

#include "pipeline/metrics_context.h"
#include "pipeline/engine/result_records.h"
#include "pipeline/service/event_log.h"
#include "pipeline/service/service_config.h"

namespace ivs::service {

/// What the service shares with every stream's pipeline.
struct SharedContexts {
  GstContext* engine = nullptr;     // "internvl.engine" (owned by the service)
  GstContext* metrics = nullptr;    // "internvl.metrics"
  GstContext* sink_pool = nullptr;  // "internvl.sinks"
  plugins::EngineSettings model;    // the engine's key (model, device, dtype), set on the elements
  bool cuda = false;                // the engine runs on CUDA (decode: auto picks GPU decoders)
  OutputsConfig outputs;
  unsigned queue_max_buffers = 8;
  RecordingConfig recording;
  // With search enabled, every classifying stream gets internvlindex writing to search.index.dir
  // (the index the service opened first, so all streams share its one writer).
  SearchConfig search;
  std::shared_ptr<EventLog> events;  // fed by the buses of streams with alerts; may be null
};

/// Counters and latest results written by the pipeline's streaming threads, read by the service.
struct StreamTelemetry {
  std::atomic<uint64_t> frames{0};  // frames through the whole pipeline (at the sink): progress
  // Frames from the source: encoded ones into internvlkeyframes (H.264, H.265), else decoded.
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> frames_decoded{0};       // out of the decoder, into the "decoded" queue
  std::atomic<uint64_t> frames_dropped{0};       // dropped by the leaky queue (inference behind)
  std::atomic<bool> leaky{false};                // counts queue overruns as drops only when leaking
  std::atomic<bool> said_not_recorded{false};    // "no clips for this codec", said once per stream
  prometheus::Counter* frames_metric = nullptr;  // internvl_frames_total{stream}: received
  prometheus::Counter* decoded_metric = nullptr;  // internvl_frames_decoded_total{stream}
  // internvl_frames_dropped_total{stream,reason=drop_reason_label(DropReason::kQueueFull)}
  prometheus::Counter* dropped_metric = nullptr;

  std::mutex lock;      // guards the fields below
  std::string decoder;  // factory of the video decoder in use
  // The latest classifications, best first: of a sampled frame, and of a clip window.
  std::vector<pipeline::ClassificationRecord> labels;
  std::vector<pipeline::ClassificationRecord> clip_labels;
  std::string caption;  // latest caption
  double labels_pts_seconds = -1.0;
  double caption_pts_seconds = -1.0;
};

/// A built pipeline (in NULL state) and the elements the service talks to. Owns one reference
/// to `pipeline`; the element pointers are borrowed from it.
struct StreamPipeline {
  GstElement* pipeline = nullptr;
  GstElement* queue = nullptr;
  GstElement* classify = nullptr;  // null when the task is disabled
  GstElement* index = nullptr;     // null without search or classify
  GstElement* alert = nullptr;     // null without alert rules
  GstElement* caption = nullptr;
  GstElement* publish = nullptr;
};

/// Builds the pipeline of `stream`. The telemetry must outlive the pipeline (the service keeps
/// it in a shared_ptr captured by the probes). Throws std::runtime_error naming what is missing
/// (an element factory with its Debian package, decode: gpu without nvcodec).
StreamPipeline build_stream_pipeline(const StreamConfig& stream, const SharedContexts& shared,
                                     const std::shared_ptr<StreamTelemetry>& telemetry);

/// A new element of `factory`; throws std::runtime_error naming the Debian `package` to install
/// when GStreamer has no such factory.
GstElement* make_element(const char* factory, const char* package, const std::string& name);

/// Counts the buffers through `pad` in `count` and `metric` (when not null), which must outlive
/// the pad's pipeline (the telemetry's: the pipeline keeps it alive).
void count_buffers(GstPad* pad, std::atomic<uint64_t>& count, prometheus::Counter* metric);

/// Counts the frames that reach `sink`, an element of `pipeline`, in `telemetry.frames`; the
/// pipeline keeps `telemetry` alive from now on.
void count_frames_at(GstElement* pipeline, GstElement* sink,
                     const std::shared_ptr<StreamTelemetry>& telemetry);

/// Whether a URI is a live source before it is opened (rtsp, rtmp, srt, udp, v4l2, ...); the
/// state change result (NO_PREROLL) confirms it for the rest.
bool uri_is_live(const std::string& uri);

/// The URI with any user:password@ removed, for logs, status and messages.
std::string redact_uri(const std::string& uri);

/// The labels of a classify config as the element takes them ("a;b;c"), and sets them (or the
/// file) on a running internvlclassify.
void apply_labels(GstElement* classify, const ClassifyConfig& config);

/// Sets `rules` on a running internvlalert; it uses them from its next sample.
void apply_alerts(GstElement* alert, const std::vector<pipeline::AlertRule>& rules);

}  // namespace ivs::service
