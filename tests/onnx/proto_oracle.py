"""The independent oracle of hone's ONNX parser (tests/onnx/test_proto.cpp): python3-onnx
(Debian's, under /usr/bin/python3) writes models and tensors, prints what they hold, and
checks what hone writes.

  proto_oracle.py make DIR        writes DIR/all_kinds.onnx (every attribute kind, every tensor
                                  type raw and typed), DIR/external.onnx + DIR/external.bin
                                  (the same initializers as external data), DIR/small.onnx,
                                  and prints the contents of all_kinds.onnx, one record a line
  proto_oracle.py check A B       onnx.checker accepts A (written by hone) and A holds what B
                                  holds (fields compared by value; explicit defaults ignored)
  proto_oracle.py print A         prints the contents of A as `make` does
  proto_oracle.py sums ROOT       for every tensor file of ONNX's node tests under ROOT whose
                                  graph input/output is a numeric tensor: count, sums, ends

Strings are printed as "x" + hex of their bytes, so that any byte survives the text format.
Floating-point values are printed with repr() of the float64 they equal exactly.
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data


def hx(s):
    if isinstance(s, str):
        s = s.encode()
    return "x" + s.hex()


def num(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(int(v))


# --- make -----------------------------------------------------------------------------------

F32 = [0.0, -0.0, 1.5, -3.25e-5, 3.4e38, 1e-45, math.inf, -math.inf, math.nan]
F64 = [0.0, -1.5, 1e300, 5e-324, 0.1, -math.inf, math.nan]
F16 = [0.0, 1.0, -2.0, 65504.0, 6e-8, 0.333, math.inf, -0.0, math.nan]
BF16 = [1.0, 3.14159, -2.5e-3, 1e38, -math.inf, 0.0]
INTS = {
    TensorProto.INT8: (np.int8, [-128, 127, 0, -1]),
    TensorProto.INT16: (np.int16, [-32768, 32767, 5]),
    TensorProto.INT32: (np.int32, [-2**31, 2**31 - 1, 0]),
    TensorProto.INT64: (np.int64, [-2**63, 2**63 - 1, 0, 2**53 + 1]),
    TensorProto.UINT8: (np.uint8, [0, 255, 7]),
    TensorProto.UINT16: (np.uint16, [0, 65535]),
    TensorProto.UINT32: (np.uint32, [0, 4294967295, 12]),
    TensorProto.UINT64: (np.uint64, [0, 2**64 - 1, 2**53 + 1]),
    TensorProto.BOOL: (np.bool_, [True, False, True]),
}


def bf16_bits(values):
    """Round-to-nearest-even float32 -> bfloat16 bits, by numpy integer arithmetic."""
    bits = np.array(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(np.array(values, dtype=np.float32))
    rounded[nan] = 0x7FC0
    return rounded.astype(np.uint16)


def tensors():
    out = []
    a = np.array(F32, dtype=np.float32).reshape(3, 3)
    out.append(numpy_helper.from_array(a, "float_raw"))
    out.append(helper.make_tensor("float_typed", TensorProto.FLOAT, [9], a.flatten().tolist()))
    d = np.array(F64, dtype=np.float64)
    out.append(numpy_helper.from_array(d, "double_raw"))
    out.append(helper.make_tensor("double_typed", TensorProto.DOUBLE, [7], d.tolist()))
    h = np.array(F16, dtype=np.float16)
    out.append(numpy_helper.from_array(h, "float16_raw"))
    out.append(helper.make_tensor("float16_typed", TensorProto.FLOAT16, [len(F16)], h))
    bits = bf16_bits(BF16)
    out.append(helper.make_tensor("bfloat16_raw", TensorProto.BFLOAT16, [2, 3], bits.tobytes(), raw=True))
    typed = helper.make_tensor("bfloat16_typed", TensorProto.BFLOAT16, [6], [0.0] * 6)
    del typed.int32_data[:]
    typed.int32_data.extend(int(b) for b in bits)
    out.append(typed)
    for dtype, (np_type, values) in INTS.items():
        name = TensorProto.DataType.Name(dtype).lower()
        arr = np.array(values, dtype=np_type)
        out.append(numpy_helper.from_array(arr, name + "_raw"))
        typed_values = [int(v) for v in values]
        out.append(helper.make_tensor(name + "_typed", dtype, [len(values)], typed_values))
    out.append(numpy_helper.from_array(np.array(2.5, dtype=np.float32), "scalar"))
    out.append(numpy_helper.from_array(np.zeros((0, 3), dtype=np.float32), "empty"))
    # Every float16 and bfloat16 bit pattern, and what numpy makes of them as float32.
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    out.append(numpy_helper.from_array(every.view(np.float16), "float16_every"))
    out.append(numpy_helper.from_array(every.view(np.float16).astype(np.float32), "float16_every_as_float"))
    out.append(helper.make_tensor("bfloat16_every", TensorProto.BFLOAT16, [65536], every.tobytes(), raw=True))
    out.append(numpy_helper.from_array((every.astype(np.uint32) << 16).view(np.float32), "bfloat16_every_as_float"))
    return out


def values_of(t):
    if t.data_type == TensorProto.BFLOAT16:
        raw = np.frombuffer(t.raw_data, dtype=np.uint16) if t.raw_data else np.array(t.int32_data, dtype=np.uint16)
        return (raw.astype(np.uint32) << 16).view(np.float32).tolist()
    return numpy_helper.to_array(t).flatten().tolist()


def print_tensor(t):
    if t.name.endswith("_every") or t.name.endswith("_every_as_float"):
        print("tensor", hx(t.name), t.data_type, len(t.dims), *t.dims, "unlisted")  # compared in C++
        return
    vals = values_of(t)
    print("tensor", hx(t.name), t.data_type, len(t.dims), *t.dims, len(vals), *[num(v) for v in vals])


def subgraph(name, op):
    x = helper.make_tensor_value_info("sx", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("sy", TensorProto.FLOAT, [2])
    return helper.make_graph([helper.make_node(op, ["sx"], ["sy"], name=name + "_node")], name, [x], [y])


def all_kinds():
    ts = tensors()
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.5, -2.0], dtype=np.float32), "sparse_values"),
        numpy_helper.from_array(np.array([1, 4], dtype=np.int64), "sparse_indices"), [6])
    attrs = {
        "f": 0.25, "i": -7, "s": "café".encode(),
        "t": numpy_helper.from_array(np.array([[1, 2], [3, 4]], dtype=np.int64), "attr_t"),
        "g": subgraph("attr_g", "Relu"),
        "floats": [1.0, -0.5, 3e-3], "ints": [1, -2, 2**40], "strings": [b"a", b"", "ü".encode()],
        "tensors": [numpy_helper.from_array(np.array([1.0], dtype=np.float32), "attr_ts0"),
                    helper.make_tensor("attr_ts1", TensorProto.INT32, [2], [5, -6])],
        "graphs": [subgraph("attr_g0", "Neg"), subgraph("attr_g1", "Abs")],
        "sparse": sparse,
        "tp": helper.make_tensor_type_proto(TensorProto.FLOAT, [1, "n"]),
    }
    everything = helper.make_node("Everything", ["x"], ["z"], name="everything", domain="com.hone.test",
                                  doc_string="all attribute kinds", **attrs)
    everything.attribute.append(helper.make_attribute("zero_int", 0))
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu", doc_string="a plain node")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, None])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["M"])
    unranked = helper.make_tensor_value_info("unranked", TensorProto.FLOAT, None)
    seq = helper.make_tensor_sequence_value_info("seq_info", TensorProto.FLOAT, [2])
    graph = helper.make_graph([relu, everything], "all_kinds", [x], [y, z], initializer=ts,
                              value_info=[seq, unranked], doc_string="the graph", sparse_initializer=[sparse])
    fn = helper.make_function("com.hone.fn", "Twice", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 13)])
    model = helper.make_model(graph, producer_name="hone-oracle", producer_version="1.0", domain="org.hone",
                              model_version=3, doc_string="every kind",
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.hone.test", 1),
                                             helper.make_opsetid("com.hone.fn", 1)],
                              functions=[fn])
    model.ir_version = 8
    helper.set_model_props(model, {"author": "oracle", "empty": ""})
    onnx.checker.check_model(model)
    return model


def print_model(m):
    print("model", m.ir_version, hx(m.producer_name), hx(m.producer_version), hx(m.domain), m.model_version,
          hx(m.doc_string), len(m.functions), *[hx(f.SerializeToString()) for f in m.functions])
    for o in m.opset_import:
        print("opset", hx(o.domain), o.version)
    for p in m.metadata_props:
        print("meta", hx(p.key), hx(p.value))
    g = m.graph
    print("graph", hx(g.name), hx(g.doc_string), len(g.node), len(g.initializer), len(g.input), len(g.output),
          len(g.value_info), len(g.sparse_initializer), *[hx(s.SerializeToString()) for s in g.sparse_initializer])
    for kind, infos in (("input", g.input), ("output", g.output), ("value_info", g.value_info)):
        for v in infos:
            which = v.type.WhichOneof("value")
            if which == "tensor_type":
                tt = v.type.tensor_type
                dims = []
                for d in tt.shape.dim:
                    w = d.WhichOneof("value")
                    dims.append("v" + str(d.dim_value) if w == "dim_value" else "p" + hx(d.dim_param) if w else "u")
                rank = len(dims) if tt.HasField("shape") else -1
                print(kind, hx(v.name), "tensor", tt.elem_type, rank, *dims)
            else:
                print(kind, hx(v.name), which, hx(getattr(v.type, which).SerializeToString()))
    for i, n in enumerate(g.node):
        print("node", i, hx(n.op_type), hx(n.domain), hx(n.name), hx(n.doc_string), len(n.input),
              *[hx(s) for s in n.input], len(n.output), *[hx(s) for s in n.output], len(n.attribute))
        for a in n.attribute:
            k = a.type
            A = onnx.AttributeProto
            payload = {
                A.FLOAT: lambda: [num(a.f)], A.INT: lambda: [a.i], A.STRING: lambda: [hx(a.s)],
                A.TENSOR: lambda: [hx(a.t.name)], A.GRAPH: lambda: [hx(a.g.name), len(a.g.node)],
                A.FLOATS: lambda: [len(a.floats), *[num(v) for v in a.floats]],
                A.INTS: lambda: [len(a.ints), *a.ints], A.STRINGS: lambda: [len(a.strings), *[hx(s) for s in a.strings]],
                A.TENSORS: lambda: [len(a.tensors), *[hx(t.name) for t in a.tensors]],
                A.GRAPHS: lambda: [len(a.graphs), *[hx(x.name) for x in a.graphs]],
                A.SPARSE_TENSOR: lambda: [hx(a.sparse_tensor.SerializeToString())],
                A.TYPE_PROTO: lambda: [hx(a.tp.SerializeToString())],
            }[k]()
            print("attr", i, hx(a.name), k, *payload)
            for t in ([a.t] if k == A.TENSOR else list(a.tensors)):
                print_tensor(t)
    for t in g.initializer:
        print_tensor(t)


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    m = all_kinds()
    onnx.save(m, os.path.join(out_dir, "all_kinds.onnx"))
    print_model(m)
    ext = onnx.ModelProto()
    ext.CopyFrom(m)
    convert_model_to_external_data(ext, all_tensors_to_one_file=True, location="external.bin", size_threshold=0)
    onnx.save(ext, os.path.join(out_dir, "external.onnx"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    w = numpy_helper.from_array(np.array([[0.5, -1.0]], dtype=np.float32), "w")
    small = helper.make_model(helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], "small",
                                                [x], [y], initializer=[w]),
                              opset_imports=[helper.make_opsetid("", 13)], producer_name="oracle")
    onnx.save(small, os.path.join(out_dir, "small.onnx"))


# --- check ----------------------------------------------------------------------------------

def canon(msg):
    """A message's fields by value: explicit defaults and empty submessages are left out, so
    that proto2 presence (which hone does not keep) does not count; floats compare by bits."""
    out = {}
    for f, v in msg.ListFields():
        if f.label == f.LABEL_REPEATED:
            vals = [canon(x) if f.type == f.TYPE_MESSAGE else norm(x) for x in v]
            if vals:
                out[f.name] = vals
        elif f.type == f.TYPE_MESSAGE:
            c = canon(v)
            if c:
                out[f.name] = c
        elif v != f.default_value or (isinstance(v, float) and math.copysign(1, v) < 0):
            out[f.name] = norm(v)
    return out


def norm(v):
    if isinstance(v, float):
        return np.float64(v).tobytes().hex()
    return v


def diff(a, b, path=""):
    if type(a) != type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'hone' if k in a else 'the original'}"
            d = diff(a[k], b[k], path + "." + k)
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} elements != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def check(hone_file, original_file):
    h = onnx.load(hone_file, load_external_data=False)
    onnx.checker.check_model(hone_file)
    o = onnx.load(original_file, load_external_data=False)
    d = diff(canon(h), canon(o), "ModelProto")
    if d:
        print("DIFF", d)
        sys.exit(1)
    print("OK")


# --- sums -----------------------------------------------------------------------------------

NUMERIC = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16} | set(INTS)


def sums(root):
    for test in sorted(os.listdir(root)):
        d = os.path.join(root, test)
        try:
            m = onnx.load(os.path.join(d, "model.onnx"))
        except Exception:
            continue
        inits = {t.name for t in m.graph.initializer}
        ins = [v for v in m.graph.input if v.name not in inits]
        for s in sorted(os.listdir(d)):
            if not s.startswith("test_data_set_"):
                continue
            for prefix, infos in (("input_", ins), ("output_", m.graph.output)):
                for k, v in enumerate(infos):
                    path = os.path.join(d, s, f"{prefix}{k}.pb")
                    if not os.path.exists(path) or v.type.WhichOneof("value") != "tensor_type":
                        continue
                    if v.type.tensor_type.elem_type not in NUMERIC:
                        continue
                    t = TensorProto()
                    with open(path, "rb") as f:
                        t.ParseFromString(f.read())
                    vals = [float(x) for x in values_of(t)]
                    finite = [x for x in vals if math.isfinite(x)]
                    rel = os.path.relpath(path, root)
                    print(rel, len(vals), repr(math.fsum(finite)), repr(math.fsum(abs(x) for x in finite)),
                          sum(math.isnan(x) for x in vals), sum(x == math.inf for x in vals),
                          sum(x == -math.inf for x in vals),
                          repr(vals[0]) if vals else "none", repr(vals[-1]) if vals else "none")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "print":
        print_model(onnx.load(sys.argv[2], load_external_data=False))
    elif cmd == "sums":
        sums(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)
