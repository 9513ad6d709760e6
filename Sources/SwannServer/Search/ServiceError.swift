public import Swann
import SwannProtocol

/// Why the server could not answer a request; each front end maps it to its own form
/// (an HTTP status with a JSON body, or a protocol error code).
public struct ServiceError: Error, Hashable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The request itself is wrong (dimension, NaN, k, parameters, malformed body).
        case invalidRequest = "invalid_request"
        /// A batch or body larger than the server accepts.
        case tooLarge = "too_large"
        /// The search queue is full.
        case overloaded
        /// The request waited longer than the request timeout.
        case timeout
        /// The index is still opening.
        case notReady = "not_ready"
        /// The index could not answer (corrupt or unreadable posting list).
        case internalError = "internal_error"
        /// A shard behind a router did not answer.
        case unavailable = "shard_unavailable"
        /// A write to a server started with `--read-only`.
        case readOnly = "read_only"
        /// The id asked for is not stored.
        case notFound = "not_found"
        /// This server cannot do that yet (writes through a router, writes to int8 codes).
        case notImplemented = "not_implemented"
        /// The API key's role does not allow this request (a `read` key writing, say).
        case forbidden
        /// Another reload is running.
        case conflict
        /// The index to reload to cannot be opened; the old one goes on serving.
        case reloadFailed = "reload_failed"
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
    public var description: String { "\(code.rawValue): \(message)" }

    /// The service error for a failed search.
    init(_ error: SearchError) {
        switch error.code {
        case .wrongDimension, .nonFinite, .outOfRange, .zeroVector, .invalidK, .invalidParameters:
            self.init(.invalidRequest, error.message)
        case .indexCorrupt, .ioFailure:
            self.init(.internalError, error.message)
        }
    }

    /// The service error for a refused or failed write.
    init(_ error: WriteError) {
        switch error.code {
        case .readOnly: self.init(.readOnly, error.message)
        case .invalidVector: self.init(.invalidRequest, error.message)
        case .invalidBatch: self.init(.tooLarge, error.message)
        case .ioFailure: self.init(.internalError, error.message)
        case .closed: self.init(.notReady, error.message)
        }
    }

    /// The TCP protocol's code for this error.
    var protocolCode: ProtocolErrorCode {
        switch code {
        case .invalidRequest: .invalidQuery
        case .tooLarge: .invalidQuery
        case .overloaded: .overloaded
        case .timeout: .timeout
        case .notReady: .notReady
        case .internalError: .internalError
        case .unavailable: .unavailable
        case .readOnly, .forbidden: .forbidden
        case .notFound: .notFound
        case .notImplemented: .notImplemented
        case .conflict, .reloadFailed: .invalidQuery
        }
    }
}
