// SPDX-License-Identifier: Apache-2.0
// The properties of internvlclassify: ids, specs (names, ranges, defaults from ClassifySettings,
// documentation) and the Settings field each is stored in.
#pragma once

#include <gst/gst.h>

#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/property_table.h"

namespace ivs::plugins {

enum ClassifyProperty {
  kNoClassifyProperty,
  kModelProperty,
  kDeviceProperty,
  kDtypeProperty,
  kModeProperty,
  kStreamIdProperty,
  kLabelsProperty,
  kLabelsFileProperty,
  kPromptTemplateProperty,
  kTemplatesFileProperty,
  kIntervalProperty,
  kSelectionFpsProperty,
  kClipFramesProperty,
  kTopKProperty,
  kThresholdProperty,
  kBatchSizeProperty,
  kBatchTimeoutProperty,
  kMaxLatencyProperty,
  kLeakyProperty,
  kFramesProcessedProperty,
  kFramesSampledProperty,
  kSamplesDroppedProperty,
  kResultsLateProperty,
  kMetricsAddressProperty,
  kMetricsPortProperty,
  kInferenceWaitProperty,
};

/// Installs every property on `klass`: the read-write ones bound to their ClassifySettings field
/// in `table` (a change of labels or templates bumps label_generation), the read-only counters
/// left to the element's get_property.
void install_classify_properties(GObjectClass* klass, PropertyTable<ClassifySettings>& table);

}  // namespace ivs::plugins
