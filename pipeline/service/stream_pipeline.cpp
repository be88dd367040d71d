// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/stream_pipeline.h"

#include <algorithm>
#include <stdexcept>

#include "pipeline/result_meta.h"
#include "pipeline/service/alerts_config.h"

namespace ivs::service {
namespace {

// decodebin's GstAutoplugSelectResult: not in a public header, stable since 0.10.
enum AutoplugSelect { kAutoplugTry = 0, kAutoplugExpose = 1, kAutoplugSkip = 2 };

struct Names {
  const char* factory;
  const char* package;
};

GstElement* make(const Names& names, const std::string& name) {
  GstElement* element = gst_element_factory_make(names.factory, name.c_str());
  if (element == nullptr) {
    throw std::runtime_error(std::string("GStreamer element '") + names.factory +
                             "' is not available; install " + names.package +
                             " (deploy/install-deps.sh installs everything)");
  }
  return element;
}

bool has_prefix(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

bool is_video_decoder(GstElementFactory* factory) {
  return gst_element_factory_list_is_type(
      factory, GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO);
}

// NVIDIA (nvcodec: nvh264dec, nvh265dec, nvvp9dec, ...) decoders.
bool is_nvidia_decoder(GstElementFactory* factory) {
  return has_prefix(GST_OBJECT_NAME(factory), "nv") && is_video_decoder(factory);
}

// Hardware decoders of any vendor: skipped for decode: cpu.
bool is_hardware_decoder(GstElementFactory* factory) {
  if (!is_video_decoder(factory)) return false;
  const char* klass = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
  const std::string name = GST_OBJECT_NAME(factory);
  return (klass != nullptr && std::string(klass).find("Hardware") != std::string::npos) ||
         has_prefix(name, "nv") || has_prefix(name, "va") || has_prefix(name, "v4l2") ||
         has_prefix(name, "qsv") || has_prefix(name, "msdk");
}

// Whether an NVIDIA decoder that decodebin would autoplug (rank MARGINAL or more) exists, and,
// given `caps`, takes them.
bool nvidia_decoder_for(GstCaps* caps = nullptr) {
  GList* decoders = gst_element_factory_list_get_elements(
      GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_MARGINAL);
  GList* matching = caps != nullptr
                        ? gst_element_factory_list_filter(decoders, caps, GST_PAD_SINK, FALSE)
                        : nullptr;
  bool found = false;
  for (GList* item = caps != nullptr ? matching : decoders; item != nullptr && !found;
       item = item->next) {
    found = is_nvidia_decoder(GST_ELEMENT_FACTORY(item->data));
  }
  gst_plugin_feature_list_free(matching);
  gst_plugin_feature_list_free(decoders);
  return found;
}

enum class DecodePolicy { kCpuOnly, kPreferNvidia, kNvidiaOnly, kAny };

gint autoplug_select(GstElement* /*bin*/, GstPad* /*pad*/, GstCaps* caps,
                     GstElementFactory* factory, gpointer policy_pointer) {
  const auto policy = static_cast<DecodePolicy>(GPOINTER_TO_INT(policy_pointer));
  if (!is_video_decoder(factory)) return kAutoplugTry;
  switch (policy) {
    case DecodePolicy::kCpuOnly:
      return is_hardware_decoder(factory) ? kAutoplugSkip : kAutoplugTry;
    case DecodePolicy::kNvidiaOnly:
      return is_nvidia_decoder(factory) ? kAutoplugTry : kAutoplugSkip;
    case DecodePolicy::kPreferNvidia:
      if (is_nvidia_decoder(factory)) return kAutoplugTry;
      return nvidia_decoder_for(caps)
                 ? kAutoplugSkip
                 : (is_hardware_decoder(factory) ? kAutoplugSkip : kAutoplugTry);
    case DecodePolicy::kAny:
      break;
  }
  return kAutoplugTry;
}

// uridecodebin exposes a pad per stream: the first video one goes to the queue, others stay
// unlinked (decodebin tolerates unlinked pads while one is linked).
void on_pad_added(GstElement* /*decodebin*/, GstPad* pad, gpointer queue_pointer) {
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
  const GstStructure* structure =
      caps != nullptr && !gst_caps_is_empty(caps) ? gst_caps_get_structure(caps, 0) : nullptr;
  const bool video =
      structure != nullptr && g_str_has_prefix(gst_structure_get_name(structure), "video/");
  if (caps != nullptr) gst_caps_unref(caps);
  if (!video) return;
  GstPad* sink = gst_element_get_static_pad(GST_ELEMENT(queue_pointer), "sink");
  if (!gst_pad_is_linked(sink)) {
    const GstPadLinkReturn linked = gst_pad_link(pad, sink);
    if (linked != GST_PAD_LINK_OK) {
      g_warning("%s: cannot link the decoded video (%s)",
                GST_ELEMENT_NAME(GST_ELEMENT_PARENT(queue_pointer)), gst_pad_link_get_name(linked));
    }
  }
  gst_object_unref(sink);
}

// The decoder in use, for the status page (deep-element-added of the pipeline).
void on_element_added(GstBin* /*bin*/, GstBin* /*sub_bin*/, GstElement* element,
                      gpointer telemetry_pointer) {
  GstElementFactory* factory = gst_element_get_factory(element);
  if (factory == nullptr || !is_video_decoder(factory)) return;
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

GstPadProbeReturn count_frame(GstPad* /*pad*/, GstPadProbeInfo* /*info*/,
                              gpointer telemetry_pointer) {
  auto* telemetry = static_cast<StreamTelemetry*>(telemetry_pointer);
  ++telemetry->frames;
  if (telemetry->frames_metric != nullptr) telemetry->frames_metric->Increment();
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
      make({"internvlclassify", "the internvl plugin (this project)"}, "classify");
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
  GstElement* alert = make({"internvlalert", "the internvl plugin (this project)"}, "alert");
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
  GstElement* index = make({"internvlindex", "the internvl plugin (this project)"}, "index");
  const std::string location = shared.search.index.dir.string();
  const plugins::IndexElementSettings& e = shared.search.element;
  g_object_set(index, "location", location.c_str(), "stream-id", stream.id.c_str(), "thumbnails",
               e.thumbnails ? TRUE : FALSE, "thumbnail-size", e.thumbnail_size, nullptr);
  return index;
}

GstElement* make_caption(const StreamConfig& stream, const SharedContexts& shared) {
  const plugins::CaptionElementSettings& c = stream.tasks.caption.element;
  GstElement* caption = make({"internvlcaption", "the internvl plugin (this project)"}, "caption");
  set_engine_properties(caption, shared);
  g_object_set(caption, "stream-id", stream.id.c_str(), "prompt", c.caption.prompt.c_str(),
               "num-beams", static_cast<guint>(c.caption.num_beams), "min-new-tokens",
               static_cast<guint>(c.caption.min_new_tokens), "max-new-tokens",
               static_cast<guint>(c.caption.max_new_tokens), "interval", c.interval,
               "selection-fps", c.selection_fps, nullptr);
  return caption;
}

GstElement* make_publish(const StreamConfig& stream, const SharedContexts& shared) {
  GstElement* publish = make({"internvlpublish", "the internvl plugin (this project)"}, "publish");
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

// What the source's pad-added needs to split an encoded stream between internvlrecord and the
// decoder. Owned by the signal handler (freed with it).
struct EncodedBranch {
  GstElement* pipeline;  // borrowed: the handler lives no longer than the pipeline
  GstElement* decoded;   // the queue of decoded frames
  DecodePolicy policy;
  std::string stream_id;
  std::string location;  // <recordings_dir>/<stream id>/%s.mp4
  pipeline::ClipLimits limits;
  bool realtime;  // the stream's `realtime`: the recording keeps the file's pace too
  std::shared_ptr<StreamTelemetry> telemetry;
  bool built = false;  // streaming thread only: one encoded video stream is recorded
};

// Parsed H.264/H.265, access units (what internvlrecord takes), ahead of the default raw caps:
// uridecodebin stops there for these codecs and decodes every other one as before.
GstCaps* encoded_or_raw_caps(GstElement* source) {
  GstCaps* raw = nullptr;
  g_object_get(source, "caps", &raw, nullptr);
  GstCaps* caps = gst_caps_from_string(
      "video/x-h264, parsed=(boolean)true, alignment=(string)au; "
      "video/x-h265, parsed=(boolean)true, alignment=(string)au");
  if (raw != nullptr) caps = gst_caps_merge(caps, raw);
  return caps;
}

// Links `from` to `to` or throws naming both.
void link_or_throw(GstElement* from, GstElement* to) {
  if (!gst_element_link(from, to)) {
    throw std::runtime_error("cannot link " + std::string(GST_ELEMENT_NAME(from)) + " to " +
                             GST_ELEMENT_NAME(to));
  }
}

// tee ! queue ! internvlrecord and tee ! queue ! decodebin, added while the pipeline starts
// (a sink added for a stream that never comes would hold the pipeline's preroll).
GstElement* build_encoded_branch(EncodedBranch& branch) {
  GstBin* bin = GST_BIN(branch.pipeline);
  GstElement* tee = make({"tee", "gstreamer1.0-tools (core)"}, "encoded");
  GstElement* record_queue = make({"queue", "gstreamer1.0-tools (core)"}, "record-queue");
  GstElement* record = make({"internvlrecord", "the internvl plugin (this project)"}, "record");
  GstElement* decode_queue = make({"queue", "gstreamer1.0-tools (core)"}, "decode-queue");
  GstElement* decoder = make({"decodebin", "gstreamer1.0-plugins-base"}, "decoder");
  gst_bin_add_many(bin, tee, record_queue, record, decode_queue, decoder, nullptr);
  g_object_set(record, "location", branch.location.c_str(), "stream-id", branch.stream_id.c_str(),
               "pre-roll", branch.limits.pre_roll_seconds, "post-roll",
               branch.limits.post_roll_seconds, "max-duration", branch.limits.max_duration_seconds,
               "async", FALSE, nullptr);
  // internvlrecord never runs more than max-lag ahead of the alert's decisions; a realtime file
  // is paced at the clock as well, so that the analysis branch does not gather max-lag of
  // frames in its queues (the drain at shutdown would wait for them, in real time).
  if (branch.realtime) g_object_set(record, "sync", TRUE, nullptr);
  g_signal_connect(decoder, "autoplug-select", G_CALLBACK(autoplug_select),
                   GINT_TO_POINTER(static_cast<int>(branch.policy)));
  g_signal_connect(decoder, "pad-added", G_CALLBACK(on_pad_added), branch.decoded);
  link_or_throw(tee, record_queue);
  link_or_throw(record_queue, record);
  link_or_throw(tee, decode_queue);
  link_or_throw(decode_queue, decoder);
  for (GstElement* element : {record, record_queue, decoder, decode_queue, tee})
    gst_element_sync_state_with_parent(element);
  return tee;
}

// The recording variant of on_pad_added: the encoded video goes to a new tee, decoded video
// (a codec internvlrecord does not take) straight to the queue, as without recordings.
void on_encoded_pad_added(GstElement* source, GstPad* pad, gpointer branch_pointer) {
  auto& branch = *static_cast<EncodedBranch*>(branch_pointer);
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
  const std::string name = caps != nullptr && !gst_caps_is_empty(caps)
                               ? gst_structure_get_name(gst_caps_get_structure(caps, 0))
                               : "";
  if (caps != nullptr) gst_caps_unref(caps);
  if (name == "video/x-raw") {
    if (!branch.telemetry->said_not_recorded.exchange(true)) {
      g_message(
          "stream %s: the video is neither H.264 nor H.265: alerts fire, snapshots are "
          "written, but no clips are recorded (internvlrecord keeps the encoded stream)",
          branch.stream_id.c_str());
    }
    on_pad_added(source, pad, branch.decoded);
    return;
  }
  if ((name != "video/x-h264" && name != "video/x-h265") || branch.built) return;
  branch.built = true;
  try {
    GstElement* tee = build_encoded_branch(branch);
    GstPad* tee_sink = gst_element_get_static_pad(tee, "sink");
    const GstPadLinkReturn linked = gst_pad_link(pad, tee_sink);
    gst_object_unref(tee_sink);
    if (linked != GST_PAD_LINK_OK)
      throw std::runtime_error(std::string("cannot link the encoded video (") +
                               gst_pad_link_get_name(linked) + ")");
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(source, CORE, NEGOTIATION, ("recording branch: %s", e.what()), (nullptr));
  }
}

void free_encoded_branch(gpointer branch, GClosure* /*closure*/) {
  delete static_cast<EncodedBranch*>(branch);
}

DecodePolicy decode_policy(const StreamConfig& stream, const SharedContexts& shared) {
  if (stream.decode == "cpu") return DecodePolicy::kCpuOnly;
  if (stream.decode == "gpu") {
    if (!nvidia_decoder_for()) {
      throw std::runtime_error(
          "stream '" + stream.id +
          "' asks for decode: gpu, but no NVIDIA decoder (nvcodec "
          "plugin of gstreamer1.0-plugins-bad, with a CUDA driver) is available; use "
          "decode: auto or cpu");
    }
    return DecodePolicy::kNvidiaOnly;
  }
  return shared.cuda && nvidia_decoder_for() ? DecodePolicy::kPreferNvidia : DecodePolicy::kCpuOnly;
}

}  // namespace

bool uri_is_live(const std::string& uri) {
  for (const char* scheme :
       {"rtsp", "rtsps", "rtspt", "rtmp", "rtmps", "srt", "udp", "rtp", "v4l2", "hls+live"}) {
    if (has_prefix(uri, (std::string(scheme) + "://").c_str())) return true;
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

void count_frames_at(GstElement* pipeline, GstElement* sink,
                     const std::shared_ptr<StreamTelemetry>& telemetry) {
  attach_telemetry(pipeline, telemetry);
  GstPad* sink_pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(sink_pad, GST_PAD_PROBE_TYPE_BUFFER, &count_frame, telemetry.get(), nullptr);
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
  const DecodePolicy policy = decode_policy(stream, shared);
  StreamPipeline built;
  built.pipeline = gst_pipeline_new(stream.id.c_str());
  gst_object_ref_sink(built.pipeline);
  try {
    // Each element goes into the bin as soon as it exists, so a later failure frees it with it.
    auto add = [&](GstElement* element) {
      gst_bin_add(GST_BIN(built.pipeline), element);
      return element;
    };
    GstElement* source = add(make({"uridecodebin", "gstreamer1.0-plugins-base"}, "source"));
    g_object_set(source, "uri", stream.uri.c_str(), nullptr);
    built.queue = add(make({"queue", "gstreamer1.0-tools (core)"}, "decoded"));
    const bool live = uri_is_live(stream.uri);
    telemetry->leaky = live;
    // Time and bytes unbounded: the frame count alone bounds memory whatever the resolution.
    g_object_set(built.queue, "max-size-buffers", shared.queue_max_buffers, "max-size-bytes", 0u,
                 "max-size-time", static_cast<guint64>(0), nullptr);
    if (live) gst_util_set_object_arg(G_OBJECT(built.queue), "leaky", "downstream");
    GstElement* convert = add(make({"videoconvert", "gstreamer1.0-plugins-base"}, "convert"));
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
    GstElement* sink = add(make({"fakesink", "gstreamer1.0-tools (core)"}, "sink"));
    g_object_set(sink, "sync", stream.realtime ? TRUE : FALSE, "async", FALSE, nullptr);
    chain.push_back(sink);

    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      if (!gst_element_link(chain[i], chain[i + 1])) {
        throw std::runtime_error("cannot link " + std::string(GST_ELEMENT_NAME(chain[i])) + " to " +
                                 GST_ELEMENT_NAME(chain[i + 1]));
      }
    }
    g_signal_connect(source, "autoplug-select", G_CALLBACK(autoplug_select),
                     GINT_TO_POINTER(static_cast<int>(policy)));
    const std::string recordings = stream_recordings_dir(shared.recording, stream.id);
    if (built.alert != nullptr && !recordings.empty()) {
      GstCaps* caps = encoded_or_raw_caps(source);
      g_object_set(source, "caps", caps, nullptr);
      gst_caps_unref(caps);
      auto* branch = new EncodedBranch{
          built.pipeline,          built.queue,     policy,   stream.id, recordings + "/%s.mp4",
          shared.recording.limits, stream.realtime, telemetry};
      g_signal_connect_data(source, "pad-added", G_CALLBACK(on_encoded_pad_added), branch,
                            &free_encoded_branch, GConnectFlags(0));
    } else {
      g_signal_connect(source, "pad-added", G_CALLBACK(on_pad_added), built.queue);
    }
    if (built.alert != nullptr && shared.events) EventLog::watch(built.pipeline, shared.events);
    g_signal_connect(built.pipeline, "deep-element-added", G_CALLBACK(on_element_added),
                     telemetry.get());
    g_signal_connect(built.queue, "overrun", G_CALLBACK(on_overrun), telemetry.get());
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
