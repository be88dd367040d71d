// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/register_elements.h"

#include "plugins/internvl/gstinternvlalert.h"
#include "plugins/internvl/gstinternvlcaption.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "plugins/internvl/gstinternvlindex.h"
#include "plugins/internvl/gstinternvlkeyframes.h"
#include "plugins/internvl/gstinternvloverlay.h"
#include "plugins/internvl/gstinternvlpublish.h"
#include "plugins/internvl/gstinternvlrecord.h"

gboolean gst_internvl_register_elements(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(internvlalert, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlcaption, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlclassify, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlindex, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlkeyframes, plugin);
  ok |= GST_ELEMENT_REGISTER(internvloverlay, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlpublish, plugin);
  ok |= GST_ELEMENT_REGISTER(internvlrecord, plugin);
  return ok;
}

gboolean gst_internvl_register_static(void) {
  static gsize result = 0;  // 1 + the outcome, once
  if (g_once_init_enter(&result)) {
    const gboolean ok =
        gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "internvl",
                                   "InternVL video understanding: classification, captions, "
                                   "alerts, overlay, publishing, recording, search indexing, "
                                   "key-frame decoding",
                                   gst_internvl_register_elements, VERSION, GST_LICENSE, PACKAGE,
                                   GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN);
    g_once_init_leave(&result, ok ? 2 : 1);
  }
  return result == 2;
}
