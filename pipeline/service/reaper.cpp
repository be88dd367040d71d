// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/reaper.h"

#include <algorithm>
#include <iterator>

namespace ivs::service {
namespace {

void take_down(GstElement* pipeline, bool drain, std::chrono::milliseconds timeout) {
  if (drain) {
    GstBus* bus = gst_element_get_bus(pipeline);
    gst_element_send_event(pipeline, gst_event_new_eos());
    const auto wait = static_cast<GstClockTime>(timeout.count()) * GST_MSECOND;
    GstMessage* message = gst_bus_timed_pop_filtered(
        bus, wait, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (message == nullptr) {
      g_warning(
          "stream %s: end of stream not through after %lld ms; stopping it anyway (results still "
          "in "
          "flight are lost)",
          GST_ELEMENT_NAME(pipeline), static_cast<long long>(timeout.count()));
    } else {
      gst_message_unref(message);
    }
    gst_object_unref(bus);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

}  // namespace

void Reaper::retire(GstElement* pipeline, bool drain, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  const std::string name = GST_ELEMENT_NAME(pipeline);
  std::lock_guard<std::mutex> guard(lock_);
  unfinished_.push_back(name);
  // The thread starts under the lock, so its own erase comes after the push above. The reaper
  // joins every thread before it goes (destructor), so `this` outlives them.
  std::thread thread([this, pipeline, drain, timeout, done, name] {
    take_down(pipeline, drain, timeout);
    {
      std::lock_guard<std::mutex> finished(lock_);
      unfinished_.erase(std::find(unfinished_.begin(), unfinished_.end(), name));
    }
    *done = true;
  });
  jobs_.push_back(Job{std::move(thread), std::move(done)});
}

void Reaper::join_finished() {
  std::vector<Job> finished;
  {
    std::lock_guard<std::mutex> guard(lock_);
    auto split =
        std::partition(jobs_.begin(), jobs_.end(), [](const Job& job) { return !*job.done; });
    std::move(split, jobs_.end(), std::back_inserter(finished));
    jobs_.erase(split, jobs_.end());
  }
  for (auto& job : finished) job.thread.join();
}

void Reaper::join_all() {
  std::vector<Job> all;
  {
    std::lock_guard<std::mutex> guard(lock_);
    all.swap(jobs_);
  }
  for (auto& job : all) job.thread.join();
}

std::vector<std::string> Reaper::unfinished() const {
  std::lock_guard<std::mutex> guard(lock_);
  return unfinished_;
}

size_t Reaper::busy() const {
  std::lock_guard<std::mutex> guard(lock_);
  return jobs_.size();
}

}  // namespace ivs::service
