// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine_context.h"

#include "pipeline/context_lookup.h"

#include <algorithm>

GST_DEBUG_CATEGORY_STATIC(internvl_engine_context_debug);
#define GST_CAT_DEFAULT internvl_engine_context_debug

namespace ivs::pipeline {
namespace {

// The context holds an immutable engine list; each context (and each copy GStreamer makes)
// keeps its engines alive as long as it lives.
using EngineList = std::vector<std::shared_ptr<Engine>>;

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
  return shared_object_context_new(kEngineContextType, std::make_shared<EngineList>(engines));
}

std::vector<std::shared_ptr<Engine>> engines_in_context(const GstContext* context) {
  const auto list = std::static_pointer_cast<const EngineList>(
      shared_object_in_context(context, kEngineContextType));
  return list ? *list : EngineList{};
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
  return answer_context_query(element, query, kEngineContextType);
}

}  // namespace ivs::pipeline
