// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_OVERLAY (gst_internvl_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLOverlay, gst_internvl_overlay, GST, INTERNVL_OVERLAY,
                     GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(internvloverlay);

G_END_DECLS
