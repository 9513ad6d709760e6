public import SwannProtocol

/// Why a client call failed.
public struct SwannClientError: Error, Hashable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The connection could not be established (refused, unresolvable, TLS handshake).
        case connectionFailed
        /// The connection closed before the answer arrived.
        case connectionClosed
        /// No answer within the configured timeout.
        case timeout
        /// The server answered with an error frame.
        case server(ProtocolErrorCode)
        /// The server's bytes do not follow the protocol.
        case protocolViolation
        /// The call's arguments cannot be sent (e.g. rows of different dimensions).
        case invalidArgument
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        switch code {
        case .server(let serverCode): "server error \(serverCode): \(message)"
        default: "\(code): \(message)"
        }
    }
}
