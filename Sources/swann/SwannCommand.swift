import ArgumentParser
import Foundation
import Swann

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `swann` command line: thin commands over the `Swann` library.
struct SwannCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swann",
        abstract: "SPANN vector search: build an index from a vector file, search it, serve it.",
        version: SwannVersion.current,
        subcommands: [
            BuildCommand.self, SearchCommand.self, EvalCommand.self, ServeCommand.self, RouteCommand.self,
            UpsertCommand.self, DeleteCommand.self, CompactCommand.self, InfoCommand.self, GroundTruthCommand.self, CalibrateCommand.self,
        ]
    )
}

/// Runs the command and maps failures to the exit codes scripts rely on:
/// 0 success (and `--help`/`--version`), 1 runtime error, 2 usage error.
@main
enum SwannMain {
    static func main() async {
        do {
            var command = try SwannCommand.parseAsRoot(withEnvironmentDefaults(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = SwannCommand.exitCode(for: error)
            if code == .success {
                print(SwannCommand.fullMessage(for: error))
                exit(0)
            }
            if code == .validationFailure {
                writeError(SwannCommand.fullMessage(for: error))
                exit(2)
            }
            if let exitCode = error as? ExitCode {
                exit(exitCode.rawValue)
            }
            writeError("error: \(error)")
            exit(1)
        }
    }
}

/// The arguments with `SWANN_*` variables filled in for subcommands that read them.
func withEnvironmentDefaults(_ arguments: [String]) -> [String] {
    let defaults = [
        ServeCommand.configuration.commandName: ServeCommand.environmentOptions,
        RouteCommand.configuration.commandName: RouteCommand.environmentOptions,
    ]
    guard let subcommand = arguments.first, let environmentDefaults = defaults[subcommand] else { return arguments }
    let environment = ProcessInfo.processInfo.environment
    return [subcommand] + environmentDefaults.apply(to: Array(arguments.dropFirst()), environment: environment)
}

/// Prints a line to standard error.
func writeError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    FileHandle.standardError.write(Data(line.utf8))
}
