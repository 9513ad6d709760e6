import NIOCore
import SwannProtocol
import Testing

/// The write messages (`upsert`, `delete`, `getPoint`): their byte layout, round trips, and
/// refusals of bodies whose counts do not match their bytes.
struct WriteMessageTests {
    @Test func upsertLayoutAndRoundTrip() throws {
        let request = UpsertRequest(ids: [7, 1 << 40], vectors: [1, 2, -3, 0.5], dimension: 2, durable: true)
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count == 4 + 4 + 4 + 2 * 8 + 4 * 4)
        #expect(Array(bytes[0..<12]) == [1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0])
        #expect(Array(bytes[12..<20]) == [7, 0, 0, 0, 0, 0, 0, 0])
        #expect(try UpsertRequest.decode(from: &buffer) == request)

        var buffered = ByteBuffer()
        UpsertRequest(ids: [3], vectors: [1], dimension: 1, durable: false).encode(into: &buffered)
        #expect(try UpsertRequest.decode(from: &buffered).durable == false)
    }

    @Test func deletePointAndWriteResponseRoundTrip() throws {
        var buffer = ByteBuffer()
        let delete = DeleteRequest(ids: [1, 2, UInt64.max], durable: false)
        delete.encode(into: &buffer)
        #expect(buffer.readableBytes == 8 + 3 * 8)
        #expect(try DeleteRequest.decode(from: &buffer) == delete)

        var request = ByteBuffer()
        PointMessage(id: 99).encodeRequest(into: &request)
        #expect(Array(request.readableBytesView) == [99, 0, 0, 0, 0, 0, 0, 0])
        #expect(try PointMessage.decodeRequest(from: &request) == PointMessage(id: 99))

        var answer = ByteBuffer()
        let point = PointMessage(id: 99, vector: [0.25, -1])
        point.encode(into: &answer)
        #expect(try PointMessage.decode(from: &answer) == point)

        var count = ByteBuffer()
        WriteResponse(count: 12).encode(into: &count)
        #expect(try WriteResponse.decode(from: &count) == WriteResponse(count: 12))
    }

    static let malformedBodies: [(String, [UInt8])] = [
        ("empty upsert", []),
        ("unknown flag", [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
        // 0xFFFFFFFF points of dimension 0x80000000: the counts must not be multiplied unchecked.
        ("huge counts", [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x80]),
        ("ids cut short", [1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]),
        ("vectors cut short", [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3F]),
        ("trailing bytes", [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3F, 0]),
    ]

    @Test(arguments: malformedBodies)
    func malformedUpsertsAreRefused(_ name: String, _ bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: MessageDecodingError.self, "\(name)") { _ = try UpsertRequest.decode(from: &buffer) }
    }

    @Test func malformedDeletesAndPointRequestsAreRefused() {
        for bytes: [UInt8] in [[], [1, 0, 0, 0], [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1], [1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: MessageDecodingError.self, "\(bytes)") { _ = try DeleteRequest.decode(from: &buffer) }
        }
        for bytes: [UInt8] in [[], [1, 2, 3], Array(repeating: 0, count: 9)] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: MessageDecodingError.self, "\(bytes)") { _ = try PointMessage.decodeRequest(from: &buffer) }
        }
    }
}
