// SPDX-License-Identifier: Apache-2.0
// Registering the internvl elements: from the plugin module (gst-launch, GST_PLUGIN_PATH) or
// statically into a program that links gstinternvl_elements (internvl-streamd, tests), which
// then needs no plugin path at all.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/// Registers internvlclassify, internvlcaption, internvloverlay, internvlpublish and
/// internvlrecord with
/// `plugin` (the module's plugin_init). Returns TRUE when at least one was registered.
gboolean gst_internvl_register_elements(GstPlugin* plugin);

/// Registers the plugin "internvl" statically in this process (after gst_init). Idempotent;
/// returns FALSE when registration failed.
gboolean gst_internvl_register_static(void);

G_END_DECLS
