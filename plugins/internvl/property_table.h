// SPDX-License-Identifier: Apache-2.0
// Binds an element's read-write properties to the fields of its Settings struct, so that
// set_property and get_property are one table lookup instead of a switch that repeats every
// property: each property is written once, where it is installed.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

namespace ivs::plugins {

template <typename Settings>
class PropertyTable {
 public:
  /// Installs `spec` as property `id` of `klass`, stored in the field that `field(settings)`
  /// returns (std::string, unsigned, uint64_t, int64_t shown as guint, double, bool or an enum
  /// class). `after_set`, when given, runs after every write (under the caller's lock).
  template <typename Field>
  void bind(GObjectClass* klass, guint id, GParamSpec* spec, Field field,
            std::function<void(Settings&)> after_set = {}) {
    g_object_class_install_property(klass, id, spec);
    entries_[id] = Entry{[field, after_set](Settings& s, const GValue* value) {
                           assign(field(s), value);
                           if (after_set) after_set(s);
                         },
                         [field](const Settings& s, GValue* value) {
                           read(field(const_cast<Settings&>(s)), value);
                         }};
  }

  /// False when `id` is not a bound property.
  bool set(Settings& settings, guint id, const GValue* value) const {
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    it->second.set(settings, value);
    return true;
  }
  bool get(const Settings& settings, guint id, GValue* value) const {
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    it->second.get(settings, value);
    return true;
  }

 private:
  struct Entry {
    std::function<void(Settings&, const GValue*)> set;
    std::function<void(const Settings&, GValue*)> get;
  };

  static void assign(std::string& field, const GValue* value) {
    const gchar* text = g_value_get_string(value);
    field = text != nullptr ? text : "";
  }
  static void read(const std::string& field, GValue* value) {
    g_value_set_string(value, field.empty() ? nullptr : field.c_str());
  }
  static void assign(unsigned& field, const GValue* value) { field = g_value_get_uint(value); }
  static void read(unsigned field, GValue* value) { g_value_set_uint(value, field); }
  static void assign(int64_t& field, const GValue* value) { field = g_value_get_uint(value); }
  static void read(int64_t field, GValue* value) {
    g_value_set_uint(value, static_cast<guint>(field));
  }
  static void assign(uint64_t& field, const GValue* value) { field = g_value_get_uint64(value); }
  static void read(uint64_t field, GValue* value) { g_value_set_uint64(value, field); }
  static void assign(double& field, const GValue* value) { field = g_value_get_double(value); }
  static void read(double field, GValue* value) { g_value_set_double(value, field); }
  static void assign(bool& field, const GValue* value) {
    field = g_value_get_boolean(value) != FALSE;
  }
  static void read(bool field, GValue* value) { g_value_set_boolean(value, field); }
  template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
  static void assign(E& field, const GValue* value) {
    field = static_cast<E>(g_value_get_enum(value));
  }
  template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
  static void read(E field, GValue* value) {
    g_value_set_enum(value, static_cast<gint>(field));
  }

  std::map<guint, Entry> entries_;
};

}  // namespace ivs::plugins
