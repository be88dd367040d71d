// SPDX-License-Identifier: Apache-2.0
// The child of crash_safety_test.cpp: indexes into argv[1] until it is killed, printing
// "flushed <frame id>" each time every frame up to that id is committed.
#include <cstdio>
#include <iostream>

#include "sinks/index/search_index.h"
#include "tests/sinks/index/synthetic_vectors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " INDEX_DIR\n";
    return 2;
  }
  ivs::search::SearchIndexOptions options;
  options.dir = argv[1];
  options.retention_hours = 0;
  options.max_disk_gb = 0;
  options.exact_limit = 2000;                       // crash inside the IVF too
  options.save_interval = std::chrono::seconds(1);  // and while the vector file is written
  auto index = ivs::search::SearchIndex::open(options);
  ivs::search::test::ClusteredVectors gen(32, 8, 0.1f, 31);
  for (int64_t frame = 0;; ++frame) {
    index->add(ivs::search::test::make_frame(frame % 2 ? "a" : "b", frame, frame * 0.1,
                                             ivs::search::test::test_epoch(), gen.next(),
                                             frame % 3 == 0));
    if (frame % 200 == 199) {
      index->flush();
      std::printf("flushed %lld\n", static_cast<long long>(frame));
      std::fflush(stdout);
    }
  }
}
