import ArgumentParser
import Foundation
import Logging
import Swann
import SwannServer

/// Listening, limits, auth and TLS options shared by `swann serve` and `swann route`.
struct ServerOptions: ParsableArguments {
    /// The long names that `SWANN_*` variables may supply.
    static let environmentOptions = [
        "host", "port", "tcp-port", "max-body", "max-frame", "max-batch", "max-k", "max-pending", "threads",
        "request-timeout", "idle-timeout", "read-timeout", "shutdown-timeout", "max-buffered-frames", "max-connections", "api-key-file", "tls-cert",
        "tls-key",
        "log-level",
    ]
    static let environmentFlags = ["insecure", "no-tcp"]

    @Option(help: "Interface to bind.")
    var host = "127.0.0.1"
    @Option(help: "HTTP port (0 picks a free one).")
    var port = 8080
    @Option(help: "Binary TCP port (0 picks a free one).")
    var tcpPort = 8081
    @Flag(help: "Do not open the TCP port.")
    var noTcp = false
    @Option(help: "Largest HTTP request body (bytes; KiB/MiB/GiB suffixes allowed).")
    var maxBody = ByteCount(16 << 20)
    @Option(help: "Largest TCP frame body (bytes; KiB/MiB/GiB suffixes allowed).")
    var maxFrame = ByteCount(64 << 20)
    @Option(help: "Most queries in one batch request.")
    var maxBatch = 10_000
    @Option(help: "Largest k a request may ask for.")
    var maxK = 1_000
    @Option(help: "Searches queued or running before new ones get 503 / overloaded.")
    var maxPending = 1_024
    @Option(help: "Search threads (default: every core).")
    var threads: Int?
    @Option(help: "Seconds a search may wait before it is answered with a timeout.")
    var requestTimeout = 10.0
    @Option(help: "Seconds an idle connection stays open.")
    var idleTimeout = 60.0
    @Option(
        help:
            "Seconds one TCP frame may take to arrive once its first byte has, and an HTTP connection's first request head (slow senders are cut off)."
    )
    var readTimeout = 30.0
    @Option(help: "Seconds in-flight requests get to finish after SIGTERM/SIGINT before the server cancels them and exits.")
    var shutdownTimeout = 30.0
    @Option(help: "Bytes that large TCP frames still arriving may hold across all connections (KiB/MiB/GiB suffixes allowed).")
    var maxBufferedFrames = ByteCount(256 << 20)
    @Option(help: "Most open connections per front end.")
    var maxConnections = 1_024
    @Option(help: "File of API keys, one per line ('#' starts a comment). Clients send Authorization: Bearer <key>.")
    var apiKeyFile: String?
    @Flag(help: "Allow binding a non-loopback interface without API keys.")
    var insecure = false
    @Option(help: "PEM certificate chain: serve HTTPS and TLS on TCP (needs --tls-key).")
    var tlsCert: String?
    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    /// One week: longer than any sensible timeout, far below what 64-bit nanoseconds can hold.
    static let maxTimeoutSeconds = 604_800.0

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        for (name, seconds) in [
            ("--request-timeout", requestTimeout), ("--idle-timeout", idleTimeout), ("--read-timeout", readTimeout),
            ("--shutdown-timeout", shutdownTimeout),
        ] {
            // An upper bound too: Duration and NIO's TimeAmount hold nanoseconds in 64 bits, so
            // `inf` or 1e300 seconds once trapped at start-up.
            guard seconds.isFinite, seconds > 0, seconds <= Self.maxTimeoutSeconds else {
                throw ValidationError("\(name) must be a number of seconds in (0, \(Int(Self.maxTimeoutSeconds))], got \(seconds)")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical, got '\(logLevel)'")
        }
    }

    func configuration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.httpPort = port
        configuration.tcpPort = noTcp ? nil : tcpPort
        configuration.maxBodyBytes = maxBody.bytes
        configuration.maxFrameBytes = maxFrame.bytes
        configuration.maxBatchQueries = maxBatch
        configuration.maxK = maxK
        configuration.maxPendingSearches = maxPending
        configuration.searchThreads = threads ?? Parallel.coreCount
        configuration.requestTimeout = .milliseconds(Int(requestTimeout * 1000))
        configuration.idleTimeout = .milliseconds(Int(idleTimeout * 1000))
        configuration.readTimeout = .milliseconds(Int(readTimeout * 1000))
        configuration.shutdownTimeout = .milliseconds(Int(shutdownTimeout * 1000))
        configuration.maxBufferedFrameBytes = maxBufferedFrames.bytes
        configuration.maxConnections = maxConnections
        configuration.insecure = insecure
        if let apiKeyFile { configuration.apiKeys = try readKeys(apiKeyFile) }
        if let tlsCert, let tlsKey { configuration.tls = .init(certificatePath: tlsCert, privateKeyPath: tlsKey) }
        try configuration.validate()
        return configuration
    }

    var logger: Logger {
        var logger = Logger(label: "swann") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }

    /// Runs `server`, printing where it listens and when it is ready.
    func run(_ server: SwannServer, tls: Bool) async throws {
        let scheme = tls ? ("https", "tcp+tls") : ("http", "tcp")
        try await server.run { event in
            switch event {
            case .httpListening(let host, let port): announce("swann: HTTP listening on \(scheme.0)://\(host):\(port)")
            case .tcpListening(let host, let port): announce("swann: TCP listening on \(scheme.1)://\(host):\(port)")
            case .ready(let description, let seconds): announce(String(format: "swann: ready: %@ in %.2f s", description, seconds))
            case .reloaded(let description, let seconds): announce(String(format: "swann: reloaded: %@ in %.2f s", description, seconds))
            case .reloadFailed(let reason): announce("swann: reload failed, the old index goes on serving: \(reason)")
            }
        }
        announce("swann: stopped")
    }
}

/// Reads an API key file: one key per line, optionally followed by its role (`read`, `write`
/// or `admin`; a key alone may `write`), blank lines and `#` comments ignored.
func readKeys(_ path: String) throws -> [String: APIKeyRole] {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw ValidationError("\(path): cannot read the API key file (\(error.localizedDescription))")
    }
    var keys: [String: APIKeyRole] = [:]
    for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard let key = fields.first, !key.hasPrefix("#") else { continue }
        guard fields.count <= 2 else {
            throw ValidationError("\(path):\(number + 1): expected a key and at most a role (read, write, admin), found \(fields.count) words")
        }
        var role = APIKeyRole.write
        if fields.count == 2 {
            guard let named = APIKeyRole(rawValue: String(fields[1]).lowercased()) else {
                throw ValidationError("\(path):\(number + 1): unknown role \"\(fields[1])\"; use read, write or admin")
            }
            role = named
        }
        guard keys.updateValue(role, forKey: String(key)) == nil else {
            throw ValidationError("\(path):\(number + 1): this key is listed twice")
        }
    }
    guard !keys.isEmpty else { throw ValidationError("\(path): the API key file holds no keys") }
    return keys
}

/// Writes a line to stdout unbuffered, so scripts and tests reading a pipe see it at once.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A size in bytes written as `1048576`, `64KiB`, `16MiB` or `1GiB` (KB/MB/GB mean the same here).
struct ByteCount: ExpressibleByArgument, Sendable {
    var bytes: Int
    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value > 0, value <= Int.max / scale else { return nil }
            bytes = value * scale
            return
        }
        guard let value = Int(text), value > 0 else { return nil }
        bytes = value
    }

    var defaultValueDescription: String { "\(bytes)" }
}
