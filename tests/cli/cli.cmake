# The `hone` tool's finetune, eval, export, rank, compare, bench and demo commands, run as a program (label "cli").
# Fixtures are written at test time by make_cli_fixtures (two small ONNX classifiers built
# with hone::Builder and a tiny image folder); the IDX data is Debian's
# dataset-fashion-mnist. Flows run through run_flow.cmake (exit code, output, the report's
# keys, `hone info` on the result); bad usage through tests/onnx/expect_exit.cmake.
if(NOT HONE_BUILD_EXAMPLES)
  return()
endif()

set(_cli_dir ${CMAKE_CURRENT_BINARY_DIR}/cli)
set(_cli_src ${CMAKE_CURRENT_LIST_DIR})                                # functions below run later
set(_cli_expect_exit ${CMAKE_CURRENT_LIST_DIR}/../onnx/expect_exit.cmake)
set(_cli_fashion /usr/share/datasets/fashion-mnist)
set(_cli_train idx:${_cli_fashion}/train-images-idx3-ubyte.gz:${_cli_fashion}/train-labels-idx1-ubyte.gz)
set(_cli_test idx:${_cli_fashion}/t10k-images-idx3-ubyte.gz:${_cli_fashion}/t10k-labels-idx1-ubyte.gz)

add_executable(hone_cli_fixtures ${_cli_src}/make_cli_fixtures.cpp)
target_link_libraries(hone_cli_fixtures PRIVATE hone::hone)
hone_target_warnings(hone_cli_fixtures)
add_test(NAME "cli: write the test models and image folder" COMMAND hone_cli_fixtures ${_cli_dir})
set_tests_properties("cli: write the test models and image folder" PROPERTIES
  LABELS cli FIXTURES_SETUP cli-fixtures)

# hone_cli_flow(NAME <test name> ARGS <hone arguments...> [STDOUT_REGEX r] [STDERR_REGEX r]
#   [REPORT file] [INFO_MODEL file] [INFO_REGEX r] [INFO_FAIL_REGEX r] [SETUP fixture]
#   [REQUIRES fixtures...] [EXISTS files...])
function(hone_cli_flow)
  cmake_parse_arguments(F "" "NAME;STDOUT_REGEX;STDERR_REGEX;REPORT;INFO_MODEL;INFO_REGEX;INFO_FAIL_REGEX;SETUP"
                        "ARGS;REQUIRES;EXISTS" ${ARGN})
  set(defs "")  # none holds a ';' (ARGS, a list, is passed quoted below)
  foreach(k STDOUT_REGEX STDERR_REGEX REPORT INFO_MODEL INFO_REGEX INFO_FAIL_REGEX)
    if(DEFINED F_${k})
      list(APPEND defs "-D${k}=${F_${k}}")
    endif()
  endforeach()
  if(F_EXISTS)
    string(REPLACE ";" "|" exists "${F_EXISTS}")  # run_flow.cmake splits it again
    list(APPEND defs "-DEXISTS=${exists}")
  endif()
  add_test(NAME "${F_NAME}" COMMAND ${CMAKE_COMMAND} -DHONE=$<TARGET_FILE:hone_cli> "-DARGS=${F_ARGS}" ${defs}
                                    -P ${_cli_src}/run_flow.cmake)
  set_tests_properties("${F_NAME}" PROPERTIES LABELS cli TIMEOUT 120
    FIXTURES_REQUIRED "cli-fixtures;${F_REQUIRES}")
  if(F_SETUP)
    set_tests_properties("${F_NAME}" PROPERTIES FIXTURES_SETUP ${F_SETUP})
  endif()
endfunction()

# hone_cli_usage(<test name> <expected exit code> <stderr regex> <hone arguments...>)
function(hone_cli_usage name code regex)
  add_test(NAME "${name}"
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=$<TARGET_FILE:hone_cli>;${ARGN}" -DEXPECTED=${code}
            "-DSTDERR_REGEX=${regex}" -P ${_cli_expect_exit})
  set_tests_properties("${name}" PROPERTIES LABELS cli FIXTURES_REQUIRED cli-fixtures)
