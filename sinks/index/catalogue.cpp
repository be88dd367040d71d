// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/catalogue.h"

#include <algorithm>
#include <chrono>

namespace ivs::search {
int32_t Catalogue::stream_index(const std::string& name) {
  if (auto found = find_stream(name)) return *found;
  streams_.push_back(name);
  return static_cast<int32_t>(streams_.size() - 1);
}

std::optional<int32_t> Catalogue::find_stream(const std::string& name) const {
  auto it = std::find(streams_.begin(), streams_.end(), name);
  if (it == streams_.end()) return std::nullopt;
  return static_cast<int32_t>(it - streams_.begin());
}

void Catalogue::append(const CatalogueRow& row) {
  rows_.push_back(row);
  if (row.has_thumbnail) latest_thumbnail_[row.stream] = row.id;
}

size_t Catalogue::erase_through(int64_t last_id) {
  size_t erased = 0;
  while (!rows_.empty() && rows_.front().id <= last_id) {
    rows_.pop_front();
    ++erased;
  }
  // Deletes take the oldest ids, so a stream whose newest thumbnail went has none left.
  for (auto it = latest_thumbnail_.begin(); it != latest_thumbnail_.end();) {
    it = it->second <= last_id ? latest_thumbnail_.erase(it) : std::next(it);
  }
  return erased;
}

const CatalogueRow* Catalogue::find(int64_t id) const {
  auto it = std::lower_bound(rows_.begin(), rows_.end(), id,
                             [](const CatalogueRow& row, int64_t key) { return row.id < key; });
  if (it == rows_.end() || it->id != id) return nullptr;
  return &*it;
}

std::optional<Selection> Catalogue::select(const SearchFilter& filter) const {
  if (filter.streams.empty() && !filter.from && !filter.to) return std::nullopt;
  std::vector<bool> wanted_stream(streams_.size(), filter.streams.empty());
  for (const std::string& name : filter.streams) {
    if (auto index = find_stream(name)) wanted_stream[static_cast<size_t>(*index)] = true;
  }
  const int64_t from = filter.from ? to_ns(*filter.from) : INT64_MIN;
  const int64_t to = filter.to ? to_ns(*filter.to) : INT64_MAX;
  const int64_t base = rows_.empty() ? 0 : rows_.front().id;
  std::vector<bool> bits(rows_.empty() ? 0 : static_cast<size_t>(last_id() - base + 1));
  size_t count = 0;
  for (const CatalogueRow& row : rows_) {
    if (wanted_stream[static_cast<size_t>(row.stream)] && row.wall_ns >= from &&
        row.wall_ns <= to) {
      bits[static_cast<size_t>(row.id - base)] = true;
      ++count;
    }
  }
  return Selection(base, std::move(bits), count);
}

std::optional<int64_t> Catalogue::latest_thumbnail_id(const std::string& stream) const {
  const auto index = find_stream(stream);
  if (!index) return std::nullopt;
  const auto it = latest_thumbnail_.find(*index);
  if (it == latest_thumbnail_.end()) return std::nullopt;
  return it->second;
}

size_t Catalogue::memory_bytes() const {
  size_t bytes = rows_.size() * sizeof(CatalogueRow);
  for (const std::string& name : streams_) bytes += sizeof(std::string) + name.capacity();
  return bytes;
}

}  // namespace ivs::search
