// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/encoded_branch.h"

#include <stdexcept>
#include <vector>

namespace ivs::service {
namespace {

constexpr const char* kOurPlugin = "the internvl plugin (this project)";
constexpr const char* kCore = "gstreamer1.0-tools (core)";
constexpr const char* kKeyframesName = "keyframes";
constexpr const char* kPaceName = "pace";

// The media type of what `pad` carries ("video/x-h264"), or "" when it cannot say yet.
std::string media_type(GstPad* pad) {
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (caps == nullptr) caps = gst_pad_query_caps(pad, nullptr);
  const std::string name = caps != nullptr && !gst_caps_is_empty(caps)
                               ? gst_structure_get_name(gst_caps_get_structure(caps, 0))
                               : "";
  if (caps != nullptr) gst_caps_unref(caps);
  return name;
}

// Links a pad of decoded video to the queue, unless another one got there first (decodebin
// tolerates unlinked pads while one is linked). Returns whether this one is linked now.
bool link_decoded(GstPad* pad, GstElement* queue) {
  if (media_type(pad).rfind("video/", 0) != 0) return false;
  GstPad* sink = gst_element_get_static_pad(queue, "sink");
  bool linked = false;
  if (!gst_pad_is_linked(sink)) {
    const GstPadLinkReturn result = gst_pad_link(pad, sink);
    linked = result == GST_PAD_LINK_OK;
    if (!linked) {
      g_warning("%s: cannot link the decoded video (%s)",
                GST_ELEMENT_NAME(GST_ELEMENT_PARENT(queue)), gst_pad_link_get_name(result));
    }
  }
  gst_object_unref(sink);
  return linked;
}

void on_decoded_pad_added(GstElement* /*decodebin*/, GstPad* pad, gpointer queue) {
  link_decoded(pad, GST_ELEMENT(queue));
}

void count_received_at(GstPad* pad, StreamTelemetry* telemetry) {
  count_buffers(pad, telemetry->frames_received, telemetry->frames_metric);
}

// Parsed H.264/H.265, access units (what internvlkeyframes judges and internvlrecord takes),
// ahead of the default raw caps: uridecodebin stops there for these codecs and decodes every
// other one as before.
void stop_at_parsed_video(GstElement* source) {
  GstCaps* raw = nullptr;
  g_object_get(source, "caps", &raw, nullptr);
  GstCaps* caps = gst_caps_from_string(
      "video/x-h264, parsed=(boolean)true, alignment=(string)au; "
      "video/x-h265, parsed=(boolean)true, alignment=(string)au");
  if (raw != nullptr) caps = gst_caps_merge(caps, raw);
  g_object_set(source, "caps", caps, nullptr);
  gst_caps_unref(caps);
}

// Links `from` to `to` or throws naming both.
void link_or_throw(GstElement* from, GstElement* to) {
  if (!gst_element_link(from, to)) {
    throw std::runtime_error("cannot link " + std::string(GST_ELEMENT_NAME(from)) + " to " +
                             GST_ELEMENT_NAME(to));
  }
}

// A new element in `pipeline`, listed in `added`.
GstElement* add_new(GstElement* pipeline, std::vector<GstElement*>& added, const char* factory,
                    const char* package, const char* name) {
  added.push_back(make_element(factory, package, name));
  gst_bin_add(GST_BIN(pipeline), added.back());
  return added.back();
}

// tee ! queue ! internvlrecord and tee ! queue, ahead of `decode`; returns the tee.
GstElement* add_recording(const EncodedBranch& branch, std::vector<GstElement*>& added,
                          GstElement* decode) {
  GstElement* record = add_new(branch.pipeline, added, "internvlrecord", kOurPlugin, "record");
  GstElement* record_queue = add_new(branch.pipeline, added, "queue", kCore, "record-queue");
  GstElement* decode_queue = add_new(branch.pipeline, added, "queue", kCore, "decode-queue");
  GstElement* tee = add_new(branch.pipeline, added, "tee", kCore, "encoded");
  g_object_set(record, "location", branch.record_location.c_str(), "stream-id",
               branch.stream_id.c_str(), "pre-roll", branch.limits.pre_roll_seconds, "post-roll",
               branch.limits.post_roll_seconds, "max-duration", branch.limits.max_duration_seconds,
               "async", FALSE, nullptr);
  // internvlrecord never runs more than max-lag ahead of the alert's decisions; a realtime file
  // is paced at the clock as well, so that the analysis branch does not gather max-lag of
  // frames in its queues (the drain at shutdown would wait for them, in real time).
  if (branch.realtime) g_object_set(record, "sync", TRUE, nullptr);
  link_or_throw(tee, record_queue);
  link_or_throw(record_queue, record);
  link_or_throw(tee, decode_queue);
  link_or_throw(decode_queue, decode);
  return tee;
}

// internvlkeyframes ! decodebin [behind the recording's tee], added while the pipeline starts
// (a sink added for a stream that never comes would hold the pipeline's preroll). Returns the
// element the source's pad goes to.
GstElement* build_encoded_branch(const EncodedBranch& branch) {
  std::vector<GstElement*> added;  // downstream first: the order their states are synced in
  GstElement* decoder =
      add_new(branch.pipeline, added, "decodebin", "gstreamer1.0-plugins-base", "decoder");
  GstElement* keyframes =
      add_new(branch.pipeline, added, "internvlkeyframes", kOurPlugin, kKeyframesName);
  g_object_set(keyframes, "mode", static_cast<gint>(branch.decode_frames), nullptr);
  restrict_decoders(decoder, branch.policy);
  g_signal_connect(decoder, "pad-added", G_CALLBACK(on_decoded_pad_added), branch.decoded);
  link_or_throw(keyframes, decoder);
  GstPad* keyframes_sink = gst_element_get_static_pad(keyframes, "sink");
  count_received_at(keyframes_sink, branch.telemetry.get());
  gst_object_unref(keyframes_sink);
  GstElement* entry = keyframes;
  if (!branch.record_location.empty()) entry = add_recording(branch, added, keyframes);
  if (branch.realtime) {
    // A realtime file hands its packets on at their time, as a camera would. Paced only at the
    // sink, it would be read ahead into the decoder's and the elements' queues: with key frames
    // only, a minute of video, which the drain at shutdown then waits for in real time.
    GstElement* pace = add_new(branch.pipeline, added, "clocksync", kCore, kPaceName);
    link_or_throw(pace, entry);
    entry = pace;
  }
  for (GstElement* element : added) gst_element_sync_state_with_parent(element);
  return entry;
}

// Owned by the source's pad-added handler (freed with it).
struct SourceLinks {
  EncodedBranch branch;
  bool built = false;  // streaming thread only: one encoded video stream is decoded
};

void on_source_pad_added(GstElement* source, GstPad* pad, gpointer links_pointer) {
  auto& links = *static_cast<SourceLinks*>(links_pointer);
  const EncodedBranch& branch = links.branch;
  const std::string name = media_type(pad);
  if (name == "video/x-raw") {
    if (!branch.record_location.empty() && !branch.telemetry->said_not_recorded.exchange(true)) {
      g_message(
          "stream %s: the video is neither H.264 nor H.265: alerts fire, snapshots are "
          "written, but no clips are recorded (internvlrecord keeps the encoded stream)",
          branch.stream_id.c_str());
    }
    if (link_decoded(pad, branch.decoded)) count_received_at(pad, branch.telemetry.get());
    return;
  }
  if ((name != "video/x-h264" && name != "video/x-h265") || links.built) return;
  links.built = true;
  try {
    GstElement* entry = build_encoded_branch(branch);
    GstPad* entry_sink = gst_element_get_static_pad(entry, "sink");
    const GstPadLinkReturn linked = gst_pad_link(pad, entry_sink);
    gst_object_unref(entry_sink);
    if (linked != GST_PAD_LINK_OK)
      throw std::runtime_error(std::string("cannot link the encoded video (") +
                               gst_pad_link_get_name(linked) + ")");
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(source, CORE, NEGOTIATION, ("video branch: %s", e.what()), (nullptr));
  }
}

void free_source_links(gpointer links, GClosure* /*closure*/) {
  delete static_cast<SourceLinks*>(links);
}

}  // namespace

void route_source_video(GstElement* source, EncodedBranch branch) {
  stop_at_parsed_video(source);
  g_signal_connect_data(source, "pad-added", G_CALLBACK(on_source_pad_added),
                        new SourceLinks{std::move(branch)}, &free_source_links, GConnectFlags(0));
}

GstPad* liveness_pad(GstElement* pipeline, GstElement* decoded_queue) {
  GstElement* pace = gst_bin_get_by_name(GST_BIN(pipeline), kPaceName);
  GstPad* pad = gst_element_get_static_pad(pace != nullptr ? pace : decoded_queue, "sink");
  if (pace != nullptr) gst_object_unref(pace);
  return pad;
}

KeyframesState keyframes_state(GstElement* pipeline) {
  KeyframesState state;
  GstElement* keyframes = gst_bin_get_by_name(GST_BIN(pipeline), kKeyframesName);
  if (keyframes == nullptr) return state;
  gint decoding = static_cast<gint>(pipeline::DecodeFrames::kAll);
  gdouble gop = 0.0;
  g_object_get(keyframes, "decoding", &decoding, "gop", &gop, nullptr);
  gst_object_unref(keyframes);
  state.decoding = static_cast<pipeline::DecodeFrames>(decoding);
  if (gop > 0.0) state.gop_seconds = gop;
  return state;
}

}  // namespace ivs::service
