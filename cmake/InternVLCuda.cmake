# SPDX-License-Identifier: Apache-2.0
# Turns INTERNVL_WITH_CUDA (AUTO/ON/OFF) into a boolean and enables the CUDA language when the
# kernels are built. Architectures default to Ampere and Hopper (80;90); never "native", which
# fails at configure time on machines without a GPU (README.md, "Notes for developers").
if(INTERNVL_WITH_CUDA STREQUAL "OFF")
  set(INTERNVL_WITH_CUDA OFF)
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(INTERNVL_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "INTERNVL_WITH_CUDA=ON but no CUDA compiler (nvcc) was found; install the "
                        "CUDA toolkit, put nvcc on PATH or set CMAKE_CUDA_COMPILER")
  endif()
  message(STATUS "CUDA kernels: off (no nvcc found)")
  set(INTERNVL_WITH_CUDA OFF)
  return()
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80;90")
endif()
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # the static default links cudart twice with CUDA::cudart
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)
if(CCACHE_PROGRAM AND NOT CMAKE_CUDA_COMPILER_LAUNCHER)
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${INTERNVL_CCACHE_LAUNCHER})
endif()
message(STATUS "CUDA kernels: on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
set(INTERNVL_WITH_CUDA ON)
