// The options every command that opens a challenge database shares (serve, worker, rescore,
// export): declared once here so their parsing, help and docs stay identical.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "reconbench/challenge/service.hpp"

namespace rb::cli {

struct ServiceArgs {
  std::string data, db, blobs;
  double validate_timeout = 600;
  int64_t validate_memory_mb = 4096;

  void declare(CLI::App& app) {
    app.add_option("--data", data, "challenge data directory (manifest.json, inputs, ground_truth/)")
        ->required();
    app.add_option("--db", db, "database: sqlite:PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB "
                   "(default: DATA/../challenge.db)");
    app.add_option("--blobs", blobs, "blob store directory (default: next to a SQLite database; required with "
                   "PostgreSQL: a directory the server and every worker can read)");
  }
  // serve and worker: limits of the sandboxed validator process (challenge/sandbox.hpp).
  void declare_validator(CLI::App& app) {
    app.add_option("--validate-timeout", validate_timeout,
                   "seconds (wall clock and CPU) a submission's validation may take before its "
                   "sandboxed validator is killed and the submission fails validation")
        ->default_val(600);
    app.add_option("--validate-memory-mb", validate_memory_mb,
                   "address-space limit of the sandboxed validator in MiB (0 = none)")
        ->default_val(4096);
  }
  rb::challenge::ServiceOptions options() const {
    rb::challenge::ServiceOptions so;
    so.data = data;
    so.db = db;
    so.blobs = blobs;
    so.validator_limits.wall_s = validate_timeout;
    so.validator_limits.cpu_s = validate_timeout;
    so.validator_limits.memory_bytes = validate_memory_mb << 20;
    return so;
  }
};

}  // namespace rb::cli
