// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/publish_settings.h"

namespace ivs::plugins {
namespace {

// Registers the enum on the first call, however many threads make it at once.
GType register_enum_once(GType* type, const char* name, const GEnumValue* values) {
  if (g_once_init_enter(type)) g_once_init_leave(type, g_enum_register_static(name, values));
  return *type;
}

GType gst_internvl_publish_file_format_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES, "One JSON message per line", "json-lines"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(&type, "GstInternVLPublishFileFormat", values);
}

const GFlagsValue kIncludeValues[] = {
    {GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION, "Classifications", "classification"},
    {GST_INTERNVL_PUBLISH_INCLUDE_CAPTION, "Captions", "caption"},
    {GST_INTERNVL_PUBLISH_INCLUDE_EVENT, "Alert events", "event"},
    {GST_INTERNVL_PUBLISH_INCLUDE_EMBEDDING, "Image embeddings (wire format 1.1)", "embedding"},
    {GST_INTERNVL_PUBLISH_INCLUDE_ALL, "Classifications, captions and events", "all"},
    {0, nullptr, nullptr},
};

// GStreamer writes a set of flags with '+' ("classification+embedding"); the documented form
// is a list, "classification,embedding". Both are read here, and this is the one parser of
// `include`: gst-launch, gst_util_set_object_arg and the service all come through it.
gboolean deserialize_include(GValue* dest, const gchar* text) {
  guint flags = 0;
  gchar** words = g_strsplit_set(text, ",+", -1);
  gboolean ok = words[0] != nullptr;
  for (gchar** word = words; ok && *word != nullptr; ++word) {
    const gchar* name = g_strstrip(*word);
    const GFlagsValue* found = nullptr;
    for (const GFlagsValue* v = kIncludeValues; v->value_nick != nullptr && !found; ++v) {
      if (g_strcmp0(v->value_nick, name) == 0) found = v;
    }
    ok = found != nullptr;
    if (found != nullptr) flags |= found->value;
  }
  g_strfreev(words);
  if (ok) g_value_set_flags(dest, flags);
  return ok;
}

gchar* serialize_include(const GValue* value) {
  const guint flags = g_value_get_flags(value);
  GString* text = g_string_new(nullptr);
  guint left = flags;
  if ((left & GST_INTERNVL_PUBLISH_INCLUDE_ALL) == GST_INTERNVL_PUBLISH_INCLUDE_ALL) {
    g_string_append(text, "all");
    left &= ~static_cast<guint>(GST_INTERNVL_PUBLISH_INCLUDE_ALL);
  }
  for (const GFlagsValue* v = kIncludeValues; v->value_nick != nullptr; ++v) {
    if ((left & v->value) == v->value && v->value != 0) {
      g_string_append_printf(text, "%s%s", text->len > 0 ? "," : "", v->value_nick);
      left &= ~v->value;
    }
  }
  return g_string_free(text, FALSE);
}

gint compare_include(const GValue* a, const GValue* b) {
  return g_value_get_flags(a) == g_value_get_flags(b) ? GST_VALUE_EQUAL : GST_VALUE_UNORDERED;
}

GType gst_internvl_publish_include_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    const GType registered = g_flags_register_static("GstInternVLPublishInclude", kIncludeValues);
    static GstValueTable table = {};
    table.type = registered;
    table.compare = compare_include;
    table.serialize = serialize_include;
    table.deserialize = deserialize_include;
    gst_value_register(&table);
    g_once_init_leave(&type, registered);
  }
  return type;
}

// The string settings, each stored in one member (NULL is stored as "" and read back as NULL).
struct StringProperty {
  guint id;
  const char* name;
  const char* nick;
  const char* blurb;
  std::string PublishSettings::*member;
};

const StringProperty kStringProperties[] = {
    {PROP_ENDPOINT, "endpoint", "ZeroMQ endpoint",
     "ZeroMQ PUB endpoint: bind:tcp://127.0.0.1:5555 or connect:tcp://host:5555; without a prefix "
     "an address containing '*' binds, any other connects (NULL: no ZeroMQ)",
     &PublishSettings::endpoint},
    {PROP_FILE_PATH, "file-path", "File path",
     "Append messages to this file in file-format (NULL: no file)", &PublishSettings::file_path},
    {PROP_SENSOR_ID, "sensor-id", "Sensor id",
     "sensor_id of the messages and second part of the topic (NULL: the element's name)",
     &PublishSettings::sensor_id},
    {PROP_SOURCE, "source", "Source",
     "The source field of the messages, e.g. the stream's URI (NULL: no source)",
     &PublishSettings::source},
    {PROP_TOPIC_PREFIX, "topic-prefix", "Topic prefix",
     "Prepended to the ZeroMQ topic \"<kind>/<sensor_id>\"", &PublishSettings::topic_prefix},
    {PROP_METRICS_ADDRESS, "metrics-address", "Metrics address",
     "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 picks a free port",
     &PublishSettings::metrics_address},
};

