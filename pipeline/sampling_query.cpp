// SPDX-License-Identifier: Apache-2.0
#include "pipeline/sampling_query.h"

#include <algorithm>
#include <cmath>

namespace ivs::pipeline {
namespace {

constexpr const char* kName = "internvl-sampling";

}  // namespace

GstQuery* new_sampling_query() {
  GstStructure* structure =
      gst_structure_new(kName, "fps", G_TYPE_DOUBLE, 0.0, "every-frame", G_TYPE_BOOLEAN, FALSE,
                        "consumers", G_TYPE_UINT, 0u, nullptr);
  return gst_query_new_custom(GST_QUERY_CUSTOM, structure);
}

bool is_sampling_query(GstQuery* query) {
  if (GST_QUERY_TYPE(query) != GST_QUERY_CUSTOM) return false;
  const GstStructure* structure = gst_query_get_structure(query);
  return structure != nullptr && gst_structure_has_name(structure, kName);
}

void add_sampling_need(GstQuery* query, double selection_fps) {
  const SamplingNeed before = read_sampling_need(query);
  GstStructure* structure = gst_query_writable_structure(query);
  const bool time_based = selection_fps > 0.0 && std::isfinite(selection_fps);
  gst_structure_set(structure, "fps", G_TYPE_DOUBLE,
                    time_based ? std::max(before.fps, selection_fps) : before.fps, "every-frame",
                    G_TYPE_BOOLEAN, before.every_frame || !time_based ? TRUE : FALSE, "consumers",
                    G_TYPE_UINT, before.consumers + 1, nullptr);
}

SamplingNeed read_sampling_need(GstQuery* query) {
  SamplingNeed need;
  const GstStructure* structure = gst_query_get_structure(query);
  if (structure == nullptr) return need;
  gboolean every_frame = FALSE;
  gst_structure_get_double(structure, "fps", &need.fps);
  gst_structure_get_boolean(structure, "every-frame", &every_frame);
  gst_structure_get_uint(structure, "consumers", &need.consumers);
  need.every_frame = every_frame != FALSE;
  return need;
}

gboolean answer_sampling_query(GstPad* sinkpad, GstObject* parent, GstQuery* query,
                               double selection_fps) {
  add_sampling_need(query, selection_fps);
  gst_pad_query_default(sinkpad, parent, query);
  return TRUE;
}

}  // namespace ivs::pipeline
