// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine_context.h"

#include <gst/gst.h>
#include <gtest/gtest.h>

#include "tests/pipeline/engine/engine_test_support.h"

namespace ivs::pipeline {
namespace {

using test_support::small_options;
using test_support::tiny_engine_key;

// Owns a pipeline of `identity` elements; identity keeps contexts given to it
// (the default set_context), as our elements do by chaining up.
class Pipeline {
 public:
  Pipeline() : pipeline_(gst_pipeline_new("engine-context-test")) {}
  ~Pipeline() {
    if (pipeline_ != nullptr) gst_object_unref(pipeline_);
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  GstElement* get() const { return pipeline_; }

  GstElement* add(const char* name, GstBin* bin = nullptr) {
    GstElement* element = gst_element_factory_make("identity", name);
    gst_bin_add(bin != nullptr ? bin : GST_BIN(pipeline_), element);
    return element;
  }

  void release() {
    gst_object_unref(pipeline_);
    pipeline_ = nullptr;
  }

 private:
  GstElement* pipeline_;
};

void ensure_gst() { gst_init(nullptr, nullptr); }

std::shared_ptr<Engine> own_engine(GstElement* element, const EngineKey& key) {
  GstContext* context = gst_element_get_context(element, kEngineContextType);
  auto engine = engine_from_context(context, key);
  if (context != nullptr) gst_context_unref(context);
  return engine;
}

TEST(EngineContextTest, two_elements_in_one_pipeline_share_one_engine) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  ensure_gst();
  Pipeline pipeline;
  GstElement* first = pipeline.add("first");
  GstElement* second = pipeline.add("second");
  ASSERT_TRUE(gst_element_link(first, second));
  const auto engine = acquire_engine(first, tiny_engine_key(), small_options());
  ASSERT_TRUE(engine);
  EXPECT_EQ(own_engine(first, tiny_engine_key()), engine);
  // The pipeline cached the announced context and answers the second element's
  // NEED_CONTEXT.
  EXPECT_EQ(acquire_engine(second, tiny_engine_key(), small_options()), engine);
  EXPECT_EQ(own_engine(second, tiny_engine_key()), engine);
  // An element added later, inside a nested bin, gets the cached context when
  // it is added.
  GstElement* bin = gst_bin_new("nested");
  gst_bin_add(GST_BIN(pipeline.get()), bin);
  GstElement* late = pipeline.add("late", GST_BIN(bin));
  EXPECT_EQ(own_engine(late, tiny_engine_key()), engine);
  // Aliases of the same placement name the same engine.
  EXPECT_EQ(
      acquire_engine(late, {tiny_engine_key().model_dir + "/", "cpu", "float32"}, small_options()),
      engine);
}

TEST(EngineContextTest, a_different_key_gets_a_different_engine_and_both_stay_known) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  ensure_gst();
  Pipeline pipeline;
  EngineKey bf16 = tiny_engine_key();
  bf16.dtype = "bf16";
  const auto fp32_engine = acquire_engine(pipeline.add("a"), tiny_engine_key(), small_options());
  const auto bf16_engine = acquire_engine(pipeline.add("b"), bf16, small_options());
  ASSERT_TRUE(fp32_engine && bf16_engine);
  EXPECT_NE(fp32_engine, bf16_engine);
  EXPECT_EQ(bf16_engine->key().dtype, "bfloat16");
  // The newer announcement carries both engines, so neither key is forgotten.
  GstElement* c = pipeline.add("c");
  EXPECT_EQ(acquire_engine(c, tiny_engine_key(), small_options()), fp32_engine);
  EXPECT_EQ(acquire_engine(c, bf16, small_options()), bf16_engine);
  GstContext* context = gst_element_get_context(c, kEngineContextType);
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(engines_in_context(context).size(), 2u);
  gst_context_unref(context);
}

TEST(EngineContextTest, an_application_engine_set_on_the_pipeline_is_used) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  ensure_gst();
  const auto engine = Engine::create(tiny_engine_key(), small_options());
  Pipeline pipeline;
  GstElement* before = pipeline.add("before");
  GstContext* context = engine_context_new({engine});
  gst_element_set_context(pipeline.get(), context);
  gst_context_unref(context);
  GstElement* after = pipeline.add("after");
  EXPECT_EQ(acquire_engine(before, tiny_engine_key(), small_options()), engine);
  EXPECT_EQ(acquire_engine(after, tiny_engine_key(), small_options()), engine);
}

TEST(EngineContextTest, an_engine_lives_as_long_as_any_holder) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  ensure_gst();
  Pipeline pipeline;
  GstElement* element = pipeline.add("holder");
  std::weak_ptr<Engine> weak = acquire_engine(element, tiny_engine_key(), small_options());
  EXPECT_FALSE(weak.expired()) << "the element's context and the pipeline's cache hold it";
  auto held = weak.lock();
  pipeline.release();  // the pipeline, its bus messages and the element drop
                       // their contexts
  EXPECT_FALSE(weak.expired());
  held.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(EngineContextTest, context_queries_are_answered_from_the_elements_context) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  ensure_gst();
  Pipeline pipeline;
  GstElement* with = pipeline.add("with");
  GstElement* without = gst_element_factory_make("identity", "without");
  const auto engine = acquire_engine(with, tiny_engine_key(), small_options());
  GstQuery* query = gst_query_new_context(kEngineContextType);
  EXPECT_FALSE(handle_engine_context_query(without, query));
  ASSERT_TRUE(handle_engine_context_query(with, query));
  GstContext* answer = nullptr;
  gst_query_parse_context(query, &answer);
  EXPECT_EQ(engine_from_context(answer, tiny_engine_key()), engine);
  gst_query_unref(query);
  GstQuery* other = gst_query_new_context("gst.gl.GLDisplay");
  EXPECT_FALSE(handle_engine_context_query(with, other));
  gst_query_unref(other);
  gst_object_unref(gst_object_ref_sink(without));
}

TEST(EngineContextTest, foreign_or_empty_contexts_hold_no_engines) {
  ensure_gst();
  EXPECT_TRUE(engines_in_context(nullptr).empty());
  GstContext* foreign = gst_context_new("gst.gl.GLDisplay", TRUE);
  EXPECT_TRUE(engines_in_context(foreign).empty());
  gst_context_unref(foreign);
  GstContext* empty = engine_context_new({});
  EXPECT_TRUE(engines_in_context(empty).empty());
  EXPECT_EQ(engine_from_context(empty, {"/models/x", "cpu", "fp32"}), nullptr);
  gst_context_unref(empty);
}

}  // namespace
}  // namespace ivs::pipeline
