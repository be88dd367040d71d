// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/stream_pipeline.h"

#include <algorithm>
#include <stdexcept>

#include "pipeline/result_meta.h"
#include "pipeline/service/alerts_config.h"
#include "pipeline/service/decoder_choice.h"
#include "pipeline/service/encoded_branch.h"

namespace ivs::service {

GstElement* make_element(const char* factory, const char* package, const std::string& name) {
  GstElement* element = gst_element_factory_make(factory, name.c_str());
  if (element == nullptr) {
    throw std::runtime_error(std::string("GStreamer element '") + factory +
                             "' is not available; install " + package +
                             " (deploy/install-deps.sh installs everything)");
  }
  return element;
}

namespace {

// The decoder in use, for the status page (deep-element-added of the pipeline), and its threads.
void on_element_added(GstBin* /*bin*/, GstBin* /*sub_bin*/, GstElement* element,
                      gpointer telemetry_pointer) {
  GstElementFactory* factory = gst_element_get_factory(element);
  if (factory == nullptr || !is_video_decoder(factory)) return;
  limit_decoder_threads(element);
  auto* telemetry = static_cast<StreamTelemetry*>(telemetry_pointer);
  std::lock_guard<std::mutex> guard(telemetry->lock);
  telemetry->decoder = GST_OBJECT_NAME(factory);
}

// The queue is full and (when leaky) has just dropped its oldest frame.
void on_overrun(GstElement* /*queue*/, gpointer telemetry_pointer) {
  auto* telemetry = static_cast<StreamTelemetry*>(telemetry_pointer);
  if (!telemetry->leaky) return;
  ++telemetry->frames_dropped;
  if (telemetry->dropped_metric != nullptr) telemetry->dropped_metric->Increment();
}

struct BufferCount {
  std::atomic<uint64_t>* count;
  prometheus::Counter* metric;  // may be null
};

GstPadProbeReturn count_buffer(GstPad* /*pad*/, GstPadProbeInfo* /*info*/, gpointer count_pointer) {
  const auto* counting = static_cast<const BufferCount*>(count_pointer);
  ++*counting->count;
  if (counting->metric != nullptr) counting->metric->Increment();
  return GST_PAD_PROBE_OK;
}

double pts_seconds(GstClockTime pts) {
  return GST_CLOCK_TIME_IS_VALID(pts) ? static_cast<double>(pts) / GST_SECOND : -1.0;
}

// The latest results, for the status page: read from the meta on their way into internvlpublish.
GstPadProbeReturn remember_results(GstPad* /*pad*/, GstPadProbeInfo* info,
                                   gpointer telemetry_pointer) {
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstInternVLResultMeta* meta =
      buffer != nullptr ? gst_buffer_get_internvl_result_meta(buffer) : nullptr;
  if (meta == nullptr || meta->records == nullptr) return GST_PAD_PROBE_OK;
  auto* telemetry = static_cast<StreamTelemetry*>(telemetry_pointer);
  std::lock_guard<std::mutex> guard(telemetry->lock);
  for (const auto& entry : meta->records->entries) {
    if (entry.caption.has_value()) {
      telemetry->caption = entry.caption->text;
      telemetry->caption_pts_seconds = pts_seconds(entry.segment.first_pts);
    } else if (entry.type == pipeline::ResultType::kClipClassification) {
      telemetry->clip_labels = entry.classification;  // spans scenes: kept apart from the frame's
    } else if (!entry.classification.empty()) {
      telemetry->labels = entry.classification;
      telemetry->labels_pts_seconds = pts_seconds(entry.segment.last_pts);
    }
  }
  return GST_PAD_PROBE_OK;
}

void release_telemetry(gpointer holder) {
  delete static_cast<std::shared_ptr<StreamTelemetry>*>(holder);
}

// Keeps the telemetry alive as long as the pipeline: the probes and signals use a raw pointer.
void attach_telemetry(GstElement* pipeline, const std::shared_ptr<StreamTelemetry>& telemetry) {
  g_object_set_data_full(G_OBJECT(pipeline), "internvl-telemetry",
                         new std::shared_ptr<StreamTelemetry>(telemetry), &release_telemetry);
}

std::string join_labels(const std::vector<std::string>& labels) {
  std::string joined;
  for (const auto& label : labels) joined += (joined.empty() ? "" : ";") + label;
  return joined;
}

// The enums' values are the properties' GEnum values (element_settings.h).
void set_engine_properties(GstElement* element, const SharedContexts& shared) {
  g_object_set(element, "model", shared.model.model.c_str(), "device",
               static_cast<gint>(shared.model.device), "dtype",
               static_cast<gint>(shared.model.dtype), nullptr);
}

GstElement* make_classify(const StreamConfig& stream, const SharedContexts& shared) {
  const plugins::ClassifySettings& c = stream.tasks.classify.element;
  GstElement* classify =
      make_element("internvlclassify", "the internvl plugin (this project)", "classify");
  set_engine_properties(classify, shared);
  g_object_set(classify, "mode", static_cast<gint>(c.mode), "leaky", static_cast<gint>(c.leaky),
               "stream-id", stream.id.c_str(), "interval", c.interval, "selection-fps",
               c.selection_fps, "clip-frames", c.clip_frames, "top-k", c.top_k, "threshold",
               c.threshold, "max-latency", static_cast<guint64>(c.max_latency_ns), nullptr);
  if (!c.templates_file.empty()) {
    g_object_set(classify, "templates-file", c.templates_file.c_str(), nullptr);
  } else {
    g_object_set(classify, "prompt-template", c.prompt_template.c_str(), nullptr);
  }
  apply_labels(classify, stream.tasks.classify);
  return classify;
}

// After internvlclassify, whose meta carries the embeddings it scores; the classify templates,
// so that a rule's prompt is phrased as the labels are.
GstElement* make_alert(const StreamConfig& stream, const SharedContexts& shared) {
  const plugins::ClassifySettings& c = stream.tasks.classify.element;
  GstElement* alert = make_element("internvlalert", "the internvl plugin (this project)", "alert");
  set_engine_properties(alert, shared);
  g_object_set(alert, "stream-id", stream.id.c_str(), nullptr);
  if (!c.templates_file.empty()) {
    g_object_set(alert, "templates-file", c.templates_file.c_str(), nullptr);
  } else {
    g_object_set(alert, "prompt-template", c.prompt_template.c_str(), nullptr);
  }
  const std::string snapshots = stream_recordings_dir(shared.recording, stream.id);
  if (!snapshots.empty()) g_object_set(alert, "snapshot-dir", snapshots.c_str(), nullptr);
  apply_alerts(alert, stream.alerts);
  return alert;
}

// After internvlclassify, whose meta carries the sampled frames' embeddings it writes.
GstElement* make_index(const StreamConfig& stream, const SharedContexts& shared) {
  GstElement* index = make_element("internvlindex", "the internvl plugin (this project)", "index");
  const std::string location = shared.search.index.dir.string();
  const plugins::IndexElementSettings& e = shared.search.element;
  g_object_set(index, "location", location.c_str(), "stream-id", stream.id.c_str(), "thumbnails",
               e.thumbnails ? TRUE : FALSE, "thumbnail-size", e.thumbnail_size, nullptr);
  return index;
}

GstElement* make_caption(const StreamConfig& stream, const SharedContexts& shared) {
  const plugins::CaptionElementSettings& c = stream.tasks.caption.element;
  GstElement* caption =
      make_element("internvlcaption", "the internvl plugin (this project)", "caption");
  set_engine_properties(caption, shared);
  g_object_set(caption, "stream-id", stream.id.c_str(), "prompt", c.caption.prompt.c_str(),
               "num-beams", static_cast<guint>(c.caption.num_beams), "min-new-tokens",
               static_cast<guint>(c.caption.min_new_tokens), "max-new-tokens",
               static_cast<guint>(c.caption.max_new_tokens), "interval", c.interval,
               "selection-fps", c.selection_fps, nullptr);
  return caption;
}

GstElement* make_publish(const StreamConfig& stream, const SharedContexts& shared) {
  GstElement* publish =
      make_element("internvlpublish", "the internvl plugin (this project)", "publish");
  const std::string source = redact_uri(stream.uri);
  g_object_set(publish, "sensor-id", stream.id.c_str(), "source", source.c_str(), nullptr);
  if (!shared.outputs.zmq.endpoint.empty()) {
    g_object_set(publish, "endpoint", shared.outputs.zmq.endpoint.c_str(), "topic-prefix",
                 shared.outputs.zmq.topic_prefix.c_str(), "send-hwm", shared.outputs.zmq.send_hwm,
                 nullptr);
  }
  if (!shared.outputs.jsonl.path.empty()) {
    g_object_set(publish, "file-path", shared.outputs.jsonl.path.c_str(), nullptr);
  }
  return publish;
}

}  // namespace

bool uri_is_live(const std::string& uri) {
  for (const char* scheme :
       {"rtsp", "rtsps", "rtspt", "rtmp", "rtmps", "srt", "udp", "rtp", "v4l2", "hls+live"}) {
    if (uri.rfind(std::string(scheme) + "://", 0) == 0) return true;
  }
  return false;
}

std::string redact_uri(const std::string& uri) {
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return uri;
  const auto authority = scheme_end + 3;
  const auto path = uri.find('/', authority);
  const auto at = uri.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at == std::string::npos || at < authority) return uri;
  return uri.substr(0, authority) + uri.substr(at + 1);
}

