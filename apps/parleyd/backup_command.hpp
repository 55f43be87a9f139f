#pragma once
// `parleyd backup --data-dir D --to DIR`: asks the server running on the
// data directory D, through its control socket, for a consistent copy of
// its embedded data in DIR (docs/OPERATIONS.md "Backups"); and the server's
// side of that request.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "engines.hpp"

namespace parley::app {

// The control socket's file in a data directory (gateway/control_socket.hpp).
[[nodiscard]] std::string control_socket_path(const std::string& data_dir);

// Runs the `backup` command: `args` are the arguments after "backup", `env`
// the environment ("NAME=value"; PARLEY_DATA_DIR is the default data
// directory). Prints what was copied on stdout, or why not on stderr, and
// returns the exit status: 0 copied, 1 failed, 2 bad arguments.
[[nodiscard]] int run_backup_command(const std::vector<std::string>& args, const std::vector<std::string>& env);

// The server's answer to a backup request into `to` (an absolute path):
// the report's text, or why not.
[[nodiscard]] Result<std::string> take_backup(const std::optional<BackupPlan>& plan, std::string_view to);

}  // namespace parley::app