endfunction()

# --- finetune: every strategy once, on IDX (grey, 28x28) and on the image folder (RGB) ----
hone_cli_flow(NAME "cli: finetune --strategy full with --freeze/--unfreeze on Fashion-MNIST"
  ARGS finetune ${_cli_dir}/gray.onnx --data ${_cli_train} --val ${_cli_test} --classes 5,6,7,8,9
       --per-class 10 --val-per-class 20 --strategy full --freeze conv* --unfreeze conv5.*
       --bn frozen --optimizer adam --lr 1e-3 --epochs 2 --batch 10 --seed 3 --threads 2
       --out ${_cli_dir}/tuned_idx.onnx --report ${_cli_dir}/report_idx.json
  STDOUT_REGEX "classes: 5 \\(5, 6, 7, 8, 9\\).*samples: 50 training, 100 validation.*phase: full fine-tune: [0-9]+ of [0-9]+ parameter tensors trainable \\(--freeze conv\\* --unfreeze conv5\\.\\*\\), 2 epochs, lr 0\\.001, BatchNorm frozen.*val accuracy [01]\\.[0-9]+ \\(best [01]\\.[0-9]+ at epoch [12] of 2\\).*model: .*tuned_idx\\.onnx.*report: .*report_idx\\.json"
  STDERR_REGEX "new head \"fc2\": 10 -> 5 classes.*epoch 2/2"
  REPORT ${_cli_dir}/report_idx.json
  INFO_MODEL ${_cli_dir}/tuned_idx.onnx
  INFO_REGEX "inputs:\n  image \\(batch, 1, 28, 28\\)\noutputs:\n  fc2 \\(batch, 5\\)"
  SETUP cli-tuned-idx)

# The head: a new one even when the widths match (new classes), unless --keep-head.
hone_cli_flow(NAME "cli: finetune gives a new head when the widths match"
  ARGS finetune ${_cli_dir}/gray.onnx --data ${_cli_train} --val ${_cli_test} --per-class 2
       --val-per-class 2 --strategy linear-probe --epochs 1 --threads 2 --out ${_cli_dir}/tuned_newhead.onnx
  STDERR_REGEX "new head \"fc2\": 10 -> 10 classes")
hone_cli_flow(NAME "cli: finetune --keep-head keeps the model's head"
  ARGS finetune ${_cli_dir}/gray.onnx --data ${_cli_train} --val ${_cli_test} --per-class 2
       --val-per-class 2 --strategy linear-probe --epochs 1 --threads 2 --keep-head
       --out ${_cli_dir}/tuned_keephead.onnx --report ${_cli_dir}/report_keephead.json
  STDERR_REGEX "keeping the head \"fc2\" \\(10 classes\\)"
  REPORT ${_cli_dir}/report_keephead.json)

hone_cli_flow(NAME "cli: finetune --strategy lp-ft with --bn adabn"
  ARGS finetune ${_cli_dir}/gray.onnx --data ${_cli_train} --val ${_cli_test} --classes 0,1,2
       --per-class 10 --val-per-class 10 --strategy lp-ft --bn adabn --epochs 1 --batch 10
       --out ${_cli_dir}/tuned_lpft.onnx
  STDOUT_REGEX "phase: linear probe: head \"fc2\" on cached features.*phase: full fine-tune: all parameters, 1 epochs, lr 0\\.0001, BatchNorm frozen.*val accuracy"
  STDERR_REGEX "adabn: BatchNorm statistics re-estimated on 30 training images")

hone_cli_flow(NAME "cli: finetune --strategy linear-probe with sgd"
  ARGS finetune ${_cli_dir}/gray.onnx --data=${_cli_train} --val=${_cli_test} --classes=7,9
       --per-class=8 --val-per-class=10 --strategy=linear-probe --optimizer=sgd --lr=0.05 --epochs=2
       --out=${_cli_dir}/tuned_probe.onnx
  STDOUT_REGEX "classes: 2 \\(7, 9\\).*phase: linear probe: head \"fc2\" on cached features.*2 epochs, lr 0\\.05")