void count_buffers(GstPad* pad, std::atomic<uint64_t>& count, prometheus::Counter* metric) {
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, &count_buffer, new BufferCount{&count, metric},
                    [](gpointer counting) { delete static_cast<BufferCount*>(counting); });
}

void count_frames_at(GstElement* pipeline, GstElement* sink,
                     const std::shared_ptr<StreamTelemetry>& telemetry) {
  attach_telemetry(pipeline, telemetry);
  GstPad* sink_pad = gst_element_get_static_pad(sink, "sink");
  count_buffers(sink_pad, telemetry->frames, nullptr);
  gst_object_unref(sink_pad);
}

void apply_alerts(GstElement* alert, const std::vector<pipeline::AlertRule>& rules) {
  const std::string text = alert_rules_json(rules).dump();  // JSON is YAML
  g_object_set(alert, "rules", text.c_str(), nullptr);
}

void apply_labels(GstElement* classify, const ClassifyConfig& config) {
  if (!config.element.labels_file.empty()) {
    g_object_set(classify, "labels-file", config.element.labels_file.c_str(), nullptr);
  } else {
    // Labels first, then the file cleared: the element never sees neither.
    const std::string joined = join_labels(config.labels);
    g_object_set(classify, "labels", joined.c_str(), "labels-file", nullptr, nullptr);
  }
}

