// SPDX-License-Identifier: Apache-2.0
// The `internvl` plugin module: registers the elements and nothing else.
#include <gst/gst.h>

#include "plugins/internvl/register_elements.h"

static gboolean plugin_init(GstPlugin* plugin) { return gst_internvl_register_elements(plugin); }

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, internvl,
                  "InternVL video understanding: classification, captions, alerts, overlay, "
                  "publishing, recording, search indexing",
                  plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