# An RGB model fed grey IDX data: replicated to 3 channels, resized 28 -> 32, own mean/std.
hone_cli_flow(NAME "cli: finetune --strategy gradual, grey IDX into an RGB model"
  ARGS finetune ${_cli_dir}/rgb.onnx --data ${_cli_train} --val ${_cli_test} --classes 1,3,8
       --per-class 6 --val-per-class 6 --strategy gradual --epochs 3 --batch 6
       --mean 0.3 --std 0.3 --out ${_cli_dir}/tuned_gradual.onnx
  STDOUT_REGEX "phase: gradual unfreezing: 1 epoch\\(s\\) training fc .*phase: gradual unfreezing: 1 epoch\\(s\\) training bn2, fc.*val accuracy"
  STDERR_REGEX "new head \"fc\": 4 -> 3 classes"
  INFO_MODEL ${_cli_dir}/tuned_gradual.onnx
  INFO_REGEX "probs \\(batch, 3\\)")

# The image folder: RGB PPMs of three sizes and a grey PGM per class, no --val (a 20 % split),
# the default strategy (fine-tune), the Softmax output kept in the export.
hone_cli_flow(NAME "cli: finetune on an image folder without --val"
  ARGS finetune ${_cli_dir}/rgb.onnx --data ${_cli_dir}/images --epochs 2 --batch 8 --seed 1
       --out ${_cli_dir}/tuned_rgb.onnx --report ${_cli_dir}/report_rgb.json
  STDOUT_REGEX "classes: 3 \\(blue, green, red\\).*samples: 27 training, 6 validation.*phase: fine_tune: 1 epoch\\(s\\) head and BatchNorm only.*phase: fine_tune: 2 epoch\\(s\\) all unfrozen"
  STDERR_REGEX "no --val: holding out 20 % of each class.*6 images.*new head \"fc\": 4 -> 3 classes"
  REPORT ${_cli_dir}/report_rgb.json
  INFO_MODEL ${_cli_dir}/tuned_rgb.onnx
  INFO_REGEX "inputs:\n  image \\(batch, 3, 32, 32\\)\noutputs:\n  probs \\(batch, 3\\)"
  SETUP cli-tuned-rgb)

# The preprocessing must keep what the classes differ in (their colour): full fine-tuning
# at a high rate separates them (measured: 1.0 on the 6 held-out images from epoch 2 on).
# --image-size 24x24 overrides the model's 32x32 (its global pooling takes any size).
hone_cli_flow(NAME "cli: finetune learns the colour classes of the image folder"
  ARGS finetune ${_cli_dir}/rgb.onnx --data ${_cli_dir}/images --strategy full --lr 1e-2 --epochs 15
       --batch 8 --image-size 24x24 --out ${_cli_dir}/tuned_colour.onnx
  STDOUT_REGEX "val accuracy (1\\.0000|0\\.8333)"
  STDERR_REGEX "note: training at 24x24, the model declared 32x32"
  INFO_MODEL ${_cli_dir}/tuned_colour.onnx
  INFO_REGEX "image \\(batch, 3, 24, 24\\)"
  SETUP cli-tuned-colour)

# --- eval ---------------------------------------------------------------------------------
hone_cli_flow(NAME "cli: eval the tuned model on Fashion-MNIST's test split"
  ARGS eval ${_cli_dir}/tuned_idx.onnx --data ${_cli_test} --classes 5,6,7,8,9 --per-class 40 --batch 50
  STDOUT_REGEX "data: .*, 200 images, 5 classes\nloss: [0-9.]+\naccuracy: [01]\\.[0-9]+ \\([0-9]+ of 200\\)\nconfusion matrix.*true.pred +0 +1 +2 +3 +4 +recall\n +5 "
  REQUIRES cli-tuned-idx)
