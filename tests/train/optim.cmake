# The optimizers, schedules and LR range finder (include/hone/train/optim.hpp, schedule.hpp).
# The PyTorch references are written at test time by tests/train/gen_optim_ref.py (ctest
# fixture "train-optim-ref", Debian's python3-torch under HONE_TEST_PYTHON), so they cannot
# drift from the script. Test cases tagged [torch] need them and carry the "parity" label;
# the others are label "train" and need nothing.
set(_hone_optim_ref_dir ${CMAKE_CURRENT_BINARY_DIR}/train/optim_ref)
add_executable(hone_optim_tests ${CMAKE_CURRENT_LIST_DIR}/test_optim.cpp)
target_link_libraries(hone_optim_tests PRIVATE hone::hone hone_catch_main)
target_compile_definitions(hone_optim_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_optim_tests)

add_test(NAME "train: generate the PyTorch optimizer and schedule references"
  COMMAND ${HONE_TEST_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/gen_optim_ref.py ${_hone_optim_ref_dir})
set_tests_properties("train: generate the PyTorch optimizer and schedule references" PROPERTIES
  LABELS parity FIXTURES_SETUP train-optim-ref TIMEOUT 300)
catch_discover_tests(hone_optim_tests TEST_SPEC "[torch]" TEST_PREFIX "train: "
  PROPERTIES LABELS parity FIXTURES_REQUIRED train-optim-ref
  ENVIRONMENT "HONE_OPTIM_REF_DIR=${_hone_optim_ref_dir}")
catch_discover_tests(hone_optim_tests TEST_SPEC "~[torch]" TEST_PREFIX "train: "
  PROPERTIES LABELS train)
