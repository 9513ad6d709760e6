public import SwannProtocol

/// Why a client call failed.
public struct SwannClientError: Error, Hashable, CustomStringConvertible {
    /// The kinds of failure.
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

    /// What went wrong, for programs to match on.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// An error of kind `code` with a message for people.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A one-line description for logs and error messages.
    public var description: String {
        switch code {
        case .server(let serverCode): "server error \(serverCode): \(message)"
        default: "\(code): \(message)"
        }
    }
}
