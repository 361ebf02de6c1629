// hone/core/json.hpp — a small streaming JSON writer for reports and histories, and a
// helper that writes a text file with a clear error.
//
// Numbers: finite doubles are written with 17 significant digits (they read back to the same
// double); NaN and infinities, which JSON cannot hold, are written as null. Strings are
// escaped per RFC 8259 (quote, backslash, control characters as \u00XX). Output is indented
// two spaces per level so a person can read it. The writer checks nothing about nesting:
// it is for hone's own reports, whose structure the code fixes.
#pragma once

#include <cmath>    // std::isfinite
#include <cstdint>  // std::int64_t values
#include <cstdio>   // std::snprintf
#include <fstream>  // write_text_file
#include <string>   // the output
#include <vector>   // the nesting stack

#include "hone/core/error.hpp"

namespace hone {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  /// The key of the next value inside an object.
  JsonWriter& key(const std::string& k) {
    separate();
    write_string(k);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }

  JsonWriter& value(const std::string& s) {
    separate();
    write_string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& value(std::int64_t v) {
    separate();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(double v) {
    separate();
    if (!std::isfinite(v)) {
      out_ += "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out_ += buf;
    }
    return *this;
  }
  JsonWriter& null() {
    separate();
    out_ += "null";
    return *this;
  }
  template <class V>
  JsonWriter& array(const std::vector<V>& values) {
    begin_array();
    for (const auto& v : values) value(v);
    return end_array();
  }

  const std::string& str() const noexcept { return out_; }

 private:
  JsonWriter& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += c;
    return *this;
  }
  void newline() {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    newline();
  }
  void write_string(const std::string& s) {
    out_ += '"';
    for (char ch : s) {
      const auto u = static_cast<unsigned char>(ch);
      if (ch == '"') out_ += "\\\"";
      else if (ch == '\\') out_ += "\\\\";
      else if (ch == '\n') out_ += "\\n";
      else if (ch == '\t') out_ += "\\t";
      else if (ch == '\r') out_ += "\\r";
      else if (u < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
        out_ += buf;
      } else {
        out_ += ch;
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

/// Writes `text` to `path` (replacing it). Throws IOError naming the path and `what`.
inline void write_text_file(const std::string& path, const std::string& text,
                            const char* what = "the report") {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IOError(detail::concat("cannot open \"", path, "\" to write ", what));
  out << text << '\n';
  out.close();
  if (!out) throw IOError(detail::concat("cannot write ", what, " to \"", path, "\""));
}

}  // namespace hone