hone_cli_flow(NAME "cli: eval prints top-5 with more than 5 classes"
  ARGS eval ${_cli_dir}/gray.onnx --data ${_cli_test} --per-class 5
  STDOUT_REGEX "50 images, 10 classes.*accuracy: [01]\\.[0-9]+ \\([0-9]+ of 50\\)\ntop-5 accuracy: [01]\\.[0-9]+")
hone_cli_flow(NAME "cli: eval the tuned RGB model on its image folder"
  ARGS eval ${_cli_dir}/tuned_rgb.onnx --data ${_cli_dir}/images
  STDOUT_REGEX "33 images, 3 classes.*accuracy: [01]\\.[0-9]+ \\([0-9]+ of 33\\).* +blue .* +green .* +red "
  REQUIRES cli-tuned-rgb)
hone_cli_flow(NAME "cli: eval at another --image-size"
  ARGS eval ${_cli_dir}/tuned_colour.onnx --data ${_cli_dir}/images --image-size 28
  STDOUT_REGEX "33 images, 3 classes.*accuracy: [01]\\.[0-9]+ \\([0-9]+ of 33\\)"
  REQUIRES cli-tuned-colour)
hone_cli_usage("cli: --image-size a model cannot take exits 1" 1 "hone eval: .*--image-size 20x20: the model cannot take this size \\(it declares 28x28\\)"
  eval ${_cli_dir}/gray.onnx --data ${_cli_test} --image-size 20x20)
hone_cli_usage("cli: eval rejects a model whose output width is not the class count" 1
  "hone eval: .*has 10 classes but the data has 3 \\(5, 6, 7\\)" eval ${_cli_dir}/gray.onnx --data ${_cli_test} --classes 5,6,7)

# --- export -------------------------------------------------------------------------------
hone_cli_flow(NAME "cli: export --truncate-at makes a feature extractor"
  ARGS export ${_cli_dir}/gray.onnx --out ${_cli_dir}/features.onnx --truncate-at features
  STDOUT_REGEX "output: features \\(batch, 64\\)"
  INFO_MODEL ${_cli_dir}/features.onnx
  INFO_REGEX "outputs:\n  features \\(batch, 64\\)"
  INFO_FAIL_REGEX "fc2")
hone_cli_flow(NAME "cli: export --fold-batch-norm folds every BatchNorm"
  ARGS export ${_cli_dir}/gray.onnx --out ${_cli_dir}/folded.onnx --fold-batch-norm --output fc2
  STDOUT_REGEX "0 BatchNormalization left unfolded.*output: fc2 \\(batch, 10\\)"
  INFO_MODEL ${_cli_dir}/folded.onnx
  INFO_REGEX "supported: yes"
  INFO_FAIL_REGEX "BatchNormalization")

# --- rank, compare, demo -----------------------------------------------------------------
# rank: models of different inputs (grey 28x28, RGB 32x32) on the same images, then cut
# points inside one model.
if(TARGET hone::eigen)
  hone_cli_flow(NAME "cli: rank two models on Fashion-MNIST"
    ARGS rank ${_cli_dir}/gray.onnx ${_cli_dir}/rgb.onnx --data ${_cli_test} --classes 5,6,7,8,9 --per-class 20
         --threads 2 --json ${_cli_dir}/rank.json
    STDOUT_REGEX "\\| candidate \\| cut \\| dim \\| LogME \\|.*\\| (gray\\.onnx \\| features \\| 64|rgb\\.onnx \\| [^|]+ \\| 16) \\| -?[0-9.]+ \\|.*\\| (gray\\.onnx \\| features \\| 64|rgb\\.onnx \\| [^|]+ \\| 16) \\|.*json: .*rank\\.json"
    STDERR_REGEX "hone rank: .*gray\\.onnx on 100 images of 5 classes.*rgb\\.onnx on 100 images of 5 classes"
    EXISTS ${_cli_dir}/rank.json)
  hone_cli_flow(NAME "cli: rank cut points inside one model"
    ARGS rank ${_cli_dir}/gray.onnx --data ${_cli_test} --per-class 10 --cut features --cut fc2 --threads 2
    STDOUT_REGEX "(features \\| 64 \\|.*fc2 \\| 10 \\||fc2 \\| 10 \\|.*features \\| 64 \\|)")
  hone_cli_usage("cli: rank at an unknown cut exits 1" 1 "hone rank: .*nowhere"
    rank ${_cli_dir}/gray.onnx --data ${_cli_test} --per-class 4 --cut nowhere)
