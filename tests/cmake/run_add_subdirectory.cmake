# Builds and runs a consumer project that pulls hone in with add_subdirectory, checking
# that hone's own tests, examples and benches stay off when hone is not the top level.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
hone_step("configure the consumer" COMMAND ${CMAKE_COMMAND} -S ${HONE_TESTS_DIR}/cmake/add_subdirectory
  -B ${WORK_DIR}/build -G ${HONE_GENERATOR} -DCMAKE_CXX_COMPILER=${HONE_CXX}
  -DHONE_SOURCE_DIR=${HONE_SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release)
hone_step("build the consumer" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
hone_step("run the consumer" COMMAND ${WORK_DIR}/build/hone_consumer OUTPUT_VARIABLE out)
if(NOT out MATCHES "hone [0-9]+\\.[0-9]+\\.[0-9]+ consumer ok")
  message(FATAL_ERROR "unexpected consumer output: ${out}")
endif()
message(STATUS "add_subdirectory consumer: ok")
