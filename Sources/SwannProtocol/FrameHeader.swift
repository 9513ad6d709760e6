public import NIOCore

/// The fixed 16-byte header that starts every frame of Swann's binary TCP protocol.
///
/// ```
///  0      4       5      6         8           12          16
///  +------+-------+------+---------+-----------+-----------+---------------+
///  | SWNP | ver 1 | type | status  | requestID | bodyLength| body …        |
///  +------+-------+------+---------+-----------+-----------+---------------+
///    u8×4   u8      u8     u16 LE    u32 LE      u32 LE      bodyLength bytes
/// ```
/// A response carries the request's type with bit 0x80 set and the request's id, so a client
/// can pipeline requests and match answers that arrive in any order (SPTAG's `PacketHeader`).
/// `status` is 0 in requests and in successful responses; otherwise it is a `ProtocolErrorCode`
/// and the body is a UTF-8 message. Every integer is little-endian. docs/PROTOCOL.md has the
/// bodies.
public struct FrameHeader: Sendable, Hashable {
    /// "SWNP" as it appears on the wire.
    public static let magic: [UInt8] = Array("SWNP".utf8)
    /// The protocol version this build speaks.
    public static let currentVersion: UInt8 = 1
    /// Header bytes on the wire.
    public static let byteCount = 16

    /// Protocol version (`currentVersion`).
    public var version: UInt8
    /// The message type.
    public var type: FrameType
    /// 0 for success, else a `ProtocolErrorCode` (responses only).
    public var status: UInt16
    /// Chosen by the client, echoed by the server.
    public var requestID: UInt32
    /// Body bytes after the header.
    public var bodyLength: UInt32

    /// A header for a `type` frame.
    public init(type: FrameType, requestID: UInt32, bodyLength: UInt32, status: UInt16 = 0, version: UInt8 = FrameHeader.currentVersion) {
        self.version = version
        self.type = type
        self.status = status
        self.requestID = requestID
        self.bodyLength = bodyLength
    }

    /// Appends the 16 header bytes to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.magic)
        buffer.writeInteger(version)
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(status, endianness: .little)
        buffer.writeInteger(requestID, endianness: .little)
        buffer.writeInteger(bodyLength, endianness: .little)
    }
}

/// What a frame asks for or answers. A response's raw value is its request's | 0x80.
public struct FrameType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The type byte.
    public var rawValue: UInt8
    /// The type with byte `rawValue` (unknown ones are kept, and refused by the server).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Authenticate the connection with an API key (must come first when the server has keys).
    public static let hello = FrameType(rawValue: 0x01)
    /// One query.
    public static let search = FrameType(rawValue: 0x02)
    /// Many queries of one dimension.
    public static let batchSearch = FrameType(rawValue: 0x03)
    /// The index description as JSON.
    public static let info = FrameType(rawValue: 0x04)
    /// Liveness check with an empty body.
    public static let ping = FrameType(rawValue: 0x05)
    /// Insert or replace points (`UpsertRequest`); answered with a `WriteResponse`.
    public static let upsert = FrameType(rawValue: 0x06)
    /// Delete points by id (`DeleteRequest`); answered with a `WriteResponse`.
    public static let delete = FrameType(rawValue: 0x07)
    /// The vector stored under an id (`PointMessage`); `notFound` when there is none.
    public static let getPoint = FrameType(rawValue: 0x08)

    /// Set in every response type.
    public static let responseBit: UInt8 = 0x80
    /// Whether this is a response type.
    public var isResponse: Bool { rawValue & Self.responseBit != 0 }
    /// The response type for this request type.
    public var response: FrameType { FrameType(rawValue: rawValue | Self.responseBit) }
    /// The request type this response answers.
    public var request: FrameType { FrameType(rawValue: rawValue & ~Self.responseBit) }

    /// A one-line description for logs and error messages.
    public var description: String {
        let name =
            switch request {
            case .hello: "hello"
            case .search: "search"
            case .batchSearch: "batch-search"
            case .info: "info"
            case .ping: "ping"
            case .upsert: "upsert"
            case .delete: "delete"
            case .getPoint: "get-point"
            default: "0x" + String(request.rawValue, radix: 16)
            }
        return isResponse ? name + "-response" : name
    }
}

/// A header and its body.
public struct Frame: Sendable, Hashable {
    /// The header.
    public var header: FrameHeader
    /// The body (`header.bodyLength` bytes).
    public var body: ByteBuffer

    /// A frame of `header` and `body`.
    public init(header: FrameHeader, body: ByteBuffer) {
        self.header = header
        self.body = body
    }

    /// A frame of `type` whose header's length matches `body`.
    public init(type: FrameType, requestID: UInt32, status: UInt16 = 0, body: ByteBuffer) {
        self.init(header: FrameHeader(type: type, requestID: requestID, bodyLength: UInt32(body.readableBytes), status: status), body: body)
    }

    /// An error response to a request of `type`: the status is the code, the body its message.
    public static func error(_ code: ProtocolErrorCode, _ message: String, answering type: FrameType, requestID: UInt32) -> Frame {
        Frame(type: type.response, requestID: requestID, status: code.rawValue, body: ByteBuffer(string: message))
    }

    /// The whole frame as bytes.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: FrameHeader.byteCount + body.readableBytes)
        header.write(to: &out)
        var body = body
        out.writeBuffer(&body)
        return out
    }
}

/// Why a request failed, carried in a response header's `status`.
public enum ProtocolErrorCode: UInt16, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The body does not parse as the request type's layout.
    case malformedBody = 1
    /// A frame type the server does not know.
    case unknownType = 2
    /// No valid API key on this connection (send `hello` first).
    case unauthorized = 3
    /// The query is invalid: dimension, NaN/∞, k or parameters out of range.
    case invalidQuery = 4
    /// The server's queue is full; retry later.
    case overloaded = 5
    /// The frame exceeds the server's maximum frame size (the connection is then closed).
    case frameTooLarge = 6
    /// The request waited longer than the server's request timeout.
    case timeout = 7
    /// The index is still loading.
    case notReady = 8
    /// The index failed to answer (corrupt or unreadable posting list).
    case internalError = 9
    /// A header with the wrong magic or version (the connection is then closed).
    case badHeader = 10
    /// A router could not reach enough of its shards.
    case unavailable = 11
    /// The key (or the server: `--read-only`) does not allow this request.
    case forbidden = 12
    /// No point has the id asked for.
    case notFound = 13
    /// This server cannot do that (writes through a router, writes to int8 codes).
    case notImplemented = 14

    /// A one-line description for logs and error messages.
    public var description: String {
        switch self {
        case .malformedBody: "malformed-body"
        case .unknownType: "unknown-type"
        case .unauthorized: "unauthorized"
        case .invalidQuery: "invalid-query"
        case .overloaded: "overloaded"
        case .frameTooLarge: "frame-too-large"
        case .timeout: "timeout"
        case .notReady: "not-ready"
        case .internalError: "internal-error"
        case .badHeader: "bad-header"
        case .unavailable: "unavailable"
        case .forbidden: "forbidden"
        case .notFound: "not-found"
        case .notImplemented: "not-implemented"
        }
    }
}
