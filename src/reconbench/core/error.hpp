// Errors: user mistakes vs internal invariants (c10's TORCH_CHECK vs TORCH_INTERNAL_ASSERT).
//
//   RB_CHECK(cond, "file ", path, ": dataset 'kspace' missing")   -> rb::UserError
//   RB_ASSERT(cond, "message")                                     -> rb::InternalError
//
// A UserError is a mistake of the person running reconbench (bad file, bad option, wrong
// shape): the CLI prints its one-line message and exits with status 2. An InternalError is a
// bug in reconbench; it carries the source location and exits with status 70.
#pragma once

#include <source_location>
#include <sstream>
#include <stdexcept>
#include <string>

namespace rb {

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& what) : std::logic_error(what) {}
};

// Thrown when the user interrupts long work (SIGINT/SIGTERM); partial outputs are removed.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

[[noreturn]] void throw_internal(const std::string& msg, std::source_location loc);

}  // namespace rb

#define RB_CHECK(cond, ...)                                           \
  do {                                                                \
    if (!(cond)) throw ::rb::UserError(::rb::cat(__VA_ARGS__));       \
  } while (0)

#define RB_ASSERT(cond, ...)                                                            \
  do {                                                                                  \
    if (!(cond))                                                                        \
      ::rb::throw_internal(::rb::cat("internal invariant '", #cond, "' failed ",        \
                                     ##__VA_ARGS__),                                    \
                           std::source_location::current());                            \
  } while (0)
