# `hone run` on a PyTorch export: the output TensorProto must hold PyTorch's logits (checked
# by Debian's python3-onnx + numpy, independently of hone's reader), named "output".
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${HONE} run ${MODELS}/resnet18_op13_bn.onnx -i ${MODELS}/resnet18_input.pb
                        -o ${WORK_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hone run exited with ${rc}")
endif()
execute_process(COMMAND ${PYTHON} -c "
import sys, onnx, onnx.numpy_helper as nh, numpy as np
got = onnx.load_tensor(sys.argv[1]); want = nh.to_array(onnx.load_tensor(sys.argv[2]))
assert got.name == 'output', got.name
g = nh.to_array(got)
err = np.abs(g - want).max() / np.abs(want).max()
print('relative error', err)
sys.exit(0 if g.shape == want.shape and err <= 1e-4 else 1)
" ${WORK_DIR}/output_0.pb ${MODELS}/resnet18_output.pb RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hone run's output does not match PyTorch")
endif()
