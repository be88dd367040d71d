# SPDX-License-Identifier: Apache-2.0
# INTERNVL_SANITIZE: sanitizers for everything this build compiles, as -fsanitize takes them
# (address,undefined or thread). Use a build folder of its own (make test-sanitize uses
# build-sanitize). Libraries from Debian (LibTorch, GStreamer) are not instrumented: ASan still
# checks every access our code makes, TSan misses their synchronisation (README, "Sanitizers").
set(INTERNVL_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined or thread")
if(INTERNVL_SANITIZE)
  # Undefined behaviour fails the test that hits it instead of printing and going on.
  # C++ only: nvcc does not take these (the CUDA kernels stay uninstrumented).
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${INTERNVL_SANITIZE}>"
                      "$<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>"
                      "$<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>"
                      # GCC 12 with -fsanitize warns of uninitialised reads inside std::regex and
                      # std::function that are not there (GCC's manual says sanitizers make such
                      # warnings unreliable); -Werror would stop the build on them.
                      "$<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>")
  add_link_options(-fsanitize=${INTERNVL_SANITIZE})
endif()
