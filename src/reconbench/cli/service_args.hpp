// The options every command that opens a challenge database shares (serve, worker, rescore,
// export): declared once here so their parsing, help and docs stay identical.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "reconbench/challenge/service.hpp"

namespace rb::cli {

struct ServiceArgs {
  std::string data, db, blobs;

  void declare(CLI::App& app) {
    app.add_option("--data", data, "challenge data directory (manifest.json, inputs, ground_truth/)")
        ->required();
    app.add_option("--db", db, "database: sqlite:PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB "
                   "(default: DATA/../challenge.db)");
    app.add_option("--blobs", blobs, "blob store directory (default: next to a SQLite database; required with "
                   "PostgreSQL: a directory the server and every worker can read)");
  }
  rb::challenge::ServiceOptions options() const {
    rb::challenge::ServiceOptions so;
    so.data = data;
    so.db = db;
    so.blobs = blobs;
    return so;
  }
};

}  // namespace rb::cli
