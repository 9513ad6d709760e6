import Foundation
import Swann
@_spi(Engine) import SwannCore
import SwannStorage
import SwannTestSupport
import Testing

struct BuildTests {
    @Test func manifestDescribesTheBuild() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let m = index.manifest
        #expect(m.vectorCount == 10_000 && m.dimension == 384)
        #expect(m.rabitq?.dimension == 384, "float input gets RaBitQ codes by default")
        #expect(m.elementType == .float32 && m.inputElementType == .float16, "the exact rows are kept as float32")
        #expect(abs(Double(m.centroidCount) - 1600) <= 80, "centroids ≈ 16% of the rows: \(m.centroidCount)")
        #expect(m.copyHistogram[0] == 0, "every vector is in at least one list")
        #expect(m.copyHistogram.reduce(0, +) == 10_000)
        #expect(m.copyHistogram.count == m.build.assignment.replicaCount + 1)
        let copies = Double(m.postingEntryCount) / Double(m.vectorCount)
        #expect(copies > 2 && copies <= 8, "replicas per vector: \(copies)")
        #expect(
            Set(m.files.map(\.name)) == [IndexLayout.centroids, IndexLayout.graph, IndexLayout.postings, IndexLayout.directory, IndexLayout.vectors]
        )
    }

    @Test func postingsArePageAlignedAndCapped() throws {
        let header = try IndexReader.open(IndexFixture.examplePath)
        let limit = header.manifest.build.assignment.postingLimit
        for location in header.directory {
            #expect(location.offset % Int64(IndexLayout.pageSize) == 0)
            #expect(location.entryCount >= 1)
        }
        // Only primaries may exceed the cap, and balanced clustering keeps lists far below it.
        #expect(header.directory.map(\.entryCount).max()! <= limit)
    }

    @Test func existingOutputIsRefusedWithoutForce() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 300, dimension: 8, seed: 1, in: dir)
        try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        let error = #expect(throws: IndexError.self) {
            try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        }
        #expect(error?.code == .alreadyExists)
        var force = IndexBuilder.Options()
        force.overwrite = true
        try IndexBuilder(options: force).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        #expect(try Index.open(at: dir + "/idx").count == 300)
    }

    @Test func leftoversOfAKilledBuildAreCleanedAndNeverVisible() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 300, dimension: 8, seed: 2, in: dir)
        // A build killed half-way leaves only its hidden temporary directory (pid 999999 is not running).
        let leftover = dir + "/.idx.tmp-999999"
        try FileManager.default.createDirectory(atPath: leftover, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: leftover + "/postings.bin", contents: Data([1, 2, 3]))
        #expect(throws: IndexError.self) { try Index.open(at: dir + "/idx") }
        try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["idx", "v.fbin"])
    }

    @Test func nanRowsAreNamedOrSkipped() throws {
        let dir = IndexFixture.scratch()
        var rows = (0..<200).map { i in (0..<4).map { Float(i * 4 + $0) } }
        rows[57][2] = .nan
        try VectorFileWriter.write(try VectorMatrix.from(rows), to: dir + "/v.fbin")
        let error = #expect(throws: BuildError.self) {
            try IndexBuilder(options: .init()).build(from: try VectorFile(path: dir + "/v.fbin"), to: dir + "/idx")
        }
        #expect(error?.message.contains("row 57") == true)
        var options = IndexBuilder.Options()
        options.skipInvalid = true
        let manifest = try IndexBuilder(options: options).build(from: try VectorFile(path: dir + "/v.fbin"), to: dir + "/idx")
        #expect(manifest.skippedRows == 1 && manifest.vectorCount == 199)
        // Row numbers stay those of the input file.
        let hit = try Index.open(at: dir + "/idx").search(rows[58], k: 1)
        #expect(hit.first?.id == 58)
    }

    @Test func badIDsAreRefused() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 100, dimension: 4, seed: 3, in: dir)
        var options = IndexBuilder.Options()
        options.ids = Array(0..<99)
        #expect(throws: BuildError.self) { try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/a") }
        options.ids = Array(0..<99) + [5]
        let duplicate = #expect(throws: BuildError.self) {
            try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/b")
        }
        #expect(duplicate?.message.contains("duplicate id 5") == true)
    }

    @Test func missingParentDirectoryIsRefusedBeforeAnyWork() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 100, dimension: 4, seed: 8, in: dir)
        let error = #expect(throws: IndexError.self) {
            try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/missing/idx")
        }
        #expect(error?.path == dir + "/missing")
        #expect(error?.description.contains("does not exist") == true)
    }

    @Test func tooFewVectorsAreRefused() throws {
        let dir = IndexFixture.scratch()
        try VectorFileWriter.write(try VectorMatrix.from([[1, 2]]), to: dir + "/one.fbin")
        #expect(throws: BuildError.self) { try IndexBuilder(options: .init()).build(from: try VectorFile(path: dir + "/one.fbin"), to: dir + "/idx") }
    }

    @Test func float16StorageHalvesPostingBytes() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 800, dimension: 32, seed: 4, in: dir)
        var options = IndexBuilder.Options()
        options.postings = .rows(nil)
        let full = try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/f32")
        options.postings = .rows(.float16)
        let half = try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/f16")
        #expect(half.elementType == .float16)
        #expect(half.postingEntryCount == full.postingEntryCount, "same seed, same assignment")
        // The bytes themselves: each list is 4-byte ids then rows, so the row bytes halve exactly.
        func rowBytes(_ path: String) throws -> Int {
            try IndexReader.open(path).directory.reduce(0) { $0 + $1.byteCount - 4 * $1.entryCount }
        }
        let (fullRows, halfRows) = (try rowBytes(dir + "/f32"), try rowBytes(dir + "/f16"))
        #expect(fullRows == full.postingEntryCount * 32 * 4)
        #expect(halfRows * 2 == fullRows)
        let halfIndex = try Index.open(at: dir + "/f16")
        let query = try VectorFile(path: vectors).readVectors().floats(at: 9)
        #expect(try halfIndex.search(query, k: 1).first?.id == 9)
        // A component float16 cannot hold is refused, not rounded to ∞.
        let error = #expect(throws: SearchError.self) { try halfIndex.search([70_000] + query.dropFirst(), k: 1) }
        #expect(error?.code == .outOfRange)
    }

    @Test func buildsAreReproducible() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 700, dimension: 12, seed: 6, in: dir)
        let a = try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/a")
        let b = try IndexBuilder(options: .init()).build(from: try VectorFile(path: vectors), to: dir + "/b")
        #expect(a.files.map(\.checksum) == b.files.map(\.checksum))
    }
}
