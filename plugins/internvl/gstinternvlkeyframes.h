// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_KEYFRAMES (gst_internvl_keyframes_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLKeyframes, gst_internvl_keyframes, GST, INTERNVL_KEYFRAMES,
                     GstElement)

GST_ELEMENT_REGISTER_DECLARE(internvlkeyframes);

G_END_DECLS
