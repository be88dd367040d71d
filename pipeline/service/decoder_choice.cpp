// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/decoder_choice.h"

#include <stdexcept>
#include <string>

namespace ivs::service {
namespace {

// decodebin's GstAutoplugSelectResult: not in a public header, stable since 0.10.
enum AutoplugSelect { kAutoplugTry = 0, kAutoplugExpose = 1, kAutoplugSkip = 2 };

bool has_prefix(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

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

}  // namespace

bool is_video_decoder(GstElementFactory* factory) {
  return gst_element_factory_list_is_type(
      factory, GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO);
}

DecodePolicy decode_policy(const StreamConfig& stream, bool cuda) {
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
  return cuda && nvidia_decoder_for() ? DecodePolicy::kPreferNvidia : DecodePolicy::kCpuOnly;
}

void limit_decoder_threads(GstElement* decoder) {
  GstElementFactory* factory = gst_element_get_factory(decoder);
  // One thread per libav decoder: the service runs many streams, which use the cores already,
  // while libav's default (one frame thread per core, plus one) multiplies threads and frame
  // buffers per stream for no CPU gained (1080p30, 8 streams on 2 cores: the same CPU time,
  // 16 threads and 330 MB fewer decoding all frames); its frame threading would also hold key
  // frames back were they not drained by internvlkeyframes' key-unit segment. A 1080p30 stream
  // takes about 0.13 of a core to decode in full.
  if (factory != nullptr && has_prefix(GST_OBJECT_NAME(factory), "avdec_") &&
      g_object_class_find_property(G_OBJECT_GET_CLASS(decoder), "max-threads") != nullptr) {
    g_object_set(decoder, "max-threads", 1, nullptr);
  }
}

void restrict_decoders(GstElement* decodebin, DecodePolicy policy) {
  g_signal_connect(decodebin, "autoplug-select", G_CALLBACK(autoplug_select),
                   GINT_TO_POINTER(static_cast<int>(policy)));
}

}  // namespace ivs::service
