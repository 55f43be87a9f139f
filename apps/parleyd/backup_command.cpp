#include "backup_command.hpp"

#include <filesystem>
#include <iostream>

#include "adapters/embedded/embedded_backup.hpp"
#include "core/log.hpp"
#include "gateway/control_socket.hpp"

namespace parley::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "Usage: parleyd backup [--data-dir DIR] --to BACKUP\n\n"
    "Asks the parleyd running on DIR (default $PARLEY_DATA_DIR, else ./parley-data) for a consistent\n"
    "copy of its embedded data in BACKUP, a new or empty folder, while it keeps serving. Restore by\n"
    "starting parleyd with --data-dir BACKUP. docs/OPERATIONS.md, \"Backups\".\n";

}  // namespace

std::string control_socket_path(const std::string& data_dir) { return (fs::path(data_dir) / "control.sock").string(); }

int run_backup_command(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::string data_dir = "./parley-data";
  for (const auto& kv : env) {
    if (kv.starts_with("PARLEY_DATA_DIR=")) data_dir = kv.substr(16);
  }
  std::string to;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string value;
    if (const auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--data-dir" || arg == "--to") {
      if (i + 1 >= args.size()) {
        std::cerr << "option " << arg << " needs a value\n";
        return 2;
      }
      value = args[++i];
    }
    if (arg == "--data-dir") {
      data_dir = value;
    } else if (arg == "--to") {
      to = value;
    } else {
      std::cerr << "unknown option '" << arg << "'\n\n" << kUsage;
      return 2;
    }
  }
  if (to.empty()) {
    std::cerr << "--to is missing: where to write the backup\n\n" << kUsage;
    return 2;
  }
  if (to.find('\n') != std::string::npos) {
    std::cerr << "--to: a path with a line break cannot be sent to the server\n";
    return 2;
  }
  std::error_code ec;
  const fs::path target = fs::absolute(to, ec).lexically_normal();
  if (ec) {
    std::cerr << "--to " << to << ": " << ec.message() << "\n";
    return 2;
  }
  if (auto ok = embedded::check_backup_target(target); !ok) {
    std::cerr << "cannot back up into " << target.string() << ": " << ok.error().message << "\n";
    return 1;
  }
  if (!fs::is_directory(data_dir, ec)) {
    std::cerr << data_dir << " is not a folder: --data-dir names the data directory of a running parleyd\n";
    return 1;
  }
  const std::string socket = control_socket_path(data_dir);
  auto answer = gateway::control_request(socket, "backup", target.string());
  if (!answer) {
    std::cerr << "no parleyd is running on " << data_dir << " (" << answer.error().message
              << "). A backup is taken by the running server. A stopped server's data directory is consistent as "
                 "it is: copy it whole (cp -a) instead.\n";
    return 1;
  }
  if (!answer->ok) {
    std::cerr << "the backup failed: " << answer->text;
    return 1;
  }
  std::cout << "backup of " << data_dir << " in " << target.string() << ":\n" << answer->text;
  return 0;
}

Result<std::string> take_backup(const std::optional<BackupPlan>& plan, std::string_view to) {
  if (!plan) {
    return make_error(ErrorCode::bad_request,
                      "this server's message log is Kafka: back up each engine on its own (docs/OPERATIONS.md, "
                      "\"Backups\")");
  }
  const fs::path target(to);
  if (!target.is_absolute()) return make_error(ErrorCode::bad_request, "the backup's folder must be an absolute path");
  log::info("backup", "backup into " + target.string() + " started");
  auto report = embedded::backup(plan->sources, target);
  if (!report) {
    log::error("backup", "backup into " + target.string() + " failed: " + report.error().message);
    return std::move(report).error();
  }
  std::string text = report->text();
  if (!plan->elsewhere.empty()) {
    text += "not in this backup (on scale-out engines; back them up there, docs/OPERATIONS.md \"Backups\"):";
    for (const auto& name : plan->elsewhere) text += " " + name;
    text += "\n";
  }
  log::info("backup", "backup into " + target.string() + " done in " + std::to_string(report->took.count()) + " ms");
  return text;
}

}  // namespace parley::app