const StringProperty* find_string_property(guint id) {
  for (const auto& property : kStringProperties) {
    if (property.id == id) return &property;
  }
  return nullptr;
}

void install_counter(GObjectClass* klass, guint id, const char* name, const char* nick,
                     const char* blurb) {
  const auto flags = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(klass, id,
                                  g_param_spec_uint64(name, nick, blurb, 0, G_MAXUINT64, 0, flags));
}

// The read-only reports of the running element.
void install_reports(GObjectClass* klass) {
  const auto read_only = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      klass, PROP_METRICS_PORT,
      g_param_spec_uint("metrics-port", "Metrics port",
                        "The port /metrics is served on (0 when not serving)", 0, G_MAXUINT16, 0,
                        read_only));
  g_object_class_install_property(
      klass, PROP_BOUND_ENDPOINT,
      g_param_spec_string(
          "bound-endpoint", "Bound endpoint",
          "The ZeroMQ address actually bound or connected (port filled in), once started", nullptr,
          read_only));
  install_counter(klass, PROP_MESSAGES_PUBLISHED, "messages-published", "Messages published",
                  "Messages accepted by every sink since the element started");
  install_counter(
      klass, PROP_MESSAGES_DROPPED, "messages-dropped", "Messages dropped",
      "Messages lost to a full queue, a refused send or a failed write since the element started");
  install_counter(klass, PROP_MESSAGES_SKIPPED, "messages-skipped", "Messages skipped",
                  "Results the wire schema cannot carry (e.g. no label above threshold) since the "
                  "element started");
}

}  // namespace

void publish_install_properties(GObjectClass* klass) {
  const PublishSettings defaults;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  for (const auto& p : kStringProperties) {
    g_object_class_install_property(klass, p.id,
                                    g_param_spec_string(p.name, p.nick, p.blurb, nullptr, flags));
  }
  g_object_class_install_property(
      klass, PROP_FILE_FORMAT,
      g_param_spec_enum("file-format", "File format", "Format of file-path",
                        gst_internvl_publish_file_format_get_type(), defaults.file_format, flags));
  g_object_class_install_property(
      klass, PROP_SEND_HWM,
      g_param_spec_int("send-hwm", "Send high-water mark",
                       "Messages ZeroMQ queues per subscriber before dropping", 1, G_MAXINT,
                       defaults.send_hwm, flags));
  g_object_class_install_property(
      klass, PROP_INCLUDE,
      g_param_spec_flags("include", "Include",
                         "Which messages to publish, a list such as \"classification,event\": "
                         "classification, caption, event, embedding (one per sampled frame, "
                         "wire format 1.1), all (every kind but embedding)",
                         gst_internvl_publish_include_get_type(), defaults.include, flags));
  install_reports(klass);
  gst_type_mark_as_plugin_api(gst_internvl_publish_file_format_get_type(),
                              static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(gst_internvl_publish_include_get_type(),
                              static_cast<GstPluginAPIFlags>(0));
}

bool publish_set_setting(PublishSettings& settings, guint id, const GValue* value) {
  if (const StringProperty* property = find_string_property(id)) {
    const gchar* text = g_value_get_string(value);
    settings.*property->member = text != nullptr ? text : "";
    return true;
  }
  switch (id) {
    case PROP_FILE_FORMAT:
      settings.file_format = static_cast<GstInternVLPublishFileFormat>(g_value_get_enum(value));
      return true;
    case PROP_SEND_HWM:
      settings.send_hwm = g_value_get_int(value);
      return true;
    case PROP_INCLUDE:
      settings.include = static_cast<GstInternVLPublishInclude>(g_value_get_flags(value));
      return true;
    default:
      return false;
  }
}

bool publish_get_setting(const PublishSettings& settings, guint id, GValue* value) {
  if (const StringProperty* property = find_string_property(id)) {
    const std::string& text = settings.*property->member;
    g_value_set_string(value, text.empty() ? nullptr : text.c_str());
    return true;
  }
  switch (id) {
    case PROP_FILE_FORMAT:
      g_value_set_enum(value, settings.file_format);
      return true;
    case PROP_SEND_HWM:
      g_value_set_int(value, settings.send_hwm);
      return true;
    case PROP_INCLUDE:
      g_value_set_flags(value, settings.include);
      return true;
    default:
      return false;
  }
}

bool publish_includes(GstInternVLPublishInclude include, pipeline::ResultType type) {
  switch (type) {
    case pipeline::ResultType::kClassification:
    case pipeline::ResultType::kClipClassification:
      return (include & GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION) != 0;
    case pipeline::ResultType::kCaption:
      return (include & GST_INTERNVL_PUBLISH_INCLUDE_CAPTION) != 0;
    case pipeline::ResultType::kEvent:
      return (include & GST_INTERNVL_PUBLISH_INCLUDE_EVENT) != 0;
  }
  return false;
}

bool publish_includes_embeddings(GstInternVLPublishInclude include) {
  return (include & GST_INTERNVL_PUBLISH_INCLUDE_EMBEDDING) != 0;
}

}  // namespace ivs::plugins