else()
  hone_cli_usage("cli: rank without Eigen exits 1" 1 "hone rank: .*built without Eigen"
    rank ${_cli_dir}/gray.onnx --data ${_cli_test})
endif()

# compare: on IDX with a k-shot sweep; on the image folder through an RGB model whose
# Softmax output must be skipped for the loss.
hone_cli_flow(NAME "cli: compare with a k-shot sweep on Fashion-MNIST"
  ARGS compare ${_cli_dir}/gray.onnx --data ${_cli_train} --val ${_cli_test} --classes 5,6,7 --per-class 10
       --val-per-class 10 --epochs 2 --batch 10 --shots 2,5 --seed 1 --threads 2 --out ${_cli_dir}/compare/cmp
  STDOUT_REGEX "## Transfer vs training from scratch.*30 training images, 30 validation images, 3 classes.*\\| final accuracy \\| [01]\\.[0-9]+ \\| [01]\\.[0-9]+ \\|.*Training time saved.*\\| images per class \\| transfer \\| scratch \\|\n\\|---\\|---\\|---\\|\n\\| 2 \\| .*\n\\| 5 \\| .*report: .*cmp\\.json, .*cmp\\.md, .*cmp-time\\.svg, .*cmp-shots\\.svg"
  EXISTS ${_cli_dir}/compare/cmp.json ${_cli_dir}/compare/cmp.md ${_cli_dir}/compare/cmp-time.svg
         ${_cli_dir}/compare/cmp-shots.svg)
hone_cli_flow(NAME "cli: compare an RGB Softmax model on the image folder"
  ARGS compare ${_cli_dir}/rgb.onnx --data ${_cli_dir}/images --val ${_cli_dir}/images --epochs 1 --batch 8
       --out ${_cli_dir}/compare_rgb
  STDOUT_REGEX "33 training images, 33 validation images, 3 classes.*\\| final accuracy \\| [01]\\.[0-9]+ \\| [01]\\.[0-9]+ \\|"
  EXISTS ${_cli_dir}/compare_rgb.json ${_cli_dir}/compare_rgb.md ${_cli_dir}/compare_rgb-time.svg)

# demo: the main job, with its defaults (10 images per class, 10 epochs), about 3 s.
hone_cli_flow(NAME "cli: demo fine-tunes the pretrained model and compares with scratch"
  ARGS demo --out ${_cli_dir}/demo --threads 2
  STDOUT_REGEX "10 training images per class, 500 validation images, 10 epochs each\ntransfer accuracy: [01]\\.[0-9]+ \\(best [01]\\.[0-9]+\\), [0-9.]+ s training\nscratch accuracy: +[01]\\.[0-9]+ \\(best [01]\\.[0-9]+\\), [0-9.]+ s training\ntime to [01]\\.[0-9]+ \\(scratch's best\\): transfer .*\ntraining time saved: .*\nplot: .*demo/transfer-time\\.svg\nreport: .*demo/transfer\\.json, .*demo/transfer\\.md\ntuned model: .*demo/tuned\\.onnx"
  EXISTS ${_cli_dir}/demo/transfer-time.svg ${_cli_dir}/demo/transfer.json ${_cli_dir}/demo/transfer.md
         ${_cli_dir}/demo/tuned.onnx
  INFO_MODEL ${_cli_dir}/demo/tuned.onnx
  INFO_REGEX "inputs:\n  x \\(batch, 1, 28, 28\\)\noutputs:\n  fc2 \\(batch, 5\\)")

