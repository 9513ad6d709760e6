import Foundation
import SwannTestSupport
import Testing

/// Runs the `swann` executable built alongside the tests.
enum CLI {
    static let executable: URL = {
        // The test runner lives in the build products directory, next to the `swann` binary.
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in candidates {
            let url = directory.appendingPathComponent("swann")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        fatalError("swann executable not found near \(candidates.map(\.path))")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `swann arguments…` to completion.
    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting so a chatty child cannot fill a pipe and block.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    static var example: String { BundledExample.directory }

    static func temporaryDirectory() -> String { TestDirectory.make("cli") }
}

/// A running `swann serve` or `swann route` and the ports it announced.
final class ServerProcess {
    /// A server that did not come up: what it was, why, and what it printed (the error used to
    /// be a bare `CocoaError(.executableLoad)`, code 3587, which hid both).
    struct StartFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var reason: String
        var output: [String]

        var description: String { "swann \(arguments.joined(separator: " ")) \(reason); its output: \(output)" }
    }

    let process = Process()
    var httpPort = 0
    var tcpPort = 0
    private let output = Pipe()
    let arguments: [String]
    private var lines: [String] = []

    /// Starts `swann arguments`; with `fileSizeLimitKiB`, under that RLIMIT_FSIZE (a stand-in
    /// for a full disk: writing past it fails with EFBIG).
    init(_ arguments: [String], environment: [String: String] = [:], fileSizeLimitKiB: Int? = nil) throws {
        self.arguments = arguments
        if let fileSizeLimitKiB {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "ulimit -f \(fileSizeLimitKiB); exec \"$0\" \"$@\"", CLI.executable.path] + arguments
        } else {
            process.executableURL = CLI.executable
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var pending = ""
        // "ready:" can come before a listener's line (a router is ready at once): wait for all.
        let expected = ["ready:", "HTTP listening on "] + (arguments.contains("--no-tcp") ? [] : ["TCP listening on "])
        while !expected.allSatisfy({ marker in lines.contains { $0.contains(marker) } }) {
            guard process.isRunning else {
                process.waitUntilExit()
                throw StartFailed(arguments: arguments, reason: "exited (status \(process.terminationStatus)) before it was ready", output: lines)
            }
            guard Date() < deadline else { throw StartFailed(arguments: arguments, reason: "was not ready within 60 s", output: lines) }
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { continue }
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                lines.append(String(pending[..<newline]))
                pending = String(pending[pending.index(after: newline)...])
            }
        }
        httpPort = Self.port(in: lines, after: "HTTP listening on ")
        tcpPort = Self.port(in: lines, after: "TCP listening on ")
    }

    static func port(in lines: [String], after prefix: String) -> Int {
        // "swann: HTTP listening on https://127.0.0.1:8080": the port follows the last colon.
        lines.compactMap { line in
            line.contains(prefix) ? line.split(separator: ":").last.flatMap { Int($0) } : nil
        }.first ?? 0
    }

    /// Sends SIGTERM and returns the exit status and the rest of stdout. A process still
    /// running `grace` later is an issue and gets SIGKILL, so a server that hangs on shutdown
    /// fails its test instead of hanging the run (a router once did, in a debug run).
    func stop(grace: Duration = .seconds(120)) -> (Int32, String) {
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("swann \(arguments.prefix(2).joined(separator: " ")) did not exit within \(grace) of SIGTERM; killed")
            kill(process.processIdentifier, SIGKILL)
        }
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, rest)
    }
}
