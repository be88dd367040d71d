// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_ALERT (gst_internvl_alert_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLAlert, gst_internvl_alert, GST, INTERNVL_ALERT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(internvlalert);

G_END_DECLS