StreamPipeline build_stream_pipeline(const StreamConfig& stream, const SharedContexts& shared,
                                     const std::shared_ptr<StreamTelemetry>& telemetry) {
  const DecodePolicy policy = decode_policy(stream, shared.cuda);
  StreamPipeline built;
  built.pipeline = gst_pipeline_new(stream.id.c_str());
  gst_object_ref_sink(built.pipeline);
  try {
    // Each element goes into the bin as soon as it exists, so a later failure frees it with it.
    auto add = [&](GstElement* element) {
      gst_bin_add(GST_BIN(built.pipeline), element);
      return element;
    };
    GstElement* source = add(make_element("uridecodebin", "gstreamer1.0-plugins-base", "source"));
    g_object_set(source, "uri", stream.uri.c_str(), nullptr);
    built.queue = add(make_element("queue", "gstreamer1.0-tools (core)", "decoded"));
    const bool live = uri_is_live(stream.uri);
    telemetry->leaky = live;
    // Time and bytes unbounded: the frame count alone bounds memory whatever the resolution.
    g_object_set(built.queue, "max-size-buffers", shared.queue_max_buffers, "max-size-bytes", 0u,
                 "max-size-time", static_cast<guint64>(0), nullptr);
    if (live) gst_util_set_object_arg(G_OBJECT(built.queue), "leaky", "downstream");
    GstElement* convert = add(make_element("videoconvert", "gstreamer1.0-plugins-base", "convert"));
    std::vector<GstElement*> chain{built.queue, convert};
    if (stream.tasks.classify.enabled) {
      built.classify = add(make_classify(stream, shared));
      chain.push_back(built.classify);
      if (shared.search.enabled) {
        built.index = add(make_index(stream, shared));
        chain.push_back(built.index);
      }
      if (!stream.alerts.empty()) {  // the config checked that alerts come with classify
        built.alert = add(make_alert(stream, shared));
        chain.push_back(built.alert);
      }
    }
    if (stream.tasks.caption.enabled) {
      built.caption = add(make_caption(stream, shared));
      chain.push_back(built.caption);
    }
    built.publish = add(make_publish(stream, shared));
    chain.push_back(built.publish);
    GstElement* sink = add(make_element("fakesink", "gstreamer1.0-tools (core)", "sink"));
    g_object_set(sink, "sync", stream.realtime ? TRUE : FALSE, "async", FALSE, nullptr);
    chain.push_back(sink);

    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      if (!gst_element_link(chain[i], chain[i + 1])) {
        throw std::runtime_error("cannot link " + std::string(GST_ELEMENT_NAME(chain[i])) + " to " +
                                 GST_ELEMENT_NAME(chain[i + 1]));
      }
    }
    restrict_decoders(source, policy);
    // Clips are recorded from the encoded stream, on streams with alerts only.
    const std::string recordings =
        built.alert != nullptr ? stream_recordings_dir(shared.recording, stream.id) : "";
    EncodedBranch branch;
    branch.pipeline = built.pipeline;
    branch.decoded = built.queue;
    branch.policy = policy;
    branch.decode_frames = stream.decode_frames;
    branch.stream_id = stream.id;
    if (!recordings.empty()) branch.record_location = recordings + "/%s.mp4";
    branch.limits = shared.recording.limits;
    branch.realtime = stream.realtime;
    branch.telemetry = telemetry;
    route_source_video(source, std::move(branch));
    if (built.alert != nullptr && shared.events) EventLog::watch(built.pipeline, shared.events);
    g_signal_connect(built.pipeline, "deep-element-added", G_CALLBACK(on_element_added),
                     telemetry.get());
    g_signal_connect(built.queue, "overrun", G_CALLBACK(on_overrun), telemetry.get());
    // Frames out of the decoder, counted where they enter the queue of decoded frames.
    GstPad* decoded_sink = gst_element_get_static_pad(built.queue, "sink");
    count_buffers(decoded_sink, telemetry->frames_decoded, telemetry->decoded_metric);
    gst_object_unref(decoded_sink);
    // Progress (frames, fps, stall detection) is counted where frames leave the pipeline: frames
    // of a file can be read far ahead into the elements' queues and then play for seconds, paced
    // by the sink, with nothing new entering; counted on entry, such a file looked stalled.
    count_frames_at(built.pipeline, sink, telemetry);
    GstPad* publish_sink = gst_element_get_static_pad(built.publish, "sink");
    gst_pad_add_probe(publish_sink, GST_PAD_PROBE_TYPE_BUFFER, &remember_results, telemetry.get(),
                      nullptr);
    gst_object_unref(publish_sink);

    for (GstContext* context : {shared.engine, shared.metrics, shared.sink_pool}) {
      if (context != nullptr) gst_element_set_context(built.pipeline, context);
    }
  } catch (...) {
    gst_object_unref(built.pipeline);
    throw;
  }
  return built;
}

}  // namespace ivs::service
