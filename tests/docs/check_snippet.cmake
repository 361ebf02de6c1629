cmake_minimum_required(VERSION 3.25)  # modern policies in script mode (CMP0012 and others)
# Checks that the first ```cpp block under a README heading is identical to a source file,
# so that the README's code is the code that is compiled and run.
# Arguments: README, HEADING (e.g. "## Quick start"), SOURCE.
file(READ ${README} readme)
string(FIND "${readme}" "${HEADING}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README has no heading \"${HEADING}\"")
endif()
string(SUBSTRING "${readme}" ${at} -1 rest)
string(FIND "${rest}" "```cpp\n" open)
string(SUBSTRING "${rest}" ${open} -1 rest)
string(LENGTH "```cpp\n" skip)
string(SUBSTRING "${rest}" ${skip} -1 rest)
string(FIND "${rest}" "```" close)
string(SUBSTRING "${rest}" 0 ${close} snippet)
file(READ ${SOURCE} source)
if(NOT snippet STREQUAL source)
  message(FATAL_ERROR "the README block under \"${HEADING}\" differs from ${SOURCE}; "
                      "update one from the other")
endif()
