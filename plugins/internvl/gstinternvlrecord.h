// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_RECORD (gst_internvl_record_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLRecord, gst_internvl_record, GST, INTERNVL_RECORD, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE(internvlrecord);

G_END_DECLS
