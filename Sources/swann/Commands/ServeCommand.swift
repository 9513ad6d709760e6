import ArgumentParser
import Foundation
import Swann
import SwannServer

/// `swann serve`: thin over `SwannServer`; every option may also come from `SWANN_<OPTION>`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve an index over HTTP/JSON and binary TCP.",
        discussion: """
            Every option can also be set in the environment as SWANN_<NAME> (SWANN_PORT=9000, SWANN_API_KEY_FILE=..., \
            SWANN_INSECURE=1); the index directory as SWANN_INDEX. Command-line flags win.
            Without API keys the server binds only to loopback unless --insecure is given.
            SIGTERM or SIGINT stops accepting, finishes requests in flight and exits 0.
            """
    )

    static let environmentOptions = EnvironmentDefaults(
        options: ServerOptions.environmentOptions + ["io"],
        flags: ServerOptions.environmentFlags + ["direct-io"],
        positional: "index"
    )

    @Argument(help: "The index directory.")
    var index: String
    @OptionGroup var server: ServerOptions
    @Option(help: "How to read postings: pread (page cache), mmap, direct (O_DIRECT), memory.")
    var io: Index.IOMode = .pread
    @Flag(help: "Read postings with O_DIRECT (same as --io direct).")
    var directIO = false

    func run() async throws {
        let configuration = try server.configuration()
        guard FileManager.default.fileExists(atPath: index) else { throw ValidationError("\(index): no such index directory") }
        let backend = SwannServer.Backend.index(path: index, options: Index.OpenOptions(io: directIO ? .direct : io))
        try await server.run(SwannServer(backend: backend, configuration: configuration, logger: server.logger), tls: configuration.tls != nil)
    }
}
