// SPDX-License-Identifier: Apache-2.0
#include "pipeline/context_lookup.h"

#include <cstring>
#include <utility>

namespace ivs::pipeline {
namespace {

constexpr const char* kObjectField = "object";

// The boxed payload of a shared-object context; copies share the object.
struct ObjectBox {
  std::shared_ptr<void> object;
};

gpointer object_box_copy(gpointer boxed) {
  return new ObjectBox(*static_cast<const ObjectBox*>(boxed));
}

void object_box_free(gpointer boxed) { delete static_cast<ObjectBox*>(boxed); }

GType object_box_get_type() {
  static gsize type = 0;  // GType registrations are process-wide by GObject's design
  if (g_once_init_enter(&type)) {
    const GType registered =
        g_boxed_type_register_static("GstInternVLSharedObject", object_box_copy, object_box_free);
    g_once_init_leave(&type, registered);
  }
  return type;
}

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

bool answer_context_query(GstElement* element, GstQuery* query, const char* type) {
  const gchar* asked = nullptr;
  if (GST_QUERY_TYPE(query) != GST_QUERY_CONTEXT || !gst_query_parse_context_type(query, &asked) ||
      std::strcmp(asked, type) != 0) {
    return false;
  }
  GstContext* context = gst_element_get_context(element, type);
  if (context == nullptr) return false;
  gst_query_set_context(query, context);
  gst_context_unref(context);
  return true;
}

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

GstContext* shared_object_context_new(const char* type, std::shared_ptr<void> object) {
  GstContext* context = gst_context_new(type, TRUE);
  GstStructure* structure = gst_context_writable_structure(context);
  ObjectBox box{std::move(object)};
  gst_structure_set(structure, kObjectField, object_box_get_type(), &box, nullptr);  // copies
  return context;
}

std::shared_ptr<void> shared_object_in_context(const GstContext* context, const char* type) {
  if (context == nullptr || std::strcmp(gst_context_get_context_type(context), type) != 0)
    return nullptr;
  const GValue* value = gst_structure_get_value(gst_context_get_structure(context), kObjectField);
  if (value == nullptr || !G_VALUE_HOLDS(value, object_box_get_type())) return nullptr;
  const auto* box = static_cast<const ObjectBox*>(g_value_get_boxed(value));
  return box != nullptr ? box->object : nullptr;
}

}  // namespace ivs::pipeline
