// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/disk_budget.h"

namespace ivs::pipeline {

DiskBudget::DiskBudget(uint64_t max_bytes) : max_bytes_(max_bytes) {}

std::vector<std::string> DiskBudget::add(const std::string& path, uint64_t bytes) {
  files_.push_back(File{path, bytes});
  total_ += bytes;
  std::vector<std::string> doomed;
  if (max_bytes_ == 0) return doomed;
  while (total_ > max_bytes_ && files_.size() > 1) {
    total_ -= files_.front().bytes;
    doomed.push_back(files_.front().path);
    files_.pop_front();
  }
  return doomed;
}

}  // namespace ivs::pipeline
