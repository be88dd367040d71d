// SPDX-License-Identifier: Apache-2.0
// The `internvl` plugin: registers the elements and nothing else.
#include <gst/gst.h>

#include "gstinternvlcaption.h"
#include "gstinternvlclassify.h"
#include "gstinternvloverlay.h"
#include "gstinternvlpublish.h"

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(internvlcaption, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlclassify, plugin);
  ok |= GST_ELEMENT_REGISTER(internvloverlay, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlpublish, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, internvl,
                  "InternVL video understanding: classification, captions, overlay, publishing",
                  plugin_init, VERSION, "unknown", PACKAGE, GST_PACKAGE_ORIGIN)
