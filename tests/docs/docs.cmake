# Generated documentation: README.md's "Supported ONNX operators" table and the matrix of
# docs/onnx-support.md are printed by programs that read hone's own tables (and, for the
# matrix, run ONNX's node tests); these tests fail when the committed text differs.
# scripts/update-ops-table rewrites both.
add_executable(hone_print_ops_table ${CMAKE_CURRENT_LIST_DIR}/print_ops_table.cpp)
target_link_libraries(hone_print_ops_table PRIVATE hone::hone)
hone_target_warnings(hone_print_ops_table)
add_executable(hone_print_onnx_support ${CMAKE_CURRENT_LIST_DIR}/print_onnx_support.cpp)
target_link_libraries(hone_print_onnx_support PRIVATE hone::hone)
hone_target_warnings(hone_print_onnx_support)

add_test(NAME "docs: README's ONNX operator table is hone_print_ops_table's output"
  COMMAND ${CMAKE_COMMAND} -DMODE=check -DDOC=${PROJECT_SOURCE_DIR}/README.md -DNAME=ops-table
          -DPROGRAM=$<TARGET_FILE:hone_print_ops_table>
          -P ${CMAKE_CURRENT_LIST_DIR}/generated_section.cmake)
add_test(NAME "docs: docs/onnx-support.md's matrix is hone_print_onnx_support's output"
  COMMAND ${CMAKE_COMMAND} -DMODE=check -DDOC=${PROJECT_SOURCE_DIR}/docs/onnx-support.md
          -DNAME=onnx-support -DPROGRAM=$<TARGET_FILE:hone_print_onnx_support> -DARG=${HONE_ONNX_TESTDATA}
          -P ${CMAKE_CURRENT_LIST_DIR}/generated_section.cmake)
set_tests_properties("docs: README's ONNX operator table is hone_print_ops_table's output"
  "docs: docs/onnx-support.md's matrix is hone_print_onnx_support's output"
  PROPERTIES LABELS docs TIMEOUT 300)
