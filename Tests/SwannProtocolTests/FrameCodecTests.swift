import NIOCore
import NIOTestUtils
@_spi(Engine) import SwannCore
import SwannProtocol
import Testing

/// The frame decoder and message codecs, byte by byte.
struct FrameCodecTests {
    static func frame(_ type: FrameType, id: UInt32, _ bytes: [UInt8]) -> Frame {
        Frame(type: type, requestID: id, body: ByteBuffer(bytes: bytes))
    }

    @Test func decoderHandlesDripFedBatchedAndShuffledInput() throws {
        let frames = [
            Self.frame(.search, id: 1, Array(0..<40)), Self.frame(.ping, id: 2, []),
            Self.frame(.batchSearch, id: 3, Array(repeating: 7, count: 300)),
        ]
        let pairs = frames.map { ($0.encoded(), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            FrameDecoder(maxBodyBytes: 1 << 20)
        }
    }

    @Test func headerLayoutIsLittleEndianWithMagicFirst() {
        let bytes = Array(Frame(type: .search, requestID: 0x0102_0304, body: ByteBuffer(bytes: [9, 9])).encoded().readableBytesView)
        #expect(bytes == [0x53, 0x57, 0x4E, 0x50, 1, 0x02, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0, 9, 9])
        #expect(FrameType.search.response.rawValue == 0x82)
    }

    @Test func wrongMagicWrongVersionAndOversizedFramesAreRefused() throws {
        var decoder = FrameDecoder(maxBodyBytes: 100)
        var bad = ByteBuffer(bytes: Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(throws: FrameDecodingError.self) { _ = try decoder.decode(buffer: &bad) }
        var old = Self.frame(.ping, id: 1, []).encoded()
        old.setInteger(UInt8(9), at: 4)
        #expect(throws: FrameDecodingError.unsupportedVersion(9)) { _ = try decoder.decode(buffer: &old) }
        // Refused from the header alone, before the body arrives.
        var header = ByteBuffer()
        FrameHeader(type: .search, requestID: 5, bodyLength: 101).write(to: &header)
        #expect(throws: FrameDecodingError.frameTooLarge(bodyLength: 101, limit: 100, requestID: 5, type: .search)) {
            _ = try decoder.decode(buffer: &header)
        }
    }

    @Test func aFrameCutShortAtEOFIsReported() throws {
        var decoder = FrameDecoder(maxBodyBytes: 100)
        var cut = Self.frame(.search, id: 1, Array(0..<20)).encoded().getSlice(at: 0, length: 25)!
        #expect(try decoder.decode(buffer: &cut) == nil)
        #expect(throws: FrameDecodingError.truncated(have: 25)) { _ = try decoder.decodeLast(buffer: &cut, seenEOF: true) }
    }

    @Test func messagesRoundTrip() throws {
        let overrides = SearchParameters.Overrides(maxPostings: 12, searchCandidates: nil, maxDistanceRatio: 2.5, disablePruning: false)
        let request = SearchRequest(vector: [1, -2, 3.5, .leastNonzeroMagnitude], k: 7, overrides: overrides)
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        #expect(buffer.readableBytes == 24 + 16)
        #expect(try SearchRequest.decode(from: &buffer) == request)

        let batch = BatchSearchRequest(vectors: (0..<12).map(Float.init), dimension: 4, k: 3, overrides: .init(disablePruning: true))
        buffer.clear()
        batch.encode(into: &buffer)
        #expect(try BatchSearchRequest.decode(from: &buffer) == batch)

        // A target recall adds 8 bytes behind flag 16; requests without one are as before.
        let targeted = SearchRequest(vector: [1, 2], k: 5, overrides: .init(targetRecall: 0.95))
        buffer.clear()
        targeted.encode(into: &buffer)
        #expect(buffer.readableBytes == 8 + 8 + 16 + 8)
        #expect(try SearchRequest.decode(from: &buffer) == targeted)
        var cut = ByteBuffer()
        targeted.encode(into: &cut)
        cut.moveWriterIndex(to: cut.writerIndex - 4)
        #expect(throws: MessageDecodingError.self) { _ = try SearchRequest.decode(from: &cut) }

        var statistics = SearchStatistics()
        statistics.postingsRead = 9
        statistics.bytesRead = 123_456_789_012
        statistics.distancesComputed = 4_000
        let responses = [
            SearchResponse(neighbors: [Neighbor(id: -5, distance: 0.25), Neighbor(id: 1 << 40, distance: 3)], statistics: statistics),
            SearchResponse(neighbors: [], statistics: SearchStatistics()),
        ]
        buffer.clear()
        BatchSearchResponse.encode(responses, into: &buffer)
        let decoded = try BatchSearchResponse.decode(from: &buffer)
        #expect(decoded.map(\.neighbors) == responses.map(\.neighbors))
        #expect(decoded[0].statistics.bytesRead == 123_456_789_012)
        #expect(decoded[0].statistics.postingsRead == 9)
    }

    static let malformedBodies: [(String, [UInt8])] = {
        let noOverrides = [UInt8](repeating: 0, count: 16)
        let one: [UInt8] = [0, 0, 128, 63]
        return [
            ("empty body", []),
            ("k only", [10, 0, 0, 0]),
            ("dimension larger than the body", [10, 0, 0, 0, 200, 0, 0, 0] + noOverrides + one),
            ("unknown override flag", [10, 0, 0, 0, 1, 0, 0, 0, 0x10, 0, 0, 0] + [UInt8](repeating: 0, count: 12) + one),
            ("trailing bytes", [10, 0, 0, 0, 1, 0, 0, 0] + noOverrides + one + [1]),
        ]
    }()

    @Test(arguments: malformedBodies)
    func malformedSearchBodiesAreRefused(name: String, bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: MessageDecodingError.self, "\(name)") { _ = try SearchRequest.decode(from: &buffer) }
    }

    @Test func batchSizeOverflowIsRefused() {
        var buffer = ByteBuffer()
        for value: UInt32 in [10, 0xFFFF_FFFF, 0xFFFF_FFFF, 0, 0, 0, 0] { buffer.writeInteger(value, endianness: .little) }
        #expect(throws: MessageDecodingError.self) { _ = try BatchSearchRequest.decode(from: &buffer) }
    }
}
