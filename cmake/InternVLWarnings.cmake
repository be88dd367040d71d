# SPDX-License-Identifier: Apache-2.0
# Strict warnings on our own targets only (third-party headers are system headers).
function(internvl_strict_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
