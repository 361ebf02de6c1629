// hone/core/memory.hpp — the process's resident memory, for reports: current and peak RSS,
// and resetting the peak so a phase can be measured on its own.
//
// Linux only (read from /proc/self/status; the reset writes "5" to /proc/self/clear_refs,
// Linux >= 4.0). Elsewhere, or when /proc is unavailable, the readers return -1 and the
// reset returns false; nothing throws.
#pragma once

#include <cstdint>  // byte counts
#include <cstdio>   // /proc files
#include <cstring>  // std::strncmp

namespace hone {

namespace detail {
/// A "VmXXX:  1234 kB" field of /proc/self/status in bytes, or -1.
inline std::int64_t proc_status_bytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  std::int64_t out = -1;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      long long kb = 0;
      if (std::sscanf(line + n + 1, "%lld", &kb) == 1) out = static_cast<std::int64_t>(kb) * 1024;
      break;
    }
  std::fclose(f);
  return out;
}
}  // namespace detail

/// Resident set size now, in bytes (-1 when unknown).
inline std::int64_t current_rss_bytes() { return detail::proc_status_bytes("VmRSS"); }

/// The highest resident set size since the process started or since reset_peak_rss(), in
/// bytes (-1 when unknown).
inline std::int64_t peak_rss_bytes() { return detail::proc_status_bytes("VmHWM"); }

/// Resets the peak to the current RSS. Returns false when the system does not allow it.
inline bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

}  // namespace hone
