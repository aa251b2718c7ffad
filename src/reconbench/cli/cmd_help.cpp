#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"

namespace {

struct HelpCmd final : rb::cli::Command {
  bool markdown = false;
  std::string topic;
  void declare(CLI::App& app) override {
    app.add_option("command", topic, "show the help of this command");
    app.add_flag("--markdown", markdown,
                 "print the full command reference in Markdown (docs/commands.md)");
  }
  int run() override {
    if (markdown) {
      std::cout << rb::cli::markdown_reference();
      return 0;
    }
    CLI::App app{"reconbench"};
    std::vector<std::unique_ptr<rb::cli::Command>> cmds;
    rb::cli::build_app(app, cmds);
    if (!topic.empty()) {
      try {
        std::cout << app.get_subcommand(topic)->help();
      } catch (const CLI::OptionNotFound&) {
        throw rb::UserError("unknown command '" + topic + "' (see `reconbench help`)");
      }
      return 0;
    }
    std::cout << "reconbench: accelerated MRI reconstruction toolkit and challenge server\n\n"
                 "Usage: reconbench [--threads N] COMMAND [options]\n\nCommands:\n";
    for (const auto& rc : rb::cli::registered_commands())
      std::printf("  %-16s %s\n", rc.info.name.c_str(), rc.info.synopsis.c_str());
    std::cout << "\nRun `reconbench COMMAND --help` for the options of one command.\n";
    return 0;
  }
};

const rb::cli::Registrar reg({"help", "list commands, or print one command's help",
                              "Without arguments lists every command. `--markdown` prints "
                              "the generated command reference (docs/commands.md).",
                              {"reconbench help", "reconbench help mask",
                               "reconbench help --markdown > docs/commands.md"},
                              1},
                             [] { return std::make_unique<HelpCmd>(); });

}  // namespace
