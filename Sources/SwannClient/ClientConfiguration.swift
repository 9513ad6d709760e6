/// How a `SwannClient` reaches a server.
public struct ClientConfiguration: Sendable, Hashable {
    /// Server host name or address (an IPv6 address may be written in brackets).
    public var host: String
    /// The server's binary TCP port.
    public var port: Int
    /// Per-request timeout (queueing, search and transfer).
    public var timeout: Duration
    /// Timeout for establishing the connection (and its TLS handshake and hello).
    public var connectTimeout: Duration
    /// The API key sent in the hello frame, when the server requires one.
    public var apiKey: String?
    /// TLS, when the server has it on.
    public var tls: TLS?
    /// Largest response frame body accepted.
    public var maxFrameBytes: Int

    /// TLS settings for the connection.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities to trust; nil trusts the system's.
        public var trustRootsPath: String?
        /// Name to verify the server's certificate against; nil uses `host`.
        public var serverName: String?
        /// TLS trusting the system roots (or those in `trustRootsPath`), checking the
        /// certificate against `serverName` (default: the host).
        public init(trustRootsPath: String? = nil, serverName: String? = nil) {
            self.trustRootsPath = trustRootsPath
            self.serverName = serverName
        }
    }

    /// A configuration for the server at `host:port`.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8081,
        timeout: Duration = .seconds(5),
        connectTimeout: Duration = .seconds(5),
        apiKey: String? = nil,
        tls: TLS? = nil,
        maxFrameBytes: Int = 256 << 20
    ) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.apiKey = apiKey
        self.tls = tls
        self.maxFrameBytes = maxFrameBytes
    }

    /// Parses `host:port`.
    /// - Returns: nil unless the text is a host, a colon and a port in 1...65535.
    public init?(endpoint: String) {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]),
            (1...65_535).contains(port), colon != endpoint.startIndex
        else { return nil }
        self.init(host: String(endpoint[..<colon]), port: port)
    }

    /// `host` without IPv6 brackets, as the resolver wants it.
    var bareHost: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }
}