# --- help and bad usage: exit 2 with the message and the command's usage on stderr --------
# bench: the three modes on the small grey model; the last line is "<number> img/s".
# infer also prints the fused chains' prepared weights.
foreach(_mode infer train-full train-head)
  set(_prepared "")
  if(_mode STREQUAL "infer")
    set(_prepared "prepared weights \\(fused chains\\): [0-9.]+ MiB\n")
  endif()
  hone_cli_flow(NAME "cli: bench --mode ${_mode}"
    ARGS bench ${_cli_dir}/gray.onnx --mode ${_mode} --batch 8 --iters 3 --warmup 1 --threads 2
    STDOUT_REGEX "mode: ${_mode}, batch 8, input 1x28x28, threads 2, 3 timed iterations after 1 warm-up\nseconds per iteration: median [0-9.]+, min [0-9.]+, max [0-9.]+\npeak RSS: [0-9.]+ MiB\ntensor cache: [0-9.]+ MiB held, [0-9]+ hits, [0-9]+ misses\n${_prepared}[0-9]+\\.[0-9][0-9] img/s\n$")
endforeach()
hone_cli_usage("cli: bench with an unknown --mode exits 2" 2 "hone bench: --mode: unknown value \"train\" \\(one of infer, train-full, train-head\\)" bench ${_cli_dir}/gray.onnx --mode train)
hone_cli_usage("cli: bench on a model without image input exits 1" 1 "hone bench: .*" bench /nonexistent.onnx)

add_test(NAME "cli: hone --help lists every command" COMMAND hone_cli --help)
add_test(NAME "cli: hone finetune --help explains the options" COMMAND hone_cli finetune --help)
set_tests_properties("cli: hone --help lists every command" PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "hone info.*hone run.*hone finetune.*hone eval.*hone export.*hone rank.*hone compare.*hone bench.*hone demo")
add_test(NAME "cli: hone demo --help explains the options" COMMAND hone_cli demo --help)
set_tests_properties("cli: hone demo --help explains the options" PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "dataset-fashion-mnist.*--per-class K .*--epochs E ")
set_tests_properties("cli: hone finetune --help explains the options" PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "--strategy S .*--freeze GLOB .*--bn P ")

set(_m ${_cli_dir}/gray.onnx)
set(_ft finetune ${_m} --data ${_cli_train})
hone_cli_usage("cli: finetune without --out exits 2" 2 "hone finetune: missing --out TUNED.onnx\nusage: hone finetune" ${_ft})
hone_cli_usage("cli: finetune with an unknown strategy exits 2" 2
  "--strategy: unknown value \"best\" \\(one of linear-probe, full, lp-ft, gradual, fine-tune\\)" ${_ft} --out x.onnx --strategy best)
hone_cli_usage("cli: finetune with a bad --lr exits 2" 2 "--lr: \"fast\" is not a number" ${_ft} --out x.onnx --lr fast)
hone_cli_usage("cli: finetune with a missing value exits 2" 2 "--epochs needs a value" ${_ft} --out x.onnx --epochs)
hone_cli_usage("cli: finetune with --epochs 0 exits 2" 2 "--epochs: 0 is below the minimum 1" ${_ft} --out x.onnx --epochs 0)
hone_cli_usage("cli: finetune with an unknown option exits 2" 2 "unknown option --learning-rate" ${_ft} --out x.onnx --learning-rate 1)
hone_cli_usage("cli: finetune with --batch given twice exits 2" 2 "--batch is given twice" ${_ft} --out x.onnx --batch 4 --batch 8)
hone_cli_usage("cli: --freeze needs --strategy full" 2 "--freeze/--unfreeze need --strategy full \\(lp-ft here\\)"
  ${_ft} --out x.onnx --strategy lp-ft --freeze conv1.*)
