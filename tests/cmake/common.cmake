cmake_minimum_required(VERSION 3.25)  # modern policies in script mode (CMP0012 and others)
# Helpers for the nested-build tests, run in CMake script mode (cmake -P).
# hone_step(<what> COMMAND ...) runs a command, echoes its output, and stops the test with
# a clear message when it fails.
function(hone_step what)
  cmake_parse_arguments(ARG "EXPECT_FAILURE" "WORKING_DIRECTORY;OUTPUT_VARIABLE" "COMMAND" ${ARGN})
  if(NOT ARG_WORKING_DIRECTORY)
    set(ARG_WORKING_DIRECTORY ${WORK_DIR})
  endif()
  message(STATUS "[step] ${what}")
  execute_process(COMMAND ${ARG_COMMAND} WORKING_DIRECTORY ${ARG_WORKING_DIRECTORY}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(ARG_OUTPUT_VARIABLE)
    set(${ARG_OUTPUT_VARIABLE} "${out}" PARENT_SCOPE)
  endif()
  if(ARG_EXPECT_FAILURE)
    if(rc EQUAL 0)
      message(FATAL_ERROR "${what}: expected a failure but the command succeeded\n${out}\n${err}")
    endif()
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: failed (${rc})\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
