public import NIOCore

/// Splits a byte stream into `Frame`s, one per call (so no re-entrancy), refusing a wrong magic,
/// an unknown version or a body over `maxBodyBytes` before reading it.
///
/// ```
///  bytes in:  | SWNP 1 02 0 7 12 | body (12) | SWNP 1 05 0 8 0 |
///  frames:    Frame(search, id 7, 12-byte body), Frame(ping, id 8, empty)
/// ```
/// Fragmented input is kept until a whole frame is there; the header is parsed with
/// `getInteger(at: readerIndex)` and consumed only together with its body.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    /// Whole frames.
    public typealias InboundOut = Frame

    /// Largest body accepted; a server raises it once a connection has authenticated.
    public var maxBodyBytes: Int

    /// A decoder refusing bodies over `maxBodyBytes`.
    public init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// The next whole frame, or nil until more bytes arrive.
    /// - Throws: `FrameDecodingError` for a bad header or an oversized body.
    public mutating func decode(buffer: inout ByteBuffer) throws(FrameDecodingError) -> Frame? {
        guard let header = try peekHeader(buffer) else { return nil }
        guard Int(header.bodyLength) <= maxBodyBytes else {
            throw FrameDecodingError.frameTooLarge(
                bodyLength: Int(header.bodyLength),
                limit: maxBodyBytes,
                requestID: header.requestID,
                type: header.type
            )
        }
        guard buffer.readableBytes >= FrameHeader.byteCount + Int(header.bodyLength) else { return nil }
        buffer.moveReaderIndex(forwardBy: FrameHeader.byteCount)
        let body = buffer.readSlice(length: Int(header.bodyLength))!
        return Frame(header: header, body: body)
    }

    /// The header at the front of `buffer`, not consumed: nil until all 16 bytes are there.
    /// - Throws: a wrong magic or an unknown version.
    public func peekHeader(_ buffer: ByteBuffer) throws(FrameDecodingError) -> FrameHeader? {
        guard buffer.readableBytes >= FrameHeader.byteCount else { return nil }
        let start = buffer.readerIndex
        let magic = buffer.getBytes(at: start, length: 4)!
        guard magic == FrameHeader.magic else { throw FrameDecodingError.badMagic(found: magic) }
        let version = buffer.getInteger(at: start + 4, as: UInt8.self)!
        guard version == FrameHeader.currentVersion else { throw FrameDecodingError.unsupportedVersion(version) }
        let type = FrameType(rawValue: buffer.getInteger(at: start + 5, as: UInt8.self)!)
        let status = buffer.getInteger(at: start + 6, endianness: .little, as: UInt16.self)!
        let requestID = buffer.getInteger(at: start + 8, endianness: .little, as: UInt32.self)!
        let bodyLength = buffer.getInteger(at: start + 12, endianness: .little, as: UInt32.self)!
        return FrameHeader(type: type, requestID: requestID, bodyLength: bodyLength, status: status, version: version)
    }

    /// Like `decode(buffer:)`; bytes left at EOF are a truncated frame.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(FrameDecodingError) -> Frame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if seenEOF, buffer.readableBytes > 0 {
            throw FrameDecodingError.truncated(have: buffer.readableBytes)
        }
        return nil
    }
}

/// A byte stream that is not Swann's protocol; the connection cannot continue after it.
public enum FrameDecodingError: Error, Hashable, CustomStringConvertible {
    case badMagic(found: [UInt8])
    case unsupportedVersion(UInt8)
    case frameTooLarge(bodyLength: Int, limit: Int, requestID: UInt32, type: FrameType)
    /// The peer closed the connection in the middle of a frame.
    case truncated(have: Int)
    /// The peer took longer than the server's frame deadline to send one whole frame.
    case tooSlow(have: Int, deadline: Duration)
    /// Frames waiting for their bodies on all connections already hold the server's buffer budget.
    case bufferBudgetExhausted(bodyLength: Int, requestID: UInt32, type: FrameType)

    /// A one-line description for logs and error messages.
    public var description: String {
        switch self {
        case .badMagic(let found):
            "bad frame magic \(found.map { String($0, radix: 16) }): expected \"SWNP\" (53 57 4e 50)"
        case .unsupportedVersion(let version):
            "unsupported protocol version \(version): this server speaks version \(FrameHeader.currentVersion)"
        case .frameTooLarge(let length, let limit, _, let type):
            "\(type) frame body of \(length) bytes exceeds the maximum of \(limit) bytes"
        case .truncated(let have):
            "connection closed in the middle of a frame (\(have) bytes of it received)"
        case .tooSlow(let have, let deadline):
            "a frame did not arrive whole within \(deadline) (\(have) bytes of it received)"
        case .bufferBudgetExhausted(let length, _, let type):
            "\(type) frame body of \(length) bytes refused: the server is buffering too many large frames; retry later"
        }
    }
}
