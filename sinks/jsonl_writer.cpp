// SPDX-License-Identifier: Apache-2.0
#include "sinks/jsonl_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sinks/result_json.h"

namespace ivs::sinks {

JsonLinesWriter::JsonLinesWriter(std::string path) : path_(std::move(path)) {
  // Append, never truncate: a restarted service keeps the results it wrote before.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    const int err = errno;
    throw std::runtime_error("cannot open JSON-lines file '" + path_ +
                             "' for appending: " + std::strerror(err) +
                             " (does the directory exist and is it writable?)");
  }
}

JsonLinesWriter::~JsonLinesWriter() { ::close(fd_); }

void JsonLinesWriter::set_log(std::function<void(const std::string& message)> log) {
  std::lock_guard<std::mutex> lock(mutex_);
  log_ = std::move(log);
}

bool JsonLinesWriter::publish(const FrameResult& result) {
  std::string line;
  try {
    line = result_to_json(result);
  } catch (const std::exception&) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++errors_;  // the message, not the file, is at fault: nothing to tell the operator
    return false;
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  // Straight to the kernel, one line per publish(): readers (tail -f, log shippers) see whole
  // lines at once, and a full disk shows up on the publish() that hit it. A user-space buffer
  // (std::ofstream) kept a refused line and wrote it, or half of it, again with the next one.
  if (!cut_torn_line() || !append(line)) {
    count_error(errno);
    return false;
  }
  ++written_;
  if (failing_ > 0 && log_) {
    log_("JSON-lines file '" + path_ + "': writing again after " + std::to_string(failing_) +
         " lost lines (" + std::to_string(errors_) + " in all)");
  }
  failing_ = 0;
  return true;
}

void JsonLinesWriter::count_error(int error) {
  ++errors_;
  ++failing_;
  // The first failure of a run, then every 100th: a full disk fails every line for as long as
  // it stays full, a few per second.
  if (log_ && (failing_ == 1 || failing_ % 100 == 0)) {
    log_("JSON-lines file '" + path_ + "': cannot write: " + std::strerror(error) + "; " +
         std::to_string(failing_) + (failing_ == 1 ? " line" : " lines") + " lost so far");
  }
}

bool JsonLinesWriter::append(const std::string& line) {
  struct stat before {};
  if (::fstat(fd_, &before) != 0) return false;
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n == 0 ? EIO : errno;
      // ENOSPC (or EFBIG, EIO) after part of the line: cut it off, or the next line would
      // continue it and both would be unreadable.
      if (done > 0) {
        torn_at_ = before.st_size;
        cut_torn_line();
      }
      errno = error;  // for the log
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool JsonLinesWriter::cut_torn_line() {
  if (torn_at_ < 0) return true;
  if (::ftruncate(fd_, torn_at_) != 0) return false;  // tried again before the next line
  torn_at_ = -1;
  return true;
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
