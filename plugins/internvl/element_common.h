// SPDX-License-Identifier: Apache-2.0
// What the inference elements (internvlclassify, internvlcaption) share: the property enum
// types, registered once; the one liveness rule; rate-limited warnings; and finding the
// pipeline's metrics and the shared engine.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/engine/engine.h"
#include "pipeline/metrics_context.h"
#include "plugins/internvl/cuda_memory.h"
#include "plugins/internvl/element_settings.h"

namespace ivs::plugins {

GType device_enum_type();         // GstInternVLDevice
GType dtype_enum_type();          // GstInternVLDtype
GType mode_enum_type();           // GstInternVLMode
GType leaky_enum_type();          // GstInternVLLeaky
GType decode_frames_enum_type();  // GstInternVLDecodeFrames (pipeline::DecodeFrames)
/// So that gst-inspect and the documentation show the values with the elements.
void mark_enum_types_as_plugin_api();

/// Whether the stream upstream of `sinkpad` is live, from a latency query. A stream whose
/// upstream does not answer counts as not live, as GstBaseSink counts it: nothing is dropped
/// unless a live source says so.
bool upstream_is_live(GstPad* sinkpad);

/// The liveness rule: a sample waits for room in the engine (back-pressure, every sampled frame
/// gets its result) unless `leaky` says drop, or says auto and the stream is live.
bool applies_back_pressure(Leaky leaky, bool live);
pipeline::Admission admission_for(bool back_pressure);

/// True for the 1st, 10th, 100th, ... occurrence: a failing model logs a WARNING then, DEBUG
/// otherwise, instead of flooding the log at frame rate.
bool warn_now(uint64_t count);

/// A string property's value ("" for NULL), and the reverse (NULL for "").
std::string string_property(const GValue* value);
void set_string_property(GValue* value, const std::string& text);

struct InferenceResources {
  std::shared_ptr<pipeline::MetricsHub> metrics;  // the pipeline's (internvl.metrics context)
  std::shared_ptr<pipeline::Engine> engine;       // shared per model, device and dtype
};

/// Checks that the model directory is set and exists, then finds or creates the pipeline's
/// metrics (serving them when metrics_address is set) and the engine, which records its batches
/// into them and logs through the "internvlengine" debug category. Throws std::runtime_error
/// naming the problem and the fix.
InferenceResources acquire_inference(GstElement* element, const EngineSettings& settings);

/// Answers a context query for the pipeline's engine, metrics or CUDA context; false when the
/// query is none of those (or there is nothing to answer with).
bool handle_element_context_query(GstElement* element, GstQuery* query,
                                  const CudaFramePolicy& cuda);

/// Installs the read-only `inference-wait` property (guint64 ns, pipeline/scheduling/
/// inference_wait.h) as property `id`: how long the streaming thread has been waiting on
/// inference, which the service reads to tell a slowed-down file from a stalled one.
void install_inference_wait_property(GObjectClass* klass, guint id);

/// Sets internvl_queue_depth{task} of `hub` from the engine's counters.
void record_queue_depth(pipeline::MetricsHub& hub, const pipeline::Engine& engine);

}  // namespace ivs::plugins
