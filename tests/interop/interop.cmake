# The opt-in interop headers (include/hone/interop/): zero-copy views between hone tensors
# and Eigen (hone::eigen, libeigen3-dev) or xtensor (hone::xtensor, libxtensor-dev and
# xtl-dev, both installed by scripts/install-deps). Label "unit". A test program is left out,
# with a warning, only when its library is missing.
if(TARGET hone::eigen)
  add_executable(hone_interop_eigen_tests ${CMAKE_CURRENT_LIST_DIR}/test_eigen.cpp)
  target_link_libraries(hone_interop_eigen_tests PRIVATE hone::eigen hone_catch_main)
  target_compile_definitions(hone_interop_eigen_tests PRIVATE HONE_ENABLE_ASSERTS)
  hone_target_warnings(hone_interop_eigen_tests)
  if(HONE_SANITIZE)  # the nested sanitizer build runs label unit
    target_compile_options(hone_interop_eigen_tests PRIVATE ${_hone_sanitize_flags})
    target_link_options(hone_interop_eigen_tests PRIVATE -fsanitize=${HONE_SANITIZE})
  endif()
  catch_discover_tests(hone_interop_eigen_tests TEST_PREFIX "interop: " PROPERTIES LABELS unit)
else()
  message(WARNING "Eigen not found (run scripts/install-deps): the Eigen interop tests are not built")
endif()

if(TARGET hone::xtensor)
  add_executable(hone_interop_xtensor_tests ${CMAKE_CURRENT_LIST_DIR}/test_xtensor.cpp)
  target_link_libraries(hone_interop_xtensor_tests PRIVATE hone::xtensor hone_catch_main)
  target_compile_definitions(hone_interop_xtensor_tests PRIVATE HONE_ENABLE_ASSERTS)
  hone_target_warnings(hone_interop_xtensor_tests)
  if(HONE_SANITIZE)  # the nested sanitizer build runs label unit
    target_compile_options(hone_interop_xtensor_tests PRIVATE ${_hone_sanitize_flags})
    target_link_options(hone_interop_xtensor_tests PRIVATE -fsanitize=${HONE_SANITIZE})
  endif()
  catch_discover_tests(hone_interop_xtensor_tests TEST_PREFIX "interop: " PROPERTIES LABELS unit)
else()
  message(WARNING "xtensor not found (run scripts/install-deps): the xtensor interop tests are not built")
endif()
