public import NIOCore
public import SwannCore

/// A body that does not match its frame type's layout.
public struct MessageDecodingError: Error, Hashable, CustomStringConvertible {
    /// What went wrong, for people.
    public var message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    /// A one-line description for logs and error messages.
    public var description: String { message }
}

/// Body of a `search` frame.
///
/// ```
/// u32 k | u32 dimension | overrides (16 bytes) | f32 × dimension
/// ```
public struct SearchRequest: Sendable, Hashable {
    /// Neighbours wanted.
    public var k: Int
    /// Search parameters this request changes from the index defaults.
    public var overrides: SearchParameters.Overrides
    /// The query.
    public var vector: [Float]

    /// A request for the `k` nearest of `vector`.
    public init(vector: [Float], k: Int, overrides: SearchParameters.Overrides = .init()) {
        self.vector = vector
        self.k = k
        self.overrides = overrides
    }

    /// Appends the message's wire form (docs/PROTOCOL.md) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(clamping: k), endianness: .little)
        buffer.writeInteger(UInt32(vector.count), endianness: .little)
        overrides.encode(into: &buffer)
        buffer.writeFloats(vector)
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> SearchRequest {
        let k = try buffer.readCount("k")
        let dimension = try buffer.readCount("dimension")
        let overrides = try SearchParameters.Overrides.decode(from: &buffer)
        let vector = try buffer.readFloats(dimension, what: "query vector")
        try buffer.expectEnd("search request")
        return SearchRequest(vector: vector, k: k, overrides: overrides)
    }
}

/// Body of a `batchSearch` frame: all queries share k, dimension and overrides.
///
/// ```
/// u32 k | u32 dimension | u32 queryCount | overrides (16 bytes) | f32 × dimension × queryCount
/// ```
public struct BatchSearchRequest: Sendable, Hashable {
    /// Neighbours wanted.
    public var k: Int
    /// Components per query.
    public var dimension: Int
    /// Search parameters this request changes from the index defaults.
    public var overrides: SearchParameters.Overrides
    /// Row-major, `queryCount × dimension`.
    public var vectors: [Float]

    /// Queries in the batch.
    public var queryCount: Int { dimension == 0 ? 0 : vectors.count / dimension }

    /// A request for the `k` nearest of each `dimension`-long row of `vectors`.
    public init(vectors: [Float], dimension: Int, k: Int, overrides: SearchParameters.Overrides = .init()) {
        self.vectors = vectors
        self.dimension = dimension
        self.k = k
        self.overrides = overrides
    }

    /// Appends the message's wire form (docs/PROTOCOL.md) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(clamping: k), endianness: .little)
        buffer.writeInteger(UInt32(dimension), endianness: .little)
        buffer.writeInteger(UInt32(queryCount), endianness: .little)
        overrides.encode(into: &buffer)
        buffer.writeFloats(vectors)
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> BatchSearchRequest {
        let k = try buffer.readCount("k")
        let dimension = try buffer.readCount("dimension")
        let queryCount = try buffer.readCount("query count")
        let overrides = try SearchParameters.Overrides.decode(from: &buffer)
        let (total, overflow) = dimension.multipliedReportingOverflow(by: queryCount)
        guard !overflow else { throw MessageDecodingError("query count \(queryCount) × dimension \(dimension) overflows") }
        let vectors = try buffer.readFloats(total, what: "\(queryCount) query vectors of dimension \(dimension)")
        try buffer.expectEnd("batch search request")
        return BatchSearchRequest(vectors: vectors, dimension: dimension, k: k, overrides: overrides)
    }
}

/// One query's answer on the wire.
///
/// ```
/// u32 count | statistics (40 bytes) | (i64 id, f32 distance) × count
/// statistics: u32 postingsRead | u32 flags (1: partial) | u64 bytesRead | u64 distancesComputed
///             | f32 centroid ms | f32 I/O ms | f32 scan ms | f32 0
/// ```
public struct SearchResponse: Sendable, Hashable {
    /// Nearest first.
    public var neighbors: [Neighbor]
    /// What the search cost.
    public var statistics: SearchStatistics
    /// Set by a router when some shards did not answer: the neighbours come from the others.
    public var partial: Bool

