# SPDX-License-Identifier: Apache-2.0
# Builds the tokenizer twice and trains 3 steps twice with one thread: both must be byte-identical.
file(REMOVE_RECURSE ${WORK})
foreach(run a b)
  execute_process(COMMAND bash ${MAKE_TOKENIZER} ${BUILD_DIR} ${WORK}/${run}/tok RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "make_tokenizer.sh failed (${rc})")
  endif()
  execute_process(COMMAND ${TRAIN} --tokenizer ${WORK}/${run}/tok/tokenizer.model --out ${WORK}/${run}/model
                          --steps 3 --batch 4 --eval-scenes 4 --threads 1
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "internvl-train failed (${rc}): ${out}${err}")
  endif()
endforeach()
foreach(file tok/tokenizer.model model/model.safetensors model/config.json)
  file(SHA256 ${WORK}/a/${file} first)
  file(SHA256 ${WORK}/b/${file} second)
  if(NOT first STREQUAL second)
    message(FATAL_ERROR "${file} differs between two runs with the same seed")
  endif()
endforeach()
message(STATUS "tokenizer and 3 training steps reproduced byte for byte")
# The shipped demo model (model/demo) comes from this recipe: its tokenizer is the one built
# above, byte for byte, and its config.json is what the trainer writes.
foreach(pair "tok/tokenizer.model;tokenizer.model" "model/config.json;config.json"
        "model/preprocessor_config.json;preprocessor_config.json")
  list(GET pair 0 made)
  list(GET pair 1 shipped)
  file(SHA256 ${WORK}/a/${made} first)
  file(SHA256 ${DEMO_MODEL}/${shipped} second)
  if(NOT first STREQUAL second)
    message(FATAL_ERROR "${DEMO_MODEL}/${shipped} is not what model/train/make_demo_model.sh makes "
                        "(regenerate the demo model, see model/demo/README.md)")
  endif()
endforeach()
message(STATUS "model/demo's tokenizer and configs match the recipe")
