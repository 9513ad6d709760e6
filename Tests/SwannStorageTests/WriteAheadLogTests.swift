import Foundation
import SwannStorage
import SwannTestSupport
import Testing

/// The write-ahead log's framing: a torn tail is dropped byte by byte and nothing before it; a
/// damaged record is never replayed; the header must belong to the index.
struct WriteAheadLogTests {
    static let dimension = 4
    static let records: [LogRecord] = [
        .upsert(ids: [1, 2], vectors: [1, 2, 3, 4, 5, 6, 7, 8]),
        .delete(ids: [2]),
        .upsert(ids: [9], vectors: [0.5, -0.5, 1e-3, 42]),
    ]

    static func encoded() -> (bytes: [UInt8], ends: [Int]) {
        var bytes = LogFormat.fileHeader(dimension: dimension)
        var ends: [Int] = []
        for record in records {
            LogFormat.encode(record, dimension: dimension, into: &bytes)
            ends.append(bytes.count)
        }
        return (bytes, ends)
    }

    @Test func everyCutKeepsExactlyTheCompleteRecords() throws {
        let (bytes, ends) = Self.encoded()
        for cut in LogFormat.fileHeaderSize...bytes.count {
            let decoded = try Array(bytes[0..<cut]).withUnsafeBytes { try LogFormat.decode($0, dimension: Self.dimension, path: "wal.log") }
            let complete = ends.filter { $0 <= cut }.count
            #expect(decoded.records == Array(Self.records.prefix(complete)), "cut at \(cut)")
            #expect(decoded.validBytes == (complete == 0 ? LogFormat.fileHeaderSize : ends[complete - 1]))
            #expect((decoded.stopped != nil) == (cut != decoded.validBytes))
        }
    }

    @Test func aDamagedByteIsNeverReplayed() throws {
        let (bytes, ends) = Self.encoded()
        for position in LogFormat.fileHeaderSize..<bytes.count {
            var damaged = bytes
            damaged[position] ^= 0xFF
            let decoded = try damaged.withUnsafeBytes { try LogFormat.decode($0, dimension: Self.dimension, path: "wal.log") }
            let damagedRecord = ends.firstIndex { position < $0 }!
            #expect(decoded.records == Array(Self.records.prefix(damagedRecord)), "byte \(position)")
        }
    }

    @Test func aTornTailIsCutOnDiskAndAppendsContinueAfterIt() async throws {
        let (bytes, ends) = Self.encoded()
        for cut in stride(from: LogFormat.fileHeaderSize, through: bytes.count, by: 1) {
            let directory = TestDirectory.make("wal")
            FileManager.default.createFile(atPath: directory + "/wal.log", contents: Data(bytes[0..<cut]))
            let (log, decoded) = try WriteAheadLog.open(indexPath: directory, dimension: Self.dimension)
            let complete = ends.filter { $0 <= cut }.count
            #expect(decoded.records == Array(Self.records.prefix(complete)))
            let extra = LogRecord.delete(ids: [77])
            try await log.sync(through: log.append(extra, dimension: Self.dimension))
            let (_, again) = try WriteAheadLog.open(indexPath: directory, dimension: Self.dimension)
            #expect(again.records == Array(Self.records.prefix(complete)) + [extra], "cut at \(cut)")
            #expect(again.stopped == nil)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func aLogOfAnotherIndexIsRefused() throws {
        let (bytes, _) = Self.encoded()
        #expect(throws: IndexError.self) { try bytes.withUnsafeBytes { try LogFormat.decode($0, dimension: 8, path: "wal.log") } }
        var badMagic = bytes
        badMagic[0] = UInt8(ascii: "X")
        #expect(throws: IndexError.self) { try badMagic.withUnsafeBytes { try LogFormat.decode($0, dimension: Self.dimension, path: "wal.log") } }
        var badHeader = bytes
        badHeader[20] ^= 1
        #expect(throws: IndexError.self) { try badHeader.withUnsafeBytes { try LogFormat.decode($0, dimension: Self.dimension, path: "wal.log") } }
    }

    @Test func concurrentSyncsShareFsyncsAndAllBecomeDurable() async throws {
        let directory = TestDirectory.make("wal")
        let (log, _) = try WriteAheadLog.open(indexPath: directory, dimension: Self.dimension)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await log.sync(through: log.append(.delete(ids: [UInt64(i)]), dimension: Self.dimension)) }
            }
            try await group.waitForAll()
        }
        let (_, decoded) = try WriteAheadLog.open(indexPath: directory, dimension: Self.dimension)
        #expect(Set(decoded.records.map { if case .delete(let ids) = $0 { ids[0] } else { 999 } }) == Set((0..<64).map(UInt64.init)))
    }
}