hone_cli_usage("cli: --bn frozen does not apply to fine-tune" 2 "--bn frozen does not apply to fine-tune" ${_ft} --out x.onnx --bn frozen)
hone_cli_usage("cli: --bn train does not apply to linear-probe" 2 "--bn train does not apply to linear-probe"
  ${_ft} --out x.onnx --strategy linear-probe --bn train)
hone_cli_usage("cli: a malformed idx: spec exits 2" 2 "--data: \"idx:a.gz\" is not idx:IMAGES:LABELS" finetune ${_m} --data idx:a.gz --out x.onnx)
hone_cli_usage("cli: a malformed --image-size exits 2" 2 "--image-size: \"28by28\" is not a size" ${_ft} --out x.onnx --image-size 28by28)
hone_cli_usage("cli: --mean with the wrong count exits 2" 2 "--mean: 2 values for a model of 1 channel\\(s\\)" ${_ft} --out x.onnx --mean 0.1,0.2)
hone_cli_usage("cli: eval with an unknown option exits 2" 2 "hone eval: unknown option --top\nusage: hone eval" eval ${_m} --data ${_cli_test} --top 3)
hone_cli_usage("cli: export without --out exits 2" 2 "hone export: missing --out OUT.onnx" export ${_m})
hone_cli_usage("cli: export --truncate-at with --output exits 2" 2 "--truncate-at and --output cannot be combined"
  export ${_m} --out x.onnx --truncate-at features --output fc2)
hone_cli_usage("cli: an unknown command exits 2" 2 "hone: unknown command tune\nusage: hone info" tune ${_m})
hone_cli_usage("cli: demo with --per-class 0 exits 2" 2 "hone demo: --per-class: 0 is below the minimum 1\nusage: hone demo" demo --per-class 0)
hone_cli_usage("cli: demo with an argument exits 2" 2 "hone demo: unexpected argument model.onnx" demo model.onnx)
hone_cli_usage("cli: compare without --val exits 2" 2 "hone compare: missing --val VAL\nusage: hone compare" compare ${_m} --data ${_cli_train})
hone_cli_usage("cli: compare with an empty --shots item exits 2" 2 "--shots: empty item in \"2,,5\""
  compare ${_m} --data ${_cli_train} --val ${_cli_test} --shots 2,,5)
hone_cli_usage("cli: rank without a model exits 2" 2 "hone rank: missing MODEL.onnx\nusage: hone rank" rank --data ${_cli_test})
hone_cli_usage("cli: rank without --data exits 2" 2 "hone rank: missing --data DATA" rank ${_m})
# Errors (exit 1, one line naming the problem).
hone_cli_usage("cli: demo with a missing --model exits 1" 1 "hone demo: .*nonexistent\\.onnx" demo --model /nonexistent.onnx --out ${_cli_dir}/demo_missing)
hone_cli_usage("cli: finetune on a missing folder exits 1" 1 "hone finetune: .*\"/nonexistent/photos\" is not a folder"
  finetune ${_m} --data /nonexistent/photos --out x.onnx)
hone_cli_usage("cli: --freeze with a glob matching nothing exits 1" 1 "hone finetune: .*freeze\\(\"layer9.\\*\"\\): the pattern matches no parameter"
  ${_ft} --classes 0,1 --per-class 2 --val-per-class 2 --out x.onnx --strategy full --freeze layer9.*)
hone_cli_usage("cli: --keep-head with another class count exits 1" 1 "hone finetune: .*--keep-head: the head \"fc2\" has 10 classes but the data has 2"
  ${_ft} --classes 0,1 --per-class 2 --val-per-class 2 --out x.onnx --keep-head)
hone_cli_usage("cli: --classes naming no class exits 1" 1 "hone finetune: .*--classes: \"Sandal\" is neither a class name nor an index 0..9"
  ${_ft} --out x.onnx --classes Sandal)
