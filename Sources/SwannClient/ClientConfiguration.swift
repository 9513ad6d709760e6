/// How a `SwannClient` reaches a server. The TCP client itself arrives with the server issue.
public struct ClientConfiguration: Sendable, Hashable {
    /// Server host name or address.
    public var host: String
    /// The server's binary TCP port.
    public var port: Int
    /// Per-request timeout.
    public var timeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 8081, timeout: Duration = .seconds(5)) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    /// Parses `host:port`.
    /// - Returns: nil unless the text is a host, a colon and a port in 1...65535.
    public init?(endpoint: String) {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]),
            (1...65_535).contains(port), colon != endpoint.startIndex
        else { return nil }
        self.init(host: String(endpoint[..<colon]), port: port)
    }
}
