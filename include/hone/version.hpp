// hone/version.hpp — the library version, kept in step with project(VERSION) in CMakeLists.txt.
#pragma once

#define HONE_VERSION_MAJOR 0
#define HONE_VERSION_MINOR 1
#define HONE_VERSION_PATCH 0

namespace hone {
/// The version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";
}  // namespace hone
