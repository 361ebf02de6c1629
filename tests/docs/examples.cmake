# The example programs of examples/ (beyond the README's tours), each run by the test command
# with its output checked (label "docs"; see the README's Examples section). Fashion-MNIST is
# Debian's dataset-fashion-mnist; minimal_finetune runs on the `hone` tests' fixtures
# (tests/cli/make_cli_fixtures.cpp: a small RGB classifier whose head feeds a Softmax, and an
# image folder of three colour classes) and its export is read back by `hone info`.
if(NOT HONE_BUILD_EXAMPLES OR NOT (TARGET hone::stb AND TARGET hone::zlib))  # as examples/CMakeLists.txt builds them
  return()
endif()

set(_ex_fashion /usr/share/datasets/fashion-mnist)
set(_ex_pretrained ${PROJECT_SOURCE_DIR}/data/pretrained/fashion_0to4.onnx)
set(_ex_out ${CMAKE_CURRENT_BINARY_DIR}/examples)
set(_ex_cli_fixtures ${CMAKE_CURRENT_BINARY_DIR}/cli)  # where tests/cli/cli.cmake's fixture writes
file(MAKE_DIRECTORY ${_ex_out})

# hone_example_test(<name> <stdout regex> [INFO_MODEL file INFO_REGEX r] [REQUIRES fixture] COMMAND <program> <args...>)
function(hone_example_test name regex)
  cmake_parse_arguments(E "" "INFO_MODEL;INFO_REGEX;REQUIRES" "COMMAND" ${ARGN})
  set(info "")
  if(E_INFO_MODEL)
    set(info -DHONE=$<TARGET_FILE:hone_cli> -DINFO_MODEL=${E_INFO_MODEL} "-DINFO_REGEX=${E_INFO_REGEX}")
  endif()
  add_test(NAME "examples: ${name}"
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${E_COMMAND}" "-DSTDOUT_REGEX=${regex}" ${info}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run_example.cmake
    WORKING_DIRECTORY ${_ex_out})
  set_tests_properties("examples: ${name}" PROPERTIES LABELS docs TIMEOUT 120)
  if(E_REQUIRES)
    set_tests_properties("examples: ${name}" PROPERTIES FIXTURES_REQUIRED ${E_REQUIRES})
  endif()
endfunction()

# 33 colour images, 20 % held out (6); the fixture's head has 4 outputs, the folder 3 classes.
hone_example_test("minimal_finetune tunes an ONNX model on an image folder and exports it"
  "3 classes, 27 training images, val accuracy (0\\.8|1\\.0)[0-9]* on 6 images\nwrote .*minimal_tuned\\.onnx"
  INFO_MODEL ${_ex_out}/minimal_tuned.onnx
  INFO_REGEX "inputs:\n  image \\(batch, 3, 32, 32\\)\noutputs:\n  probs \\(batch, 3\\)"
  REQUIRES cli-fixtures
  COMMAND $<TARGET_FILE:hone_minimal_finetune> ${_ex_cli_fixtures}/rgb.onnx ${_ex_cli_fixtures}/images
          ${_ex_out}/minimal_tuned.onnx)

# The program itself exits 1 below 0.60 test accuracy (chance 0.10).
hone_example_test("builder_from_scratch trains a Builder CNN on Fashion-MNIST"
  "epoch 4: train loss [0-9.]+, train accuracy 0\\.[0-9]+.*test accuracy 0\\.[6-9][0-9]+ on 1000 images of 10 classes"
  COMMAND $<TARGET_FILE:hone_builder_from_scratch> ${_ex_fashion})

# Seven block groups: six stages unfreeze one more each, the last trains all; then the
# hand-written phase. Measured 0.798 (chance 0.20); required: 0.60.
hone_example_test("gradual_unfreezing adapts the pretrained model to classes 5-9"
  "block groups, first to last: conv1 conv2 conv3 conv4 conv5 fc1 fc2\nphase 1: gradual unfreezing: 1 epoch\\(s\\) training fc2 .*phase 7: gradual unfreezing: 2 epoch\\(s\\) training conv1, conv2, conv3, conv4, conv5, fc1, fc2 .*epoch 8: train loss [0-9.]+, val accuracy 0\\.[0-9]+\n.*group0 +lr 1\\.00e-05  conv1\\.weight.*group6 +lr 1\\.00e-03  fc2\\.weight.*final val accuracy 0\\.[6-9][0-9]+ on 500 images of 5 classes"
  COMMAND $<TARGET_FILE:hone_gradual_unfreezing> ${_ex_pretrained} ${_ex_fashion})

# Ten candidates (pretrained and re-initialised, five cuts each), all ten rows printed; the
# pretrained network's relu4 ranks first (as docs/transfer.md measured on 200 images).
if(TARGET hone::eigen)
  hone_example_test("rank_cut ranks backbones and cut points"
    "\\| candidate \\| cut \\| dim \\| LogME \\| H-score \\| GBC \\| LEEP \\| NCE \\| probe accuracy \\| seconds \\|\n\\|---(\\|---)+\\|\n(\\| (pretrained|random) \\| [a-z0-9]+ \\| [0-9]+ \\| [^\n]*\n)+chosen: pretrained at relu4 \\(LogME -?[0-9.]+, probe accuracy 0\\.[0-9]+, 32 features\\)\nbackbone: [0-9]+ nodes, [0-9]+ parameter tensors, output \"relu4\""
    COMMAND $<TARGET_FILE:hone_rank_cut> ${_ex_pretrained} ${_ex_fashion})
endif()
