import Swann

/// Where `swann serve` listens and the limits that keep it answering under bad or heavy traffic.
///
/// Every field has a `swann serve` flag and a `SWANN_*` environment variable (docs/API.md).
/// Defaults suit one machine: loopback only, bounded bodies, frames, batches and queues.
public struct ServerConfiguration: Sendable, Hashable {
    /// Interface to bind; loopback unless the operator opts in (with API keys or `insecure`).
    public var host: String = "127.0.0.1"
    /// HTTP/JSON port (0 picks a free one).
    public var httpPort: Int = 8080
    /// Binary TCP protocol port (0 picks a free one; nil turns TCP off).
    public var tcpPort: Int? = 8081
    /// Largest HTTP request body, in bytes (413 beyond it).
    public var maxBodyBytes: Int = 16 << 20
    /// Largest TCP frame body, in bytes (the connection is closed beyond it).
    public var maxFrameBytes: Int = 64 << 20
    /// Most queries in one batch request.
    public var maxBatchQueries: Int = 10_000
    /// Most points in one upsert or delete request.
    public var maxWriteBatch: Int = 10_000
    /// Refuse writes (403): the index directory is never written.
    public var readOnly = false
    /// Bytes of vectors written since the last checkpoint that start the next one.
    public var checkpointBytes: Int = 256 << 20
    /// A checkpoint's write budget in bytes per second (nil: unpaced);
    /// `LiveIndex.WriteOptions.checkpointWriteBytesPerSecond`.
    public var checkpointWriteBytesPerSecond: Int?
    /// Largest k a request may ask for.
    public var maxK: Int = 1_000
    /// Searches queued or running at once before new ones are refused (HTTP 503, TCP `overloaded`).
    public var maxPendingSearches: Int = 1_024
    /// Threads that run searches (off the event loops); defaults to the core count.
    public var searchThreads: Int = ServerConfiguration.coreCount
    /// A search still waiting after this long is answered with a timeout instead of run.
    public var requestTimeout: Duration = .seconds(10)
    /// Connections idle this long are closed.
    public var idleTimeout: Duration = .seconds(60)
    /// One TCP frame must arrive whole within this long of its first byte, an HTTP connection's
    /// first request head within this long of opening, and an HTTP request's body within this
    /// long of its head, or the connection is closed (a slow sender cannot hold a connection slot
    /// by trickling bytes).
    public var readTimeout: Duration = .seconds(30)
    /// On SIGTERM/SIGINT, in-flight requests get this long to finish; then the server cancels
    /// what is left and exits, so a stuck request or a peer that never finishes sending cannot
    /// keep a stopping server (and its index lock) alive until the orchestrator's SIGKILL.
    public var shutdownTimeout: Duration = .seconds(30)
    /// Bytes that TCP frames larger than 64 KiB may hold, across all connections, while their
    /// bodies arrive; a frame that would pass it is refused (`overloaded`) and its connection closed.
    public var maxBufferedFrameBytes: Int = 256 << 20
    /// Most open connections per front end.
    public var maxConnections: Int = 1_024
    /// Accepted API keys and what each may do; empty means no authentication (and, on a
    /// loopback-only server, every client may do everything).
    public var apiKeys: [String: APIKeyRole] = [:]
    /// Allows binding a non-loopback interface without API keys.
    public var insecure = false
    /// PEM certificate chain and private key; both or neither.
    public var tls: TLSFiles?

    /// Paths of a PEM certificate chain and its private key.
    public struct TLSFiles: Sendable, Hashable {
        /// PEM certificate chain.
        public var certificatePath: String
        /// PEM private key.
        public var privateKeyPath: String
        /// TLS with this certificate and key.
        public init(certificatePath: String, privateKeyPath: String) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
        }
    }

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// The write path's settings.
    var writeOptions: LiveIndex.WriteOptions {
        var options = LiveIndex.WriteOptions()
        options.checkpointBytes = checkpointBytes
        options.checkpointWriteBytesPerSecond = checkpointWriteBytesPerSecond
        return options
    }

    static var coreCount: Int { max(1, Parallel.coreCount) }

    /// Whether `host` names only this machine: `localhost`, `::1` or an IPv4 address in
    /// 127.0.0.0/8 written as one (a name such as `127.example.com` is not).
    public var bindsLoopbackOnly: Bool {
        if ["::1", "localhost"].contains(host) { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { $0.count <= 3 && UInt8($0) != nil } && octets[0] == "127"
    }

    /// Checks ports, limits and the loopback rule.
    public func validate() throws(ServerConfigurationError) {
        var ports = [("http port", httpPort)]
        if let tcpPort { ports.append(("tcp port", tcpPort)) }
        for (name, port) in ports where !(0...65_535).contains(port) {
            throw ServerConfigurationError(detail: "\(name) \(port) is outside 0...65535")
        }
        if let tcpPort, httpPort == tcpPort, httpPort != 0 {
            throw ServerConfigurationError(detail: "http and tcp ports are both \(httpPort)")
        }
        let limits = [
            ("max body", maxBodyBytes), ("max frame", maxFrameBytes), ("max batch", maxBatchQueries), ("max write batch", maxWriteBatch),
            ("checkpoint bytes", checkpointBytes), ("max k", maxK),
            ("max pending", maxPendingSearches), ("search threads", searchThreads), ("max connections", maxConnections),
            ("max buffered frames", maxBufferedFrameBytes), ("checkpoint write rate", checkpointWriteBytesPerSecond ?? 1),
        ]
        for (name, value) in limits where value < 1 {
            throw ServerConfigurationError(detail: "\(name) must be at least 1, got \(value)")
        }
        if requestTimeout <= .zero || idleTimeout <= .zero || readTimeout <= .zero || shutdownTimeout <= .zero {
            throw ServerConfigurationError(detail: "timeouts must be positive")
        }
        if !bindsLoopbackOnly, apiKeys.isEmpty, !insecure {
            throw ServerConfigurationError(
                detail: "binding \(host) without API keys would expose the index to the network: give --api-key-file, or --insecure to allow it"
            )
        }
    }
}

/// A server configuration that cannot work.
public struct ServerConfigurationError: Error, Hashable, CustomStringConvertible {
    /// What is wrong, for people.
    public var detail: String
    /// An error with this detail.
    public init(detail: String) { self.detail = detail }
    /// A one-line description for logs and error messages.
    public var description: String { "invalid server configuration: \(detail)" }
}
