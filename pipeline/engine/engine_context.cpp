// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine_context.h"

#include "pipeline/context_lookup.h"

#include <algorithm>
#include <cstring>

GST_DEBUG_CATEGORY_STATIC(internvl_engine_context_debug);
#define GST_CAT_DEFAULT internvl_engine_context_debug

namespace ivs::pipeline {
namespace {

constexpr const char* kEnginesField = "engines";

// The boxed payload of the context's "engines" field: copying the box copies
// the shared pointers, freeing it releases them, so each context (and each copy
// GStreamer makes) holds its engines exactly as long as it lives.
struct EngineSet {
  std::vector<std::shared_ptr<Engine>> engines;
};

gpointer engine_set_copy(gpointer boxed) {
  return new EngineSet(*static_cast<const EngineSet*>(boxed));
}

void engine_set_free(gpointer boxed) { delete static_cast<EngineSet*>(boxed); }

GType engine_set_get_type() {
  static gsize type = 0;  // GType registrations are process-wide by GObject's design
  if (g_once_init_enter(&type)) {
    const GType registered =
        g_boxed_type_register_static("GstInternVLEngineSet", engine_set_copy, engine_set_free);
    g_once_init_leave(&type, registered);
  }
  return type;
}

void init_debug() {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    GST_DEBUG_CATEGORY_INIT(internvl_engine_context_debug, "internvlengine", 0,
                            "InternVL engine sharing through GstContext");
    g_once_init_leave(&done, 1);
  }
}

// The canonical key looked for, and every engine met on the way, so that an
// announced context still carries the pipeline's other engines.
struct Search {
  EngineKey key;
  std::vector<std::shared_ptr<Engine>> seen;

  std::shared_ptr<Engine> match(const GstContext* context) {
    for (auto& engine : engines_in_context(context)) {
      if (engine->key() == key) return engine;
      if (std::find(seen.begin(), seen.end(), engine) == seen.end()) seen.push_back(engine);
    }
    return nullptr;
  }
};

std::shared_ptr<Engine> create_and_announce(GstElement* element, const EngineKey& key,
                                            const EngineOptions& options, Search& search) {
  auto engine = Engine::create(key, options);
  GST_INFO_OBJECT(element, "created the InternVL engine %s", engine->key().describe().c_str());
  search.seen.push_back(engine);
  announce_context(element, engine_context_new(search.seen));
  return engine;
}

}  // namespace

GstContext* engine_context_new(const std::vector<std::shared_ptr<Engine>>& engines) {
  GstContext* context = gst_context_new(kEngineContextType, TRUE);
  GstStructure* structure = gst_context_writable_structure(context);
  EngineSet set{engines};
  gst_structure_set(structure, kEnginesField, engine_set_get_type(), &set,
                    nullptr);  // copies
  return context;
}

std::vector<std::shared_ptr<Engine>> engines_in_context(const GstContext* context) {
  if (context == nullptr ||
      std::strcmp(gst_context_get_context_type(context), kEngineContextType) != 0) {
    return {};
  }
  const GValue* value = gst_structure_get_value(gst_context_get_structure(context), kEnginesField);
  if (value == nullptr || !G_VALUE_HOLDS(value, engine_set_get_type())) return {};
  const auto* set = static_cast<const EngineSet*>(g_value_get_boxed(value));
  return set != nullptr ? set->engines : std::vector<std::shared_ptr<Engine>>{};
}

std::shared_ptr<Engine> engine_from_context(const GstContext* context, const EngineKey& key) {
  Search search{Engine::canonical_key(key), {}};
  return search.match(context);
}

std::shared_ptr<Engine> acquire_engine(GstElement* element, const EngineKey& key,
                                       const EngineOptions& options) {
  init_debug();
  Search search{Engine::canonical_key(key), {}};
  std::shared_ptr<Engine> found;
  if (find_shared_context(element, kEngineContextType, [&](const GstContext* context) {
        found = search.match(context);
        return found != nullptr;
      })) {
    GST_DEBUG_OBJECT(element, "found the engine %s in the pipeline's context",
                     found->key().describe().c_str());
    return found;
  }
  return create_and_announce(element, key, options, search);
}

bool handle_engine_context_query(GstElement* element, GstQuery* query) {
  const gchar* type = nullptr;
  if (GST_QUERY_TYPE(query) != GST_QUERY_CONTEXT || !gst_query_parse_context_type(query, &type) ||
      std::strcmp(type, kEngineContextType) != 0) {
    return false;
  }
  GstContext* context = gst_element_get_context(element, kEngineContextType);
  if (context == nullptr) return false;
  gst_query_set_context(query, context);
  gst_context_unref(context);
  return true;
}

}  // namespace ivs::pipeline
