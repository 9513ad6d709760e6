import Foundation
import Swann
@_spi(Engine) import SwannCore
import SwannTestSupport
import Testing

/// `--store rabitq`: RaBitQ codes in the postings, exact rows in vectors.bin for re-ranking.
struct RaBitQStorageTests {
    /// RaBitQ is the default store for float input (BuildTests checks the manifest says so).
    static var examplePath: String { IndexFixture.examplePath }

    @Test func recallMatchesTheFloatIndexReadingAFractionOfTheBytes() throws {
        let codes = try Index.open(at: Self.examplePath)
        let floats = try Index.open(at: IndexFixture.rowsPath)
        #expect(codes.manifest.formatVersion == IndexManifest.rabitqFormatVersion)
        #expect(codes.manifest.rabitq?.paddedDimension == 512 && codes.manifest.elementType == .float32)
        let (table, statistics) = try codes.search(IndexFixture.queries, k: 10)
        let (floatTable, floatStatistics) = try floats.search(IndexFixture.queries, k: 10)
        let recall = IndexFixture.truth.recall(of: table, at: 10)
        let floatRecall = IndexFixture.truth.recall(of: floatTable, at: 10)
        #expect(recall >= floatRecall - 0.01, "rabitq \(recall) vs float16 rows \(floatRecall)")
        let bytes = statistics.reduce(0) { $0 + $1.bytesRead }
        let floatBytes = floatStatistics.reduce(0) { $0 + $1.bytesRead }
        // 80 bytes an entry instead of 772 (float16 × 384 + id), plus the re-ranked rows.
        #expect(Double(bytes) < 0.5 * Double(floatBytes), "bytes read: rabitq \(bytes), float16 \(floatBytes)")
        print("rabitq recall@10 \(recall) (float16 rows \(floatRecall)), bytes read \(bytes) vs \(floatBytes)")
    }

    @Test func distancesAreExactAndEveryIOPathAgrees() throws {
        let reference = try Index.open(at: Self.examplePath)
        let others = try [Index.IOMode.mmap, .direct, .memory].map { try Index.open(at: Self.examplePath, options: .init(io: $0)) }
        let base = try VectorFile(path: BundledExample.base).readVectors()
        let (table, _) = try reference.search(IndexFixture.queries, k: 10, threads: 2)
        for q in 0..<40 {
            let query = IndexFixture.queries.floats(at: q)
            let hits = try reference.search(query, k: 10)
            #expect(hits.map(\.id) == Array(table.ids(of: q)))
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            for hit in hits.prefix(3) {
                let exact = Distance.between(query, base.floats(at: Int(hit.id)), metric: .l2)
                #expect(abs(exact - hit.distance) < 1e-3 * max(1, exact), "id \(hit.id): \(hit.distance) vs \(exact)")
            }
            for other in others {
                // O_DIRECT re-ranks every candidate kept (its reads are in flight together), the
                // others stop at the first past the k-th distance: the same answer either way.
                #expect(try other.search(query, k: 10).map(\.id) == hits.map(\.id))
            }
        }
    }

    /// Every metric the kernels estimate: l2, inner product, and cosine through unit vectors.
    @Test(arguments: [Metric.l2, .innerProduct, .cosine])
    func everyMetricRanksLikeTheFloatIndex(metric: Metric) throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 2_000, dimension: 40, seed: 23, in: dir)
        var options = IndexBuilder.Options()
        options.metric = metric
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/f32")
        options.postings = .rabitq
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/rabitq")
        let floats = try Index.open(at: dir + "/f32")
        let codes = try Index.open(at: dir + "/rabitq")
        let rows = try VectorFile(path: vectors).readVectors()
        var same = 0
        for q in stride(from: 0, to: 300, by: 3) {
            let a = try floats.search(rows.floats(at: q), k: 10)
            let b = try codes.search(rows.floats(at: q), k: 10)
            if metric != .innerProduct { #expect(b.first?.id == Int64(q), "a vector is its own nearest neighbour") }
            // Distances are exact (re-ranked), so both report the same value for the same id.
            for hit in b { if let twin = a.first(where: { $0.id == hit.id }) { #expect(abs(twin.distance - hit.distance) < 1e-4) } }
            same += Set(a.map(\.id)).intersection(b.map(\.id)).count
        }
        #expect(same >= 100 * 10 * 97 / 100, "\(metric): top-10 overlap with the float32 index: \(same) of 1000")
    }

    @Test func integerInputIsRefused() throws {
        let dir = IndexFixture.scratch()
        let vectors = try IndexFixture.uint8File(in: dir)
        var options = IndexBuilder.Options()
        options.postings = .rabitq
        #expect(throws: BuildError.self) { try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx") }
    }

    @Test func aMislabelledOrCorruptIndexIsRefused() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 500, dimension: 24, seed: 29, in: dir)
        var options = IndexBuilder.Options()
        options.postings = .rabitq
        let path = dir + "/idx"
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: path)
        let index = try Index.open(at: path)
        #expect(try index.verify().vectors == 500)
        // Codes read as version-1 rows would rank garbage: refused (the checksum too, so the
        // manifest is re-checksummed as a careless editor's tool would not).
        let manifestPath = path + "/" + IndexLayout.manifest
        let original = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try original.replacingOccurrences(of: "\"formatVersion\" : 3", with: "\"formatVersion\" : 1")
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let failure = IndexFixture.openFailure(path)
        #expect(failure?.contains("rabitq") == true || failure?.contains("checksum") == true, "\(failure ?? "opened")")
        try original.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        // A flipped bit in a code changes estimates: the list's checksum catches it on read.
        let postings = path + "/" + IndexLayout.postings
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: postings)))
        bytes[IndexLayout.pageSize + 200] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: postings))
        #expect(throws: IndexError.self) { try Index.open(at: path).verify() }
    }
}
