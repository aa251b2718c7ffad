// Subcommands are declared once: a CommandInfo (name, synopsis, description, examples) plus
// a Command whose declare() binds typed CLI11 options with defaults and help text. Parsing,
// `reconbench help`, `reconbench CMD --help` and the generated docs/commands.md all come
// from that one declaration (BART bart.c, MRtrix usage()).
//
// A command file registers itself:
//   namespace { struct MaskCmd final : rb::cli::Command { ... }; }
//   static const rb::cli::Registrar reg({"mask", "synopsis", "description", {"example"}, 20},
//                                       [] { return std::make_unique<MaskCmd>(); });
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rb::cli {

class Command {
 public:
  virtual ~Command() = default;
  // Bind options and positionals to members (CLI11: add_option/add_flag with descriptions,
  // ->default_val, ->check). Called once before parsing.
  virtual void declare(CLI::App& app) = 0;
  // Run after a successful parse; return the process exit status. Throw rb::UserError for
  // user mistakes (one clear line, exit 2).
  virtual int run() = 0;
};

struct CommandInfo {
  std::string name;
  std::string synopsis;     // one line, shown in `reconbench help`
  std::string description;  // paragraph(s), shown in CMD --help and the docs
  std::vector<std::string> examples;
  int order = 100;          // position in the help listing (pipeline order)
};

// Generated reference text shown after the description in CMD --help and the docs (e.g. the
// reconstruction methods' parameter tables); plain text that is also Markdown.
using ReferenceText = std::function<std::string()>;

using CommandFactory = std::function<std::unique_ptr<Command>()>;

struct Registrar {
  Registrar(CommandInfo info, CommandFactory factory, ReferenceText reference = {});
};

struct RegisteredCommand {
  CommandInfo info;
  CommandFactory factory;
  ReferenceText reference;  // may be empty
};
// Sorted by (order, name).
std::vector<RegisteredCommand> registered_commands();

// Build the full CLI11 tree: app with one subcommand per registered command; `commands`
// receives the Command objects (kept alive by the caller).
void build_app(CLI::App& app, std::vector<std::unique_ptr<Command>>& commands);

// The Markdown command reference (docs/commands.md) generated from the declarations.
std::string markdown_reference();

}  // namespace rb::cli
