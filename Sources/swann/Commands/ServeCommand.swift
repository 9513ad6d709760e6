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
        options: ServerOptions.environmentOptions + ["io", "max-write-batch", "checkpoint-bytes"],
        flags: ServerOptions.environmentFlags + ["direct-io", "read-only"],
        positional: "index"
    )

    @Argument(help: "The index directory.")
    var index: String
    @OptionGroup var server: ServerOptions
    @Option(help: "How to read postings: pread (page cache), mmap, direct (O_DIRECT), memory.")
    var io: Index.IOMode = .pread
    @Flag(help: "Read postings with O_DIRECT (same as --io direct).")
    var directIO = false
    @Flag(help: "Refuse writes (403) and never write to the index directory (a read-only mount).")
    var readOnly = false
    @Option(help: "Most points in one upsert or delete request.")
    var maxWriteBatch = 10_000
    @Option(help: "Vectors written since the last checkpoint that start the next one (bytes; KiB/MiB/GiB suffixes allowed).")
    var checkpointBytes = ByteCount(256 << 20)
    @Option(
        help:
            "Bytes per second a checkpoint may write on average (KiB/MiB/GiB suffixes allowed), so that rewriting the index leaves the disk to the searches; unpaced if not given."
    )
    var checkpointWriteRate: ByteCount?

    func run() async throws {
        var configuration = try server.configuration()
        configuration.readOnly = readOnly
        configuration.maxWriteBatch = maxWriteBatch
        configuration.checkpointBytes = checkpointBytes.bytes
        configuration.checkpointWriteBytesPerSecond = checkpointWriteRate?.bytes
        try configuration.validate()
        guard FileManager.default.fileExists(atPath: index) else { throw ValidationError("\(index): no such index directory") }
        let backend = SwannServer.Backend.index(path: index, options: Index.OpenOptions(io: directIO ? .direct : io))
        try await server.run(SwannServer(backend: backend, configuration: configuration, logger: server.logger), tls: configuration.tls != nil)
    }
}
