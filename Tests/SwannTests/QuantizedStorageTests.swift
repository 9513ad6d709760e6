import Foundation
import Swann
@_spi(Engine) import SwannCore
import SwannTestSupport
import Testing

/// `--store int8`: int8 codes in the postings, exact rows in vectors.bin for re-ranking.
struct QuantizedStorageTests {
    /// A small random data set and its `--store int8` index; returns (index path, vectors path).
    func smallInt8Index(count: Int, seed: UInt64) throws -> (String, String) {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: count, dimension: 16, seed: seed, in: dir)
        var options = IndexBuilder.Options()
        options.postings = .rows(.int8)
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        return (dir + "/idx", vectors)
    }

    static let examplePath: String = {
        let path = IndexFixture.directory + "/minilm-10k-int8.swann"
        var options = IndexBuilder.Options()
        options.postings = .rows(.int8)
        try! IndexBuilder(options: options).build(from: try! VectorFile(path: BundledExample.base), to: path)
        return path
    }()

    @Test func recallMatchesTheFloatIndexWithFewerBytes() throws {
        let codes = try Index.open(at: Self.examplePath)
        let floats = try Index.open(at: IndexFixture.rowsPath)
        #expect(codes.manifest.formatVersion == IndexManifest.quantizedFormatVersion)
        #expect(codes.manifest.elementType == .int8 && codes.manifest.quantization != nil)
        let (table, statistics) = try codes.search(IndexFixture.queries, k: 10)
        let (floatTable, floatStatistics) = try floats.search(IndexFixture.queries, k: 10)
        let recall = IndexFixture.truth.recall(of: table, at: 10)
        let floatRecall = IndexFixture.truth.recall(of: floatTable, at: 10)
        #expect(recall >= 0.9, "recall@10 = \(recall)")
        #expect(recall >= floatRecall - 0.005, "int8 \(recall) vs float32 \(floatRecall)")
        let bytes = statistics.reduce(0) { $0 + $1.bytesRead }
        let floatBytes = floatStatistics.reduce(0) { $0 + $1.bytesRead }
        // The example is float16, so its postings already hold 2 bytes a component: codes halve
        // them, and re-ranking adds one exact float32 row per candidate kept.
        #expect(Double(bytes) < 0.7 * Double(floatBytes), "bytes read: int8 \(bytes), float16 \(floatBytes)")
    }

    @Test func distancesAreExactAfterReranking() throws {
        let index = try Index.open(at: Self.examplePath)
        let base = try VectorFile(path: BundledExample.base).readVectors()
        for q in [0, 5, 17] {
            let query = IndexFixture.queries.floats(at: q)
            let hits = try index.search(query, k: 10)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            for hit in hits {
                let exact = Distance.between(query, base.floats(at: Int(hit.id)), metric: .l2)
                #expect(abs(exact - hit.distance) < 1e-4, "id \(hit.id): \(hit.distance) vs \(exact)")
            }
        }
    }

    @Test func everyIOPathAndBatchSearchGiveTheSameAnswers() throws {
        let reference = try Index.open(at: Self.examplePath)
        let others = try [Index.IOMode.mmap, .direct, .memory].map { try Index.open(at: Self.examplePath, options: .init(io: $0)) }
        let (table, _) = try reference.search(IndexFixture.queries, k: 10, threads: 2)
        for q in 0..<40 {
            let query = IndexFixture.queries.floats(at: q)
            let expected = try reference.search(query, k: 10)
            #expect(expected.map(\.id) == Array(table.ids(of: q)))
            for other in others { #expect(try other.search(query, k: 10) == expected) }
        }
    }

    @Test func cosineIndexesRankLikeTheFloatOnes() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 1_500, dimension: 48, seed: 21, in: dir)
        var options = IndexBuilder.Options()
        options.metric = .cosine
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/f32")
        options.postings = .rows(.int8)
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/int8")
        let floats = try Index.open(at: dir + "/f32")
        let codes = try Index.open(at: dir + "/int8")
        let rows = try VectorFile(path: vectors).readVectors()
        var same = 0
        for q in stride(from: 0, to: 300, by: 3) {
            let a = try floats.search(rows.floats(at: q), k: 10)
            let b = try codes.search(rows.floats(at: q), k: 10)
            #expect(b.first?.id == Int64(q), "a vector is its own nearest neighbour")
            #expect(abs(b[0].distance) < 1e-5)
            same += Set(a.map(\.id)).intersection(b.map(\.id)).count
        }
        #expect(same >= 100 * 10 * 95 / 100, "top-10 overlap with the float32 index: \(same) of 1000")
    }

    @Test func onlyFloatInputCanBeQuantized() throws {
        let dir = IndexFixture.scratch()
        let vectors = try IndexFixture.uint8File(in: dir)
        var options = IndexBuilder.Options()
        options.postings = .rows(.int8)
        #expect(throws: BuildError.self) { try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx") }
    }

    /// Also with O_DIRECT, where the re-ranked rows are read together (`ReadBatch`).
    @Test(arguments: [Index.IOMode.pread, .direct])
    func aCorruptExactRowIsReportedNotRanked(io: Index.IOMode) throws {
        let (indexPath, vectors) = try smallInt8Index(count: 600, seed: 31)
        let query = try VectorFile(path: vectors).readVectors().floats(at: 42)
        let index = try Index.open(at: indexPath, options: .init(io: io))
        #expect(try index.search(query, k: 1).first?.id == 42)
        // Row 42 becomes another vector: its codes in the postings no longer match.
        let file = indexPath + "/" + IndexLayout.vectors
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        let offset = IndexLayout.pageSize + 42 * 16 * 4
        for i in 0..<16 {
            withUnsafeBytes(of: Float(i * 3).bitPattern.littleEndian) { bytes.replaceSubrange(offset + i * 4..<offset + i * 4 + 4, with: $0) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        do {
            _ = try index.search(query, k: 1)
            Issue.record("a corrupt row was ranked")
        } catch {
            #expect(error.code == .indexCorrupt)
            #expect("\(error)".contains(IndexLayout.vectors) && "\(error)".contains("row 42"), "\(error)")
        }
        // Other queries keep working.
        #expect(try index.search(try VectorFile(path: vectors).readVectors().floats(at: 300), k: 1).first?.id == 300)
    }

    /// A low byte of one exact row flipped on disk: within half a quantisation step, so the
    /// re-ranking's code check cannot see it, but it would change distances. Refused at open.
    @Test func aFlippedLowByteInTheExactRowsIsRefusedAtOpen() throws {
        let (indexPath, _) = try smallInt8Index(count: 400, seed: 43)
        let file = indexPath + "/" + IndexLayout.vectors
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[IndexLayout.pageSize + 7 * 16 * 4] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let failure = IndexFixture.openFailure(indexPath)
        #expect(failure?.contains(IndexLayout.vectors) == true && failure?.contains("checksum") == true, "\(failure ?? "opened")")
    }

    @Test func aTruncatedOrMislabelledIndexIsRefusedAtOpen() throws {
        let (indexPath, _) = try smallInt8Index(count: 400, seed: 41)
        let file = indexPath + "/" + IndexLayout.vectors
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        try original.prefix(original.count - 10).write(to: URL(fileURLWithPath: file))
        #expect(IndexFixture.openFailure(indexPath)?.contains(IndexLayout.vectors) == true, "\(IndexFixture.openFailure(indexPath) ?? "opened")")
        try original.write(to: URL(fileURLWithPath: file))
        // Codes claimed as a version-1 index would be ranked as if they were vectors: refused.
        let manifestPath = indexPath + "/" + IndexLayout.manifest
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try manifest.replacingOccurrences(of: "\"formatVersion\" : 2", with: "\"formatVersion\" : 1")
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)
        #expect(IndexFixture.openFailure(indexPath)?.contains("quantization") == true, "\(IndexFixture.openFailure(indexPath) ?? "opened")")
    }
}
