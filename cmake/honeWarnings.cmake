# hone_target_warnings(<target>): the warning set hone's own targets (tests, examples,
# benches) compile with; errors too when HONE_WERROR is on. Not installed.
function(hone_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(HONE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
