// SPDX-License-Identifier: Apache-2.0
#include "sinks/jsonl_writer.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sinks/result_json.h"

namespace ivs::sinks {

JsonLinesWriter::JsonLinesWriter(std::string path) : path_(std::move(path)) {
  // Append, never truncate: a restarted service keeps the results it wrote before.
  out_.open(path_, std::ios::out | std::ios::app | std::ios::binary);
  if (!out_.is_open()) {
    const int err = errno;
    throw std::runtime_error("cannot open JSON-lines file '" + path_ + "' for appending: " +
                             (err != 0 ? std::strerror(err) : "unknown error") +
                             " (does the directory exist and is it writable?)");
  }
}

bool JsonLinesWriter::publish(const FrameResult& result) {
  std::string line;
  try {
    line = result_to_json(result);
  } catch (const std::exception&) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++errors_;
    return false;
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  // Flushing each line: results are a few per second, readers (tail -f, log shippers) see whole
  // lines at once, and a full disk shows up on the publish() that hit it.
  out_.flush();
  if (!out_.good()) {
    ++errors_;
    out_.clear();  // a later write may succeed once space is freed
    return false;
  }
  ++written_;
  return true;
}

void JsonLinesWriter::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  out_.flush();
  out_.clear();
}

uint64_t JsonLinesWriter::written() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return written_;
}

uint64_t JsonLinesWriter::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

}  // namespace ivs::sinks
