import Foundation

/// Fills in a subcommand's options from `SWANN_*` environment variables, the way container
/// platforms configure a server.
///
/// argument-parser reads only the command line, so the variables are turned into arguments
/// before parsing: `SWANN_TCP_PORT=9001` becomes `--tcp-port 9001` unless the command line
/// already has `--tcp-port`. Parsing and validation then treat both sources alike.
struct EnvironmentDefaults: Sendable {
    /// Options that take a value, by long name.
    var options: [String]
    /// Flags, by long name; set by `1`, `true` or `yes`.
    var flags: [String]
    /// The one positional argument's variable name, if it may come from the environment.
    var positional: String?

    static func variable(for name: String) -> String {
        "SWANN_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// `arguments` (those after the subcommand) with the environment's values appended.
    func apply(to arguments: [String], environment: [String: String]) -> [String] {
        var result = arguments
        let given = Set(
            arguments.compactMap { argument -> String? in
                guard argument.hasPrefix("--") else { return nil }
                return String(argument.dropFirst(2).split(separator: "=", maxSplits: 1).first ?? "")
            }
        )
        for name in options where !given.contains(name) {
            if let value = environment[Self.variable(for: name)] { result += ["--\(name)", value] }
        }
        for name in flags where !given.contains(name) {
            if let value = environment[Self.variable(for: name)], ["1", "true", "yes"].contains(value.lowercased()) {
                result.append("--\(name)")
            }
        }
        if let positional, let value = environment[Self.variable(for: positional)], !hasPositional(arguments) {
            result.append(value)
        }
        return result
    }

    /// Whether the command line already holds a positional argument (anything that is neither
    /// an option, a flag, nor an option's value).
    private func hasPositional(_ arguments: [String]) -> Bool {
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { return i + 1 < arguments.count }
            if argument.hasPrefix("-") {
                let name = String(argument.drop { $0 == "-" })
                if options.contains(name) { i += 1 }
            } else {
                return true
            }
            i += 1
        }
        return false
    }
}
