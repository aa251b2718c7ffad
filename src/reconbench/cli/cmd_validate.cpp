// `reconbench validate`: the server's submission validator, run locally before uploading;
// `reconbench validate-child`: the same validator as the server's sandboxed child process.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"

namespace {

struct ValidateCmd final : rb::cli::Command {
  std::string dir, track, data, phase = "challenge";
  bool json = false, sandbox = true;
  void declare(CLI::App& app) override {
    app.add_option("dir", dir, "directory of reconstruction files (one .h5 per input volume)")
        ->required();
    app.add_option("--track", track, "track: multicoil_4x, multicoil_8x or transfer_4x")->required();
    app.add_option("--data", data, "the challenge data directory (with manifest.json)")->required();
    app.add_option("--phase", phase, "phase whose file list applies: test or challenge")
        ->default_val("challenge");
    app.add_flag("--json", json, "print the report as JSON");
    app.add_flag("--sandbox,!--no-sandbox", sandbox,
                 "parse the files in the server's sandboxed validator process (default; "
                 "--no-sandbox parses them in this process)");
  }
  int run() override {
    const auto manifest = rb::challenge::load_manifest(data);
    const auto& tr = rb::challenge::find_track(track);
    const auto files = rb::challenge::list_submission_dir(dir);
    rb::challenge::ValidationReport report;
    if (sandbox) {
      const auto iv = rb::challenge::validate_isolated({"/proc/self/exe", "validate-child"}, data, files,
                                                       phase, tr, rb::challenge::SandboxLimits{});
      RB_CHECK(iv.outcome != rb::challenge::IsolatedValidation::Outcome::platform,
               "the sandboxed validator: ", iv.reason, " (--no-sandbox validates in this process)");
      report = iv.report;
    } else {
      report = rb::challenge::validate_submission(files, manifest, phase, tr, {});
    }
    if (json)
      std::cout << rb::challenge::to_json(report).dump(2) << "\n";
    else
      std::cout << rb::challenge::to_text(report);
    return report.ok() ? 0 : 1;
  }
};

const rb::cli::Registrar reg(
    {"validate", "check a submission directory exactly as the challenge server does",
     "Runs the server's validator on a directory of reconstruction files: names against the "
     "track's file list, HDF5 'reconstruction' float32 (slices, y, x) with the volume's slice "
     "count and matrix, no NaN/Inf; warns on negative values and on an intensity scale far "
     "from the zero-filled RSS of the input k-space. The files are parsed in the server's "
     "sandboxed validator process (rlimits, no network, read access to the files and the public "
     "inputs only; --no-sandbox parses them here), so a hostile file cannot harm you. Exit "
     "status 0 when valid, 1 when not. A "
     "submission that passes here passes the server's validation, which never costs quota.",
     {"reconbench validate recon-4x/ --track multicoil_4x --data data/",
      "reconbench validate recon-test/ --track multicoil_8x --phase test --data data/ --json"},
     70},
    [] { return std::make_unique<ValidateCmd>(); });

struct ValidateChildCmd final : rb::cli::Command {
  void declare(CLI::App&) override {}
  int run() override {
    if (!std::getenv(rb::challenge::kValidatorChildEnv)) {
      std::fprintf(stderr, "reconbench validate-child: internal command, started by the challenge "
                           "server in a sandbox; use `reconbench validate` instead\n");
      return 2;
    }
    return rb::challenge::validator_child_main(std::cin, stdout);
  }
};

const rb::cli::Registrar reg_child(
    {"validate-child", "internal: the challenge server's sandboxed validator process",
     "Started by `serve`, `worker` and `challenge baseline` (never by hand) in a child process "
     "with limits on address space, CPU time and file size and a wall-clock deadline: reads a "
     "validation request (JSON: data, phase, track, files) on stdin, prints one line per file "
     "it opens and the validation report on stdout. The parent reads only that pipe, so a "
     "crafted file that crashes, hangs or exhausts the parser fails its validation instead of "
     "harming the server.",
     {},
     70},
    [] { return std::make_unique<ValidateChildCmd>(); });

}  // namespace
