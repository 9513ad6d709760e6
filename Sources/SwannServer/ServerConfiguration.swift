/// Where and how `swann serve` listens. The HTTP and TCP front ends arrive with the server issue;
/// this type fixes the defaults the CLI and deployment files already rely on.
public struct ServerConfiguration: Sendable, Hashable {
    /// Interface to bind; loopback unless the operator opts in.
    public var host: String = "127.0.0.1"
    /// HTTP/JSON port.
    public var httpPort: Int = 8080
    /// Binary TCP protocol port.
    public var tcpPort: Int = 8081

    public init() {}

    /// Checks the ports are usable (0 asks the OS for a free port).
    public func validate() throws(ServerConfigurationError) {
        for (name, port) in [("http port", httpPort), ("tcp port", tcpPort)] where !(0...65_535).contains(port) {
            throw ServerConfigurationError(detail: "\(name) \(port) is outside 0...65535")
        }
        if httpPort == tcpPort, httpPort != 0 {
            throw ServerConfigurationError(detail: "http and tcp ports are both \(httpPort)")
        }
    }
}

/// A server configuration that cannot work.
public struct ServerConfigurationError: Error, Hashable, CustomStringConvertible {
    public var detail: String
    public var description: String { "invalid server configuration: \(detail)" }
}
