// SPDX-License-Identifier: Apache-2.0
#include "pipeline/context_lookup.h"

namespace ivs::pipeline {
namespace {

bool own_context_accepted(GstElement* element, const char* type,
                          const std::function<bool(const GstContext*)>& accepts) {
  GstContext* context = gst_element_get_context(element, type);
  if (context == nullptr) return false;
  const bool accepted = accepts(context);
  gst_context_unref(context);
  return accepted;
}

gboolean query_peer(const GValue* item, GValue* answered, gpointer query) {
  auto* pad = GST_PAD(g_value_get_object(item));
  if (gst_pad_peer_query(pad, static_cast<GstQuery*>(query))) {
    g_value_set_boolean(answered, TRUE);
    return FALSE;  // stop at the first answer
  }
  return TRUE;
}

bool run_query(GstElement* element, GstQuery* query, GstPadDirection direction) {
  GstIterator* pads = direction == GST_PAD_SRC ? gst_element_iterate_src_pads(element)
                                               : gst_element_iterate_sink_pads(element);
  GValue answered = G_VALUE_INIT;
  g_value_init(&answered, G_TYPE_BOOLEAN);
  while (gst_iterator_fold(pads, query_peer, &answered, query) == GST_ITERATOR_RESYNC) {
    gst_iterator_resync(pads);
  }
  gst_iterator_free(pads);
  return g_value_get_boolean(&answered);
}

// Downstream first, then upstream, as GStreamer's GL and CUDA helpers do.
bool peer_context_accepted(GstElement* element, const char* type,
                           const std::function<bool(const GstContext*)>& accepts) {
  for (auto direction : {GST_PAD_SRC, GST_PAD_SINK}) {
    GstQuery* query = gst_query_new_context(type);
    GstContext* context = nullptr;
    if (run_query(element, query, direction)) gst_query_parse_context(query, &context);
    const bool accepted = context != nullptr && accepts(context);
    if (accepted) gst_element_set_context(element, context);
    gst_query_unref(query);
    if (accepted) return true;
  }
  return false;
}

}  // namespace

bool find_shared_context(GstElement* element, const char* type,
                         const std::function<bool(const GstContext*)>& accepts) {
  if (own_context_accepted(element, type, accepts)) return true;
  if (peer_context_accepted(element, type, accepts)) return true;
  gst_element_post_message(element, gst_message_new_need_context(GST_OBJECT(element), type));
  return own_context_accepted(element, type, accepts);
}

void announce_context(GstElement* element, GstContext* context) {
  gst_element_set_context(element, context);
  gst_element_post_message(element, gst_message_new_have_context(GST_OBJECT(element), context));
}

}  // namespace ivs::pipeline
