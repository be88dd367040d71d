// SPDX-License-Identifier: Apache-2.0
// The properties of internvlalert: ids, specs (names, ranges, defaults from
// AlertElementSettings, documentation) and the Settings field each is stored in.
#pragma once

#include <gst/gst.h>

#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/property_table.h"

namespace ivs::plugins {

enum AlertProperty {
  kNoAlertProperty,
  kAlertModelProperty,
  kAlertDeviceProperty,
  kAlertDtypeProperty,
  kAlertStreamIdProperty,
  kRuleNameProperty,
  kAlertPromptProperty,
  kNegativesProperty,
  kNegativesFileProperty,
  kAlertPromptTemplateProperty,
  kAlertTemplatesFileProperty,
  kOnThresholdProperty,
  kOffThresholdProperty,
  kMinOnProperty,
  kMinOffProperty,
  kCooldownProperty,
  kSmoothingProperty,
  kRulesProperty,
  kRulesFileProperty,
  kSnapshotDirProperty,
  kEventsStartedProperty,
  kSamplesScoredProperty,
};

/// Installs every property on `klass`: the read-write ones bound to their settings field in
/// `table` (a change of a rule property bumps rule_generation; the next sample uses it), the
/// read-only counters left to the element's get_property.
void install_alert_properties(GObjectClass* klass, PropertyTable<AlertElementSettings>& table);

}  // namespace ivs::plugins
