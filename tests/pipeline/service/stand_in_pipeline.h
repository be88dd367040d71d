// SPDX-License-Identifier: Apache-2.0
// A stream pipeline without a source or a model, for tests of what runs around the pipelines
// (supervision, REST): appsrc "source" ! queue "decoded" ! fakesink "sink" (sync and async off),
// so a stream starts at once and its frames are whatever the test pushes into the appsrc.
#pragma once

#include "pipeline/service/stream_pipeline.h"

namespace ivs::service {

/// Throws std::runtime_error when GStreamer lacks appsrc, queue or fakesink.
StreamPipeline stand_in_pipeline(const StreamConfig& stream);

}  // namespace ivs::service
