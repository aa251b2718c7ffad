// reconbench: one binary, subcommands declared once (see command.hpp).
#include <cstdio>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/cli/sandboxed.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"

int main(int argc, char** argv) {
  rb::cli::confine_if_sandbox_child();  // `--sandbox`'s child: confined before any parsing
  rb::cli::set_command_line(argc, argv);
  CLI::App app{"reconbench: accelerated MRI reconstruction toolkit and fastMRI-style challenge "
               "server.\nRun `reconbench help` for the list of commands, "
               "`reconbench CMD --help` for one."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "reconbench 0.1.0");
  int threads = 0;
  app.add_option("--threads", threads,
                 "worker threads (default: $RECONBENCH_THREADS, $OMP_NUM_THREADS or all cores)")
      ->check(CLI::NonNegativeNumber);

  std::vector<std::unique_ptr<rb::cli::Command>> commands;
  rb::cli::build_app(app, commands);

  const char* name = "reconbench";
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (threads > 0) rb::set_num_threads(threads);
  rb::install_interrupt_handler();

  auto subs = app.get_subcommands();
  auto regs = rb::cli::registered_commands();
  for (size_t i = 0; i < regs.size(); ++i) {
    if (subs.empty() || subs[0]->get_name() != regs[i].info.name) continue;
    try {
      return commands[i]->run();
    } catch (const rb::UserError& e) {
      std::fprintf(stderr, "%s %s: error: %s\n", name, regs[i].info.name.c_str(), e.what());
      return 2;
    } catch (const rb::Interrupted&) {
      std::fprintf(stderr, "%s %s: interrupted; partial outputs removed\n", name,
                   regs[i].info.name.c_str());
      return 130;
    } catch (const rb::InternalError& e) {
      std::fprintf(stderr, "%s %s: internal error (please report): %s\n", name,
                   regs[i].info.name.c_str(), e.what());
      return 70;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s %s: error: %s\n", name, regs[i].info.name.c_str(), e.what());
      return 1;
    }
  }
  return 1;
}
