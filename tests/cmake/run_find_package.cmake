# Installs hone from the main build tree into a private prefix, then builds and runs a
# consumer project that finds it with find_package(hone) and nothing else.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
set(prefix ${WORK_DIR}/prefix)

hone_step("install hone" COMMAND ${CMAKE_COMMAND} --install ${HONE_BINARY_DIR} --prefix ${prefix})

foreach(f share/cmake/hone/honeConfig.cmake share/cmake/hone/honeConfigVersion.cmake
          share/cmake/hone/honeTargets.cmake share/cmake/hone/honeComponents.cmake
          include/hone/hone.hpp include/hone/core/tensor.hpp)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install is missing ${f}")
  endif()
endforeach()
# Architecture independence: a consumer with 4-byte pointers must find the package suitable.
set(PACKAGE_FIND_VERSION 0.1)
set(PACKAGE_FIND_VERSION_MAJOR 0)
set(PACKAGE_FIND_VERSION_MINOR 1)
set(CMAKE_SIZEOF_VOID_P 4)
include(${prefix}/share/cmake/hone/honeConfigVersion.cmake)
if(PACKAGE_VERSION_UNSUITABLE OR NOT PACKAGE_VERSION_COMPATIBLE)
  message(FATAL_ERROR "honeConfigVersion.cmake rejects a 32-bit consumer: not architecture-independent")
endif()
unset(CMAKE_SIZEOF_VOID_P)
file(READ ${prefix}/share/cmake/hone/honeTargets.cmake targets_file)
string(FIND "${targets_file}" "${HONE_SOURCE_DIR}" source_ref)
if(NOT source_ref EQUAL -1)
  message(FATAL_ERROR "the installed targets refer to the source tree ${HONE_SOURCE_DIR}")
endif()

set(consumer ${HONE_TESTS_DIR}/cmake/find_package)
hone_step("configure the consumer" COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build
  -G ${HONE_GENERATOR} -DCMAKE_CXX_COMPILER=${HONE_CXX} -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_BUILD_TYPE=Release)
hone_step("build the consumer" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
hone_step("run the consumer" COMMAND ${WORK_DIR}/build/hone_consumer OUTPUT_VARIABLE out)
if(NOT out MATCHES "hone [0-9]+\\.[0-9]+\\.[0-9]+ consumer ok")
  message(FATAL_ERROR "unexpected consumer output: ${out}")
endif()

hone_step("a too-new version request is refused" EXPECT_FAILURE
  COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build-v99 -G ${HONE_GENERATOR}
  -DCMAKE_CXX_COMPILER=${HONE_CXX} -DCMAKE_PREFIX_PATH=${prefix} -DHONE_REQUEST_VERSION=99.0)
hone_step("an unknown component is refused" EXPECT_FAILURE
  COMMAND ${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build-bogus -G ${HONE_GENERATOR}
  -DCMAKE_CXX_COMPILER=${HONE_CXX} -DCMAKE_PREFIX_PATH=${prefix} -DHONE_REQUEST_COMPONENTS=bogus)
message(STATUS "find_package consumer: ok")
