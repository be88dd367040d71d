// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/search_index.h"

#include <map>
#include <mutex>

#include "sinks/index/frame_index.h"

namespace ivs::search {
namespace {

// The process-wide writer registry open_shared_index() promises: every element and the REST
// API of one process must share one writer per directory (the lock file refuses a second).
std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, std::weak_ptr<SearchIndex>>& registry() {
  static auto* indexes = new std::map<std::string, std::weak_ptr<SearchIndex>>();
  return *indexes;
}

}  // namespace

std::unique_ptr<SearchIndex> SearchIndex::open(const SearchIndexOptions& options) {
  return std::make_unique<FrameIndex>(options);
}

std::shared_ptr<SearchIndex> open_shared_index(const SearchIndexOptions& options) {
  std::error_code error;
  if (!options.read_only) std::filesystem::create_directories(options.dir, error);
  const std::string key = std::filesystem::weakly_canonical(options.dir, error).string();
  std::lock_guard<std::mutex> lock(registry_mutex());
  if (auto existing = registry()[key].lock()) return existing;
  // Closed under the registry lock, so a reopen never races the old writer's lock file.
  std::shared_ptr<SearchIndex> index(SearchIndex::open(options).release(), [](SearchIndex* p) {
    std::lock_guard<std::mutex> closing(registry_mutex());
    delete p;
  });
  registry()[key] = index;
  return index;
}

}  // namespace ivs::search
