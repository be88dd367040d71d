// SPDX-License-Identifier: Apache-2.0
// InternVLResultMeta: our results on a GstBuffer. Add and read it only through the two
// functions below. The C struct holds a pointer to the C++ payload (ResultRecords), created in
// the meta's init and destroyed in its free; copies (GST_META_TRANSFORM_IS_COPY) deep-copy it,
// appending to a meta the destination already has. The API has no tags (the results hold no
// pixel coordinates), so the meta survives scaling, conversion and any element that copies
// metas; region copies (byte ranges of a buffer) do not carry it. See result_meta.cpp.
#pragma once

#include <gst/gst.h>

#include "pipeline/engine/result_records.h"

G_BEGIN_DECLS

typedef struct _GstInternVLResultMeta {
  GstMeta meta;
  ivs::pipeline::ResultRecords* records;  // owned; never null on a meta from this API
} GstInternVLResultMeta;

GType gst_internvl_result_meta_api_get_type(void);
#define GST_INTERNVL_RESULT_META_API_TYPE (gst_internvl_result_meta_api_get_type())

const GstMetaInfo* gst_internvl_result_meta_get_info(void);
#define GST_INTERNVL_RESULT_META_INFO (gst_internvl_result_meta_get_info())

/// Adds an empty meta to a writable buffer, or returns the one already there (elements
/// append entries to a shared meta). A buffer that is not writable is a programming error:
/// like gst_buffer_add_meta, it logs a critical and returns NULL.
GstInternVLResultMeta* gst_buffer_add_internvl_result_meta(GstBuffer* buffer);

/// The meta on `buffer`, or NULL.
GstInternVLResultMeta* gst_buffer_get_internvl_result_meta(GstBuffer* buffer);

G_END_DECLS

namespace ivs::pipeline {

/// The latest kClassification entry on `buffer` that carries an image embedding: what
/// internvlclassify attaches to a sampled frame, read by the elements that reuse the embedding
/// (alerts, search index). NULL when the buffer has none; valid while the buffer's meta is.
const ResultEntry* sampled_embedding_entry(GstBuffer* buffer);

}  // namespace ivs::pipeline