    /// An answer; `partial` when a shard did not answer.
    public init(neighbors: [Neighbor], statistics: SearchStatistics, partial: Bool = false) {
        self.neighbors = neighbors
        self.statistics = statistics
        self.partial = partial
    }

    /// Appends the message's wire form (docs/PROTOCOL.md) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(neighbors.count), endianness: .little)
        buffer.writeInteger(UInt32(clamping: statistics.postingsRead), endianness: .little)
        buffer.writeInteger(UInt32(partial ? 1 : 0), endianness: .little)
        buffer.writeInteger(UInt64(clamping: statistics.bytesRead), endianness: .little)
        buffer.writeInteger(UInt64(clamping: statistics.distancesComputed), endianness: .little)
        for seconds in [statistics.centroidSeconds, statistics.ioSeconds, statistics.scanSeconds, 0] {
            buffer.writeInteger(Float(seconds * 1000).bitPattern, endianness: .little)
        }
        for neighbor in neighbors {
            buffer.writeInteger(neighbor.id, endianness: .little)
            buffer.writeInteger(neighbor.distance.bitPattern, endianness: .little)
        }
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> SearchResponse {
        let count = try buffer.readCount("result count")
        var statistics = SearchStatistics()
        guard buffer.readableBytes >= 40 else { throw MessageDecodingError("search response: statistics truncated") }
        statistics.postingsRead = Int(buffer.readInteger(endianness: .little, as: UInt32.self)!)
        let flags = buffer.readInteger(endianness: .little, as: UInt32.self)!
        statistics.bytesRead = Int(clamping: buffer.readInteger(endianness: .little, as: UInt64.self)!)
        statistics.distancesComputed = Int(clamping: buffer.readInteger(endianness: .little, as: UInt64.self)!)
        let times = try buffer.readFloats(4, what: "statistics")
        statistics.centroidSeconds = Double(times[0]) / 1000
        statistics.ioSeconds = Double(times[1]) / 1000
        statistics.scanSeconds = Double(times[2]) / 1000
        guard count <= buffer.readableBytes / 12 else {
            throw MessageDecodingError("search response: \(count) results need 12 bytes each, \(buffer.readableBytes) left")
        }
        var neighbors: [Neighbor] = []
        neighbors.reserveCapacity(count)
        for _ in 0..<count {
            let id = buffer.readInteger(endianness: .little, as: Int64.self)!
            let distance = Float(bitPattern: buffer.readInteger(endianness: .little, as: UInt32.self)!)
            neighbors.append(Neighbor(id: id, distance: distance))
        }
        return SearchResponse(neighbors: neighbors, statistics: statistics, partial: flags & 1 != 0)
    }
}

/// Body of a `batchSearch` response: `u32 queryCount`, then one `SearchResponse` per query in order.
public enum BatchSearchResponse {
    /// Appends a batch answer's wire form (docs/PROTOCOL.md) to `buffer`.
    public static func encode(_ responses: [SearchResponse], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(responses.count), endianness: .little)
        for response in responses { response.encode(into: &buffer) }
    }

    /// Reads one message body from `buffer`.
    /// - Throws: `MessageDecodingError` for a body that does not match its layout.
    public static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> [SearchResponse] {
        let count = try buffer.readCount("query count")
        // Each response is at least 44 bytes, so a count the body cannot hold fails before the loop.
        guard count <= buffer.readableBytes / 44 else {
            throw MessageDecodingError("batch search response: \(count) responses cannot fit in \(buffer.readableBytes) bytes")
        }
        var responses: [SearchResponse] = []
        for _ in 0..<count { responses.append(try SearchResponse.decode(from: &buffer)) }
        try buffer.expectEnd("batch search response")
        return responses
    }
}

