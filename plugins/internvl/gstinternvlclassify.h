// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_CLASSIFY (gst_internvl_classify_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLClassify, gst_internvl_classify, GST, INTERNVL_CLASSIFY, GstElement)

GST_ELEMENT_REGISTER_DECLARE(internvlclassify);

G_END_DECLS
