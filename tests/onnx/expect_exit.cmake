# Runs COMMAND (a ;-list) and requires exit code EXPECTED and stderr matching STDERR_REGEX.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc STREQUAL "${EXPECTED}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECTED}; stderr: ${err}")
endif()
if(NOT err MATCHES "${STDERR_REGEX}")
  message(FATAL_ERROR "stderr does not match \"${STDERR_REGEX}\": ${err}")
endif()
