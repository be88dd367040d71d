// SPDX-License-Identifier: Apache-2.0
// internvl bench's captioning measurements: whole batches (generate_captions) and continuously
// batched streams (CaptionBatch), both from random pixels with the ViT inside the timing.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include <ATen/ATen.h>

#include "model/cli/bench.h"
#include "model/internvl/caption_batch.h"
#include "model/internvl/flops.h"

namespace ivs::cli {
namespace {

// Per-image FLOPs of a caption of `length` tokens: the first comes from the prefill logits,
// each later one needs a decode step (beam search may run on after the winner ended, so this
// is a lower bound on the work done).
double caption_flops_for(const BenchModel& m, const BenchOptions& o, int64_t length) {
  const auto prompt = static_cast<int64_t>(m.prompt_ids.size());
  return model::caption_flops(m.config, prompt, std::max<int64_t>(0, length - 1),
                              o.generation.num_beams);
}

}  // namespace

Measurement bench_captions(const BenchModel& m, int64_t batch, const BenchOptions& o) {
  const auto pixels = random_pixels(m, batch);
  std::vector<model::GeneratedCaption> captions;
  auto run = [&] {
    captions = model::generate_captions(*m.internvl, m.internvl->vision_features(pixels),
                                        m.prompt_ids, o.generation);
  };
  Measurement r;
  r.task = "caption";
  r.batch = batch;
  r.seconds = time_calls(run, o.warmup, o.iterations, m.placement.device);
  int64_t longest = 0;
  for (const auto& caption : captions) {
    const auto n = static_cast<int64_t>(caption.token_ids.size());
    r.generated_tokens += n;
    longest = std::max(longest, n);
    r.output_finite = r.output_finite && std::isfinite(caption.score);
  }
  r.decode_steps = std::max<int64_t>(0, longest - 1);
  r.flops_per_image = caption_flops_for(m, o, longest);
  return r;
}

Measurement bench_caption_streams(const BenchModel& m, int64_t streams, const BenchOptions& o) {
  model::CaptionBatch batch(*m.internvl, m.prompt_ids, o.generation);
  const auto pixels = random_pixels(m, streams);  // new requests reuse these images
  Measurement r;
  r.task = "caption-streams";
  r.batch = streams;
  int64_t completed = 0, tokens = 0, steps_waited = 0;
  bool timed = false;
  std::deque<Clock::time_point> waiting(static_cast<size_t>(streams), Clock::now());  // arrivals
  std::map<int64_t, Clock::time_point> arrived;  // live request -> its arrival
  auto run_until = [&](int64_t target) {
    while (completed < target) {
      const auto live = static_cast<int64_t>(batch.live());
      const auto ready = static_cast<int64_t>(waiting.size());
      if (ready > 0 && ready >= o.join.min_joining(live, streams - live, steps_waited)) {
        for (const auto id : batch.admit(m.internvl->vision_features(pixels.narrow(0, 0, ready)))) {
          arrived[id] = waiting.front();
          waiting.pop_front();
        }
        steps_waited = 0;
      }
      batch.step();
      if (!waiting.empty()) ++steps_waited;
      const auto now = Clock::now();  // step() read the chosen tokens back: the device is done
      for (const auto& [id, caption] : batch.take_finished()) {
        ++completed;
        tokens += static_cast<int64_t>(caption.token_ids.size());
        r.output_finite = r.output_finite && std::isfinite(caption.score);
        if (timed)
          r.request_seconds.push_back(std::chrono::duration<double>(now - arrived.at(id)).count());
        arrived.erase(id);
        waiting.push_back(now);  // the stream asks again at once
      }
    }
  };
  run_until(o.warmup * streams);
  synchronize(m.placement.device);
  const int64_t completed_before = completed, tokens_before = tokens;
  timed = true;
  for (int i = 0; i < o.iterations; ++i) {
    const auto start = Clock::now();
    run_until(completed + streams);
    synchronize(m.placement.device);
    r.seconds.push_back(elapsed_seconds(start));
  }
  const auto timed_captions = std::max<int64_t>(1, completed - completed_before);
  const auto timed_tokens = tokens - tokens_before;
  // Per call of `streams` captions, as bench_captions counts them.
  r.generated_tokens = timed_tokens * streams / timed_captions;
  const auto mean_length =
      static_cast<int64_t>(std::llround(static_cast<double>(timed_tokens) / timed_captions));
  r.decode_steps = std::max<int64_t>(0, mean_length - 1);
  r.flops_per_image = caption_flops_for(m, o, mean_length);
  return r;
}

}  // namespace ivs::cli
