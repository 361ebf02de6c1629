"""Writes the fuzzer's seed corpus (tests/fuzz/corpus) with python3-onnx: a few tiny models
covering the message shapes the parser handles (attributes of every common kind, raw and
typed initializers, subgraphs, symbolic dims, external data, metadata) and one tensor file.
The committed bytes are seeds only; nothing checks them against this script.

    /usr/bin/python3 tests/fuzz/make_corpus.py tests/fuzz/corpus
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, out, name, check=True):
    if check:
        onnx.checker.check_model(model)
    with open(os.path.join(out, name), "wb") as f:
        f.write(model.SerializeToString())


def main(out):
    os.makedirs(out, exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 3, 3])
    save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y]),
                           opset_imports=[helper.make_opsetid("", 13)]), out, "relu.onnx")

    w = numpy_helper.from_array(np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3) / 7, "w")
    b = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.5, -0.5])
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", group=2, kernel_shape=[3, 3],
                            pads=[1, 1, 1, 1], strides=[1, 1], auto_pad="NOTSET")
    m = helper.make_model(helper.make_graph([conv], "conv", [x], [y], initializer=[w, b]),
                          opset_imports=[helper.make_opsetid("", 13)], producer_name="seed")
    helper.set_model_props(m, {"k": "v"})
    save(m, out, "conv.onnx")

    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])
    then_g = helper.make_graph([helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(
        np.array([1.0], dtype=np.float32)))], "then", [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e"], value=helper.make_tensor(
        "ev", TensorProto.FLOAT16, [1], np.array([2.0], dtype=np.float16)))], "else", [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT16, [1])])
    node = helper.make_node("If", ["c"], ["o"], then_branch=then_g, else_branch=else_g)
    save(helper.make_model(helper.make_graph([node], "if", [c], [o]), opset_imports=[helper.make_opsetid("", 13)]),
         out, "if.onnx")

    ints = [numpy_helper.from_array(np.array(v, dtype=t), f"i{k}") for k, (t, v) in enumerate(
        [(np.int8, [-1, 2]), (np.uint16, [3]), (np.int64, [-(2**40)]), (np.uint64, [2**63]), (np.bool_, [True]),
         (np.float64, [0.1])])]
    ints.append(helper.make_tensor("typed", TensorProto.INT32, [2], [7, -7]))
    ext = helper.make_tensor("ext", TensorProto.FLOAT, [2], [0.0, 0.0])
    ext.ClearField("float_data")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "0"), ("length", "8")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    ints.append(ext)
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])
    save(helper.make_model(helper.make_graph([helper.make_node("Identity", ["ext"], ["z"])], "types", [], [z],
                                             initializer=ints), opset_imports=[helper.make_opsetid("", 13)]),
         out, "types.onnx", check=False)  # w.bin does not exist: the fuzzer must not find files

    t = numpy_helper.from_array(np.array([[1.5, -2.0]], dtype=np.float32), "input")
    with open(os.path.join(out, "tensor.pb"), "wb") as f:
        f.write(t.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
