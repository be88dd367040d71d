// SPDX-License-Identifier: Apache-2.0
// InternVLResultMeta, shaped like gsttensormeta: api_get_type with tags, get_info with
// init/free/transform, and the add/get functions as the only access.
//
// Tags: none. The results describe a whole frame and hold no pixel coordinates, so nothing in
// them goes stale when a frame is scaled, converted, cropped, flipped or re-encoded. GStreamer
// 1.22 keeps an untagged meta in every element that copies metas; a meta tagged only
// GST_META_TAG_VIDEO_STR is kept by videoconvert/videoscale and the video codec base classes,
// but dropped by a plain GstBaseTransform (checked: `rgb2bayer ! bayer2rgb` drops it, and
// CUDA upload/download elements are plain base transforms too), which would lose results
// between the inference element and the publisher.
#include "pipeline/result_meta.h"

#include <gst/video/video.h>

#include <exception>
#include <new>

namespace {

GST_DEBUG_CATEGORY_STATIC(internvl_result_meta_debug);
#define GST_CAT_DEFAULT internvl_result_meta_debug

using ivs::pipeline::ResultRecords;

gboolean result_meta_init(GstMeta* meta, gpointer /*params*/, GstBuffer* /*buffer*/) {
  auto* result_meta = reinterpret_cast<GstInternVLResultMeta*>(meta);
  // nothrow: no exception may cross into GStreamer; FALSE makes gst_buffer_add_meta fail.
  result_meta->records = new (std::nothrow) ResultRecords();
  return result_meta->records != nullptr;
}

void result_meta_free(GstMeta* meta, GstBuffer* /*buffer*/) {
  auto* result_meta = reinterpret_cast<GstInternVLResultMeta*>(meta);
  delete result_meta->records;
  result_meta->records = nullptr;
}

// Appends the source's entries to the destination's meta (a buffer may already carry one, e.g.
// when metas of two buffers are merged into one).
gboolean copy_entries(GstBuffer* dest, const GstInternVLResultMeta& source) {
  GstInternVLResultMeta* target = gst_buffer_add_internvl_result_meta(dest);
  if (target == nullptr) return FALSE;
  try {
    auto& entries = target->records->entries;
    entries.insert(entries.end(), source.records->entries.begin(), source.records->entries.end());
  } catch (const std::exception& e) {  // bad_alloc while copying strings
    GST_WARNING("cannot copy InternVL results to buffer %p: %s", static_cast<void*>(dest),
                e.what());
    return FALSE;
  }
  return TRUE;
}

// Which transforms keep the meta:
// - full copies (gst_buffer_copy, make_writable, base transforms copying metadata): deep copy;
// - region copies (a byte range of a buffer, e.g. an RTP payloader's fragments): not copied, a
//   fragment is not the frame the results describe and copying would publish them once per
//   fragment; TRUE as for GstVideoMeta, since skipping is the intended outcome;
// - video scale (GST_VIDEO_META_TRANSFORM_IS_SCALE): deep copy, per-frame results hold no
//   coordinates to rescale;
// - any other transform: dropped, as we cannot know what it changed.
gboolean result_meta_transform(GstBuffer* dest, GstMeta* meta, GstBuffer* /*buffer*/, GQuark type,
                               gpointer data) {
  const auto* source = reinterpret_cast<const GstInternVLResultMeta*>(meta);
  if (GST_META_TRANSFORM_IS_COPY(type)) {
    const auto* copy = static_cast<const GstMetaTransformCopy*>(data);
    if (copy != nullptr && copy->region) return TRUE;
    return copy_entries(dest, *source);
  }
  if (GST_VIDEO_META_TRANSFORM_IS_SCALE(type)) return copy_entries(dest, *source);
  return FALSE;
}

// A process can hold two copies of this code (a program that links ivs_pipeline and also loads
// libgstinternvl.so); the second copy reuses the first registration instead of failing.
GType register_api_type() {
  if (const GType existing = g_type_from_name("GstInternVLResultMetaAPI")) return existing;
  // No tags on purpose: see the comment at the top of this file.
  static const gchar* tags[] = {nullptr};
  return gst_meta_api_type_register("GstInternVLResultMetaAPI", tags);
}

const GstMetaInfo* register_meta_info() {
  GST_DEBUG_CATEGORY_INIT(internvl_result_meta_debug, "internvlresultmeta", 0,
                          "InternVL result meta");
  if (const GstMetaInfo* existing = gst_meta_get_info("GstInternVLResultMeta")) return existing;
  return gst_meta_register(GST_INTERNVL_RESULT_META_API_TYPE, "GstInternVLResultMeta",
                           sizeof(GstInternVLResultMeta), result_meta_init, result_meta_free,
                           result_meta_transform);
}

}  // namespace

GType gst_internvl_result_meta_api_get_type(void) {
  // Function-local statics initialise once and thread-safely (C++11), like g_once_init_enter.
  static const GType type = register_api_type();
  return type;
}

const GstMetaInfo* gst_internvl_result_meta_get_info(void) {
  static const GstMetaInfo* const info = register_meta_info();
  return info;
}

GstInternVLResultMeta* gst_buffer_add_internvl_result_meta(GstBuffer* buffer) {
  // Checked before looking for an existing meta: handing out a shared buffer's meta for
  // appending would change results other holders of that buffer see.
  g_return_val_if_fail(GST_IS_BUFFER(buffer), nullptr);
  g_return_val_if_fail(gst_buffer_is_writable(buffer), nullptr);
  if (GstInternVLResultMeta* existing = gst_buffer_get_internvl_result_meta(buffer)) {
    return existing;
  }
  return reinterpret_cast<GstInternVLResultMeta*>(
      gst_buffer_add_meta(buffer, GST_INTERNVL_RESULT_META_INFO, nullptr));
}

GstInternVLResultMeta* gst_buffer_get_internvl_result_meta(GstBuffer* buffer) {
  g_return_val_if_fail(GST_IS_BUFFER(buffer), nullptr);
  return reinterpret_cast<GstInternVLResultMeta*>(
      gst_buffer_get_meta(buffer, GST_INTERNVL_RESULT_META_API_TYPE));
}

namespace ivs::pipeline {

const ResultEntry* sampled_embedding_entry(GstBuffer* buffer) {
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr || meta->records == nullptr) return nullptr;
  const auto& entries = meta->records->entries;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->type == ResultType::kClassification && it->embedding) return &*it;
  }
  return nullptr;
}

}  // namespace ivs::pipeline
