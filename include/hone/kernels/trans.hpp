// hone/kernels/trans.hpp — whether a GEMM operand is used as stored or transposed.
#pragma once

namespace hone {

/// Trans::Yes uses the transpose of the stored row-major matrix.
enum class Trans { No, Yes };

}  // namespace hone
