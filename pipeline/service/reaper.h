// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gst/gst.h>

namespace ivs::service {

/// Takes pipelines out of service on their own threads, so that a slow teardown (an RTSP source
/// waiting on a dead camera, a drain that waits for inference) never holds up the main loop and
/// the other streams.
class Reaper {
 public:
  Reaper() = default;
  ~Reaper() { join_all(); }
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  /// Takes over the reference to `pipeline` (whose bus has no watch). With `drain`, sends EOS
  /// and waits up to `timeout` for it (or an error) to reach the bus, so that every result
  /// already accepted is published; then sets the pipeline to NULL and drops it.
  void retire(GstElement* pipeline, bool drain, std::chrono::milliseconds timeout);

  /// Joins the threads that have finished (call now and then).
  void join_finished();
  /// Waits for every retirement to finish.
  void join_all();
  /// Retirements still running.
  size_t busy() const;
  /// Names of the pipelines (stream ids) whose retirement has not finished, joined or not: what
  /// a stop that is overdue gives up on.
  std::vector<std::string> unfinished() const;

 private:
  struct Job {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  mutable std::mutex lock_;
  std::vector<Job> jobs_;
  std::vector<std::string> unfinished_;  // one entry per retirement running
};

}  // namespace ivs::service
