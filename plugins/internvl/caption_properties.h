// SPDX-License-Identifier: Apache-2.0
// The properties of internvlcaption: ids, specs (names, ranges, defaults from
// CaptionElementSettings, documentation) and the Settings field each is stored in.
#pragma once

#include <gst/gst.h>

#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/property_table.h"

namespace ivs::plugins {

enum CaptionProperty {
  kNoCaptionProperty,
  kModelProperty,
  kDeviceProperty,
  kDtypeProperty,
  kPromptProperty,
  kNumBeamsProperty,
  kMinNewTokensProperty,
  kMaxNewTokensProperty,
  kIntervalProperty,
  kSelectionFpsProperty,
  kBatchSizeProperty,
  kBatchTimeoutProperty,
  kFramesSampledProperty,
  kCaptionsAttachedProperty,
  kCaptionsDroppedProperty,
  kCaptionsFailedProperty,
  kMetricsAddressProperty,
  kStreamIdProperty,
  kMetricsPortProperty,
  kInferenceWaitProperty,
};

/// Installs every property on `klass`: the read-write ones bound to their settings field in
/// `table`, the read-only counters left to the element's get_property.
void install_caption_properties(GObjectClass* klass, PropertyTable<CaptionElementSettings>& table);

}  // namespace ivs::plugins