extension SearchParameters.Overrides {
    /// ```
    /// u32 flags (1 maxPostings, 2 searchCandidates, 4 maxDistanceRatio, 8 pruning off,
    ///            16 targetRecall)
    /// | u32 maxPostings | u32 searchCandidates | f32 maxDistanceRatio
    /// [| f64 targetRecall, only with flag 16]
    /// ```
    /// The optional field keeps requests without it byte-for-byte as before; a server that
    /// predates it refuses flag 16 as unknown rather than ignoring it.
    func encode(into buffer: inout ByteBuffer) {
        var flags: UInt32 = 0
        if maxPostings != nil { flags |= 1 }
        if searchCandidates != nil { flags |= 2 }
        if maxDistanceRatio != nil { flags |= 4 }
        if disablePruning { flags |= 8 }
        if targetRecall != nil { flags |= 16 }
        buffer.writeInteger(flags, endianness: .little)
        buffer.writeInteger(UInt32(clamping: maxPostings ?? 0), endianness: .little)
        buffer.writeInteger(UInt32(clamping: searchCandidates ?? 0), endianness: .little)
        buffer.writeInteger((maxDistanceRatio ?? 0).bitPattern, endianness: .little)
        if let targetRecall { buffer.writeInteger(targetRecall.bitPattern, endianness: .little) }
    }

    static func decode(from buffer: inout ByteBuffer) throws(MessageDecodingError) -> Self {
        guard buffer.readableBytes >= 16 else {
            throw MessageDecodingError("search parameters truncated: 16 bytes expected, \(buffer.readableBytes) left")
        }
        let flags = buffer.readInteger(endianness: .little, as: UInt32.self)!
        guard flags & ~0x1F == 0 else { throw MessageDecodingError("unknown parameter flags 0x\(String(flags, radix: 16))") }
        let maxPostings = Int(buffer.readInteger(endianness: .little, as: UInt32.self)!)
        let searchCandidates = Int(buffer.readInteger(endianness: .little, as: UInt32.self)!)
        let ratio = Float(bitPattern: buffer.readInteger(endianness: .little, as: UInt32.self)!)
        var targetRecall: Double?
        if flags & 16 != 0 {
            guard let bits = buffer.readInteger(endianness: .little, as: UInt64.self) else {
                throw MessageDecodingError("search parameters truncated: flag 16 needs an 8-byte target recall")
            }
            targetRecall = Double(bitPattern: bits)
        }
        return Self(
            maxPostings: flags & 1 != 0 ? maxPostings : nil,
            searchCandidates: flags & 2 != 0 ? searchCandidates : nil,
            maxDistanceRatio: flags & 4 != 0 ? ratio : nil,
            disablePruning: flags & 8 != 0,
            targetRecall: targetRecall
        )
    }
}

extension ByteBuffer {
    mutating func writeFloats(_ values: [Float]) {
        #if _endian(little)
        values.withUnsafeBytes { _ = writeBytes($0) }
        #else
        for value in values { writeInteger(value.bitPattern, endianness: .little) }
        #endif
    }

    mutating func readFloats(_ count: Int, what: String) throws(MessageDecodingError) -> [Float] {
        // `count` comes off the wire: compare by division, and never multiply it while
        // formatting the refusal either (0xFFFFFFFF × 0x80000000 floats once trapped here).
        guard count >= 0, count <= readableBytes / 4 else {
            let needed = count.multipliedReportingOverflow(by: 4)
            let bytes = needed.overflow ? "more than \(Int.max)" : "\(needed.partialValue)"
            throw MessageDecodingError("\(what): \(count) floats need \(bytes) bytes, \(readableBytes) left")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { out in
            _ = readWithUnsafeReadableBytes { bytes in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count * 4]))
                return count * 4
            }
        }
        #if !_endian(little)
        for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        #endif
        return values
    }

    mutating func readCount(_ what: String) throws(MessageDecodingError) -> Int {
        guard let value = readInteger(endianness: .little, as: UInt32.self) else {
            throw MessageDecodingError("\(what) truncated: 4 bytes expected, \(readableBytes) left")
        }
        return Int(value)
    }

    func expectEnd(_ what: String) throws(MessageDecodingError) {
        guard readableBytes == 0 else { throw MessageDecodingError("\(what) has \(readableBytes) unexpected trailing bytes") }
    }
}
