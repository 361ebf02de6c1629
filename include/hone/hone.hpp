// hone/hone.hpp — the umbrella header: everything hone offers except interop/ (Eigen and
// xtensor bridges), which users include explicitly so that hone.hpp needs only the
// standard library.
#pragma once

#include "hone/version.hpp"

#include "hone/core/cpu.hpp"
#include "hone/core/error.hpp"
#include "hone/core/init.hpp"
#include "hone/core/parallel.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"

#include "hone/kernels/gemm.hpp"

#include "hone/graph/builder.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"
