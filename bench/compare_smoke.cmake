# The bench-smoke test of bench/compare: runs it on a tiny configuration (MobileNetV2, batch
# 2, 64x64, one iteration) and checks the table: its header, and a number in every cell
# but the ONNX Runtime cells of the training rows (which say "—": ONNX Runtime only infers).
# Variables: COMPARE (bench/compare), HONE (the hone binary), WORK_DIR.
execute_process(
  COMMAND ${COMPARE} --hone ${HONE} --out ${WORK_DIR} --models mobilenet_v2 --batch 2 --image-size 64
          --iters 1 --warmup 0
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench/compare exited with ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()
set(header "| model | mode | hone img/s | PyTorch img/s | ONNX Runtime img/s | hone/PyTorch | hone/ORT | hone peak RSS MiB | PyTorch peak RSS MiB | RSS hone/PyTorch | ORT peak RSS MiB |")
string(FIND "${out}" "${header}\n|---|---|---|---|---|---|---|---|---|---|---|\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the table's header is missing or changed:\n${out}")
endif()
set(n "[0-9]+(\\.[0-9]+)?")
set(rows
  "| mobilenet_v2 | infer | ${n} | ${n} | ${n} | ${n} | ${n} | ${n} | ${n} | ${n} | ${n} |"
  "| mobilenet_v2 | train-full | ${n} | ${n} | — | ${n} | — | ${n} | ${n} | ${n} | — |"
  "| mobilenet_v2 | train-head | ${n} | ${n} | — | ${n} | — | ${n} | ${n} | ${n} | — |")
foreach(row IN LISTS rows)
  string(REPLACE "|" "\\|" regex "${row}")
  if(NOT out MATCHES "\n${regex}\n")
    message(FATAL_ERROR "no table row matches \"${row}\" (a number in every cell):\n${out}")
  endif()
endforeach()
if(NOT EXISTS ${WORK_DIR}/compare.json)
  message(FATAL_ERROR "bench/compare did not write ${WORK_DIR}/compare.json")
endif()
message(STATUS "bench/compare smoke run:\n${out}")
