// hone/core/error.hpp — the exception hierarchy and the internal-invariant macro.
//
// Every error hone reports to a user is an exception derived from hone::Error. Its message
// starts with a stable id in brackets, e.g. "[hone.shape] ...", so applications can match on
// ids without parsing prose, and the rest of the message names what was wrong and where
// (op, node, shape, file, byte offset). Ids are hierarchical: a subclass has a default id
// ("hone.parse") and call sites may refine it ("hone.onnx.truncated").
//
// HONE_ASSERT checks internal invariants. It is active when NDEBUG is not defined or when
// HONE_ENABLE_ASSERTS is defined, and compiles to nothing otherwise (the expression is not
// evaluated). Define HONE_ASSERT yourself before including hone to route it elsewhere.
#pragma once

#include <cstdint>    // std::uint64_t byte offsets
#include <optional>   // optional byte offset of a ParseError
#include <sstream>    // building messages from mixed arguments
#include <stdexcept>  // std::runtime_error base
#include <string>     // messages and ids
#include <utility>    // std::move

namespace hone {

/// Base of every exception hone throws on bad input or misuse. what() is
/// "[<id>] <message>"; id() returns the id alone and message() the text after it.
class Error : public std::runtime_error {
 public:
  Error(std::string id, const std::string& message)
      : std::runtime_error("[" + id + "] " + message), id_(std::move(id)) {}

  /// The stable identifier, e.g. "hone.shape" or "hone.onnx.unsupported_op".
  const std::string& id() const noexcept { return id_; }

  /// The message without the "[id] " prefix.
  std::string message() const { return std::string(what()).substr(id_.size() + 3); }

 private:
  std::string id_;
};

/// A tensor or graph shape is invalid, or two shapes do not fit together.
class ShapeError : public Error {
 public:
  explicit ShapeError(const std::string& message) : Error("hone.shape", message) {}
  ShapeError(std::string id, const std::string& message) : Error(std::move(id), message) {}
};

/// A value passed by the caller is out of its documented domain (negative thread count,
/// unknown enum spelling in an environment variable, ...).
class InvalidArgument : public Error {
 public:
  explicit InvalidArgument(const std::string& message)
      : Error("hone.invalid_argument", message) {}
  InvalidArgument(std::string id, const std::string& message) : Error(std::move(id), message) {}
};

/// Malformed serialized input (protobuf, ONNX, IDX, checkpoints). Carries the byte offset
/// where the problem was found when it is known.
class ParseError : public Error {
 public:
  explicit ParseError(const std::string& message) : Error("hone.parse", message) {}
  ParseError(std::string id, const std::string& message) : Error(std::move(id), message) {}
  ParseError(std::string id, const std::string& message, std::uint64_t byte_offset)
      : Error(std::move(id), message + " (at byte offset " + std::to_string(byte_offset) + ")"),
        byte_offset_(byte_offset) {}

  /// Offset into the input where parsing failed, when known.
  std::optional<std::uint64_t> byte_offset() const noexcept { return byte_offset_; }

 private:
  std::optional<std::uint64_t> byte_offset_;
};

/// A file could not be opened, read or written.
class IOError : public Error {
 public:
  explicit IOError(const std::string& message) : Error("hone.io", message) {}
  IOError(std::string id, const std::string& message) : Error(std::move(id), message) {}
};

/// The input is valid but uses something hone does not implement (an ONNX op, a data
/// type, a rank above the supported maximum).
class UnsupportedError : public Error {
 public:
  explicit UnsupportedError(const std::string& message) : Error("hone.unsupported", message) {}
  UnsupportedError(std::string id, const std::string& message) : Error(std::move(id), message) {}
};

/// An operation was called in a state that does not allow it (e.g. backward before forward).
class StateError : public Error {
 public:
  explicit StateError(const std::string& message) : Error("hone.state", message) {}
  StateError(std::string id, const std::string& message) : Error(std::move(id), message) {}
};

/// An internal invariant did not hold: a bug in hone. Raised by HONE_ASSERT.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error("hone.internal", message) {}
};

namespace detail {

/// Concatenates any streamable arguments into one string; used to build error messages.
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  ((out << args), ...);
  return out.str();
}

[[noreturn]] inline void assert_fail(const char* expression, const char* file, int line,
                                     const std::string& note) {
  throw InternalError(concat("assertion `", expression, "` failed at ", file, ":", line,
                             note.empty() ? "" : ": ", note,
                             " (this is a bug in hone; please report it)"));
}

}  // namespace detail
}  // namespace hone

#ifndef HONE_ASSERT
#if !defined(NDEBUG) || defined(HONE_ENABLE_ASSERTS)
/// Checks an internal invariant; throws hone::InternalError naming the expression and
/// location. The optional second argument is a streamable note.
#define HONE_ASSERT(cond, ...)                                                      \
  do {                                                                              \
    if (!(cond)) ::hone::detail::assert_fail(#cond, __FILE__, __LINE__,             \
                                             ::hone::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (false)
#else
#define HONE_ASSERT(cond, ...) \
  do {                         \
  } while (false)
#endif
#endif
