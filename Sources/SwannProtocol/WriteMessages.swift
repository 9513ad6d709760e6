public import NIOCore

/// Body of an `upsert` frame: points to insert or replace, applied whole or not at all.
///
/// ```
/// u8 flags (1: durable) | 3 zero bytes | u32 count | u32 dimension | u64 id × count
/// | f32 × dimension × count
/// ```
public struct UpsertRequest: Sendable, Hashable {
    /// Answer after the write is fsynced (`true`, like HTTP `wait=true`) or once it is in the
    /// log buffer.
    public var durable: Bool
    /// Components per vector.
    public var dimension: Int
    /// The point ids, one per vector.
    public var ids: [UInt64]
    /// Row-major, `ids.count × dimension`.
    public var vectors: [Float]

    /// Points `ids[i]` with the `dimension`-long rows of `vectors`.
    public init(ids: [UInt64], vectors: [Float], dimension: Int, durable: Bool = true) {
        self.ids = ids
        self.vectors = vectors
        self.dimension = dimension
        self.durable = durable
    }

    /// Appends the message's wire form (docs/PROTOCOL.md) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWriteFlags(durable: durable)
        buffer.writeInteger(UInt32(ids.count), endianness: .little)
        buffer.writeInteger(UInt32(dimension), endianness: .little)
        for id in ids { buffer.writeInteger(id, endianness: .little) }
        buffer.writeFloats(vectors)
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> UpsertRequest {
        let durable = try buffer.readWriteFlags("upsert request")
        let count = try buffer.readCount("point count")
        let dimension = try buffer.readCount("dimension")
        let ids = try buffer.readIDs(count, what: "upsert ids")
        let (total, overflow) = dimension.multipliedReportingOverflow(by: count)
        guard !overflow else { throw MessageDecodingError("point count \(count) × dimension \(dimension) overflows") }
        let vectors = try buffer.readFloats(total, what: "\(count) vectors of dimension \(dimension)")
        try buffer.expectEnd("upsert request")
        return UpsertRequest(ids: ids, vectors: vectors, dimension: dimension, durable: durable)
    }
}

/// Body of a `delete` frame.
///
/// ```
/// u8 flags (1: durable) | 3 zero bytes | u32 count | u64 id × count
/// ```
public struct DeleteRequest: Sendable, Hashable {
    /// Answer after the delete is fsynced, or once it is in the log buffer.
    public var durable: Bool
    /// The ids to delete (absent ones are ignored).
    public var ids: [UInt64]

    /// A delete of `ids`.
    public init(ids: [UInt64], durable: Bool = true) {
        self.ids = ids
        self.durable = durable
    }

    /// Appends the message's wire form (docs/PROTOCOL.md) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWriteFlags(durable: durable)
        buffer.writeInteger(UInt32(ids.count), endianness: .little)
        for id in ids { buffer.writeInteger(id, endianness: .little) }
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> DeleteRequest {
        let durable = try buffer.readWriteFlags("delete request")
        let count = try buffer.readCount("id count")
        let ids = try buffer.readIDs(count, what: "delete ids")
        try buffer.expectEnd("delete request")
        return DeleteRequest(ids: ids, durable: durable)
    }
}

/// The answer to an `upsert` or `delete` frame: points written, or ids that were present.
///
/// ```
/// u32 count
/// ```
public struct WriteResponse: Sendable, Hashable {
    /// Points written (upsert) or deleted (delete).
    public var count: Int

    /// An answer reporting `count`.
    public init(count: Int) { self.count = count }

    /// Appends the message's wire form to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(clamping: count), endianness: .little)
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> WriteResponse {
        let count = try buffer.readCount("count")
        try buffer.expectEnd("write response")
        return WriteResponse(count: count)
    }
}

/// Body of a `getPoint` frame, and (with the vector) of its answer.
///
/// ```
/// request: u64 id
/// answer:  u64 id | u32 dimension | f32 × dimension
/// ```
public struct PointMessage: Sendable, Hashable {
    /// The point's id.
    public var id: UInt64
    /// Its vector; empty in a request.
    public var vector: [Float]

    /// A point (or, with no vector, a request for one).
    public init(id: UInt64, vector: [Float] = []) {
        self.id = id
        self.vector = vector
    }

    /// Appends a request for this id to `buffer`.
    public func encodeRequest(into buffer: inout ByteBuffer) {
        buffer.writeInteger(id, endianness: .little)
    }

    /// Reads a request body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decodeRequest(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> PointMessage {
        let id = try buffer.readIDs(1, what: "point id")[0]
        try buffer.expectEnd("point request")
        return PointMessage(id: id)
    }

    /// Appends the answer (id and vector) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(id, endianness: .little)
        buffer.writeInteger(UInt32(vector.count), endianness: .little)
        buffer.writeFloats(vector)
    }

    /// Reads an answer from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> PointMessage {
        let id = try buffer.readIDs(1, what: "point id")[0]
        let dimension = try buffer.readCount("dimension")
        let vector = try buffer.readFloats(dimension, what: "point vector")
        try buffer.expectEnd("point")
        return PointMessage(id: id, vector: vector)
    }
}

extension ByteBuffer {
    mutating func writeWriteFlags(durable: Bool) {
        writeInteger(UInt32(durable ? 1 : 0), endianness: .little)
    }

    /// The flags word of a write request: bit 0 durable; the other bits must be zero (room to
    /// grow without old servers misreading new requests).
    mutating func readWriteFlags(_ what: String) throws(MessageDecodingError) -> Bool {
        guard let flags = readInteger(endianness: .little, as: UInt32.self) else {
            throw MessageDecodingError("\(what) truncated: 4 bytes of flags expected, \(readableBytes) left")
        }
        guard flags & ~1 == 0 else { throw MessageDecodingError("\(what): unknown flags 0x\(String(flags, radix: 16))") }
        return flags & 1 != 0
    }

    mutating func readIDs(_ count: Int, what: String) throws(MessageDecodingError) -> [UInt64] {
        // `count` comes off the wire: compare by division before allocating.
        guard count >= 0, count <= readableBytes / 8 else {
            throw MessageDecodingError("\(what): \(count) ids need \(count) × 8 bytes, \(readableBytes) left")
        }
        var ids = [UInt64](repeating: 0, count: count)
        for i in 0..<count { ids[i] = readInteger(endianness: .little, as: UInt64.self)! }
        return ids
    }
}
