import Foundation
import Swann
import SwannTestSupport
import Testing

/// Every index file with a flipped byte or cut short is reported by name when opened or searched.
struct CorruptionTests {
    func freshIndex() throws -> (String, [Float]) {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 500, dimension: 16, seed: 11, in: dir)
        var options = IndexBuilder.Options()
        options.ids = (0..<500).map { UInt64($0) + 7 }
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        return (dir + "/idx", try VectorFile(path: vectors).readVectors().floats(at: 0))
    }

    func mutate(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Opens and searches; returns the error's description.
    func failure(_ index: String, query: [Float]) -> String? {
        do {
            let opened = try Index.open(at: index)
            var everything = SearchParameters()
            everything.maxPostings = 10_000
            everything.searchCandidates = 10_000
            everything.maxDistanceRatio = nil
            _ = try opened.search(query, k: 5, parameters: everything)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [IndexLayout.centroids, IndexLayout.graph, IndexLayout.postings, IndexLayout.directory, IndexLayout.idMap])
    func flippedByteIsReportedByName(file: String) throws {
        for position in [0.0, 0.3, 0.999] {
            let (index, query) = try freshIndex()
            try mutate(index + "/" + file) { bytes in
                let at = min(bytes.count - 1, Int(Double(bytes.count) * position))
                bytes[at] ^= 0x20
            }
            let message = failure(index, query: query)
            // A flip in page padding of the posting file changes nothing that is read: allowed.
            if file == IndexLayout.postings, message == nil { continue }
            #expect(message?.contains(file) == true, "\(file) at \(position): \(message ?? "accepted")")
        }
    }

    @Test(arguments: [IndexLayout.centroids, IndexLayout.graph, IndexLayout.postings, IndexLayout.directory, IndexLayout.idMap, IndexLayout.manifest])
    func truncatedFileIsReportedByName(file: String) throws {
        let (index, query) = try freshIndex()
        try mutate(index + "/" + file) { bytes in bytes.removeLast(bytes.count / 3 + 1) }
        let message = failure(index, query: query)
        #expect(message?.contains(file) == true, "\(message ?? "accepted")")
    }

    @Test func missingFileAndUnknownVersion() throws {
        let (index, query) = try freshIndex()
        try FileManager.default.removeItem(atPath: index + "/" + IndexLayout.graph)
        #expect(failure(index, query: query)?.contains(IndexLayout.graph) == true)
        let (other, _) = try freshIndex()
        try mutate(other + "/" + IndexLayout.manifest) { bytes in
            let text = String(decoding: bytes, as: UTF8.self).replacing(/"formatVersion" : \d+/, with: "\"formatVersion\" : 99")
            bytes = Array(text.utf8)
        }
        let message = failure(other, query: query)
        #expect(message?.contains("version 99") == true, "\(message ?? "accepted")")
        #expect(failure("/nonexistent/index", query: query)?.contains("no index here") == true)
    }

    @Test(arguments: [Index.IOMode.mmap, .pread, .direct])
    func postingCorruptedWhileOpenFailsThatQueryOnly(io: Index.IOMode) throws {
        let (index, query) = try freshIndex()
        let opened = try Index.open(at: index, options: .init(io: io))
        let before = try opened.search(query, k: 5)
        let header = try IndexReader.open(index)
        // Corrupt every list's first byte in place (same inode, as a disk error would).
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: index + "/" + IndexLayout.postings))
        for location in header.directory {
            try handle.seek(toOffset: UInt64(location.offset))
            let byte = try handle.read(upToCount: 1)!
            try handle.seek(toOffset: UInt64(location.offset))
            handle.write(Data([byte[0] ^ 0xFF]))
        }
        try handle.close()
        var strict = opened.defaultParameters
        strict.checksums = .everyRead
        let error = #expect(throws: SearchError.self) { try opened.search(query, k: 5, parameters: strict) }
        #expect(error?.code == .indexCorrupt)
        #expect(error?.message.contains(IndexLayout.postings) == true)
        #expect(!before.isEmpty)
        // A fresh open verifies each list on its first read and reports the corruption too.
        let reopened = try Index.open(at: index, options: .init(io: io))
        #expect(throws: SearchError.self) { try reopened.search(query, k: 5) }
    }

    /// `serve --io mmap` once died with SIGBUS when postings.bin was truncated while serving;
    /// now every I/O mode answers with an error naming the file, and keeps serving other indexes.
    @Test(arguments: Index.IOMode.allCases)
    func postingsTruncatedWhileOpenAreAnErrorNotACrash(io: Index.IOMode) throws {
        let (index, query) = try freshIndex()
        let opened = try Index.open(at: index, options: .init(io: io))
        #expect(try !opened.search(query, k: 5).isEmpty)
        let path = index + "/" + IndexLayout.postings
        #expect(truncate(path, off_t(IndexLayout.pageSize)) == 0)
        if io == .memory {
            // The whole file was read at open: answers go on from memory.
            #expect(try !opened.search(query, k: 5).isEmpty)
            return
        }
        let error = #expect(throws: SearchError.self) { try opened.search(query, k: 5) }
        #expect(error?.message.contains(IndexLayout.postings) == true, "\(error?.message ?? "")")
    }

    /// manifest.json once had no integrity check: l2 → ip or `hasIDMap: false` changed answers
    /// silently. Now its checksum covers every field, and a key nobody knows is refused.
    @Test func anAlteredManifestIsRefusedAtOpen() throws {
        let (index, query) = try freshIndex()
        let path = index + "/" + IndexLayout.manifest
        let original = try String(contentsOfFile: path, encoding: .utf8)
        #expect(original.contains("manifestChecksum"))
        #expect(failure(index, query: query) == nil, "an intact index opens and searches")
        let edits: [(String, String, String)] = [
            (#""metric" : "l2""#, #""metric" : "ip""#, "checksum"),
            (#""hasIDMap" : true"#, #""hasIDMap" : false"#, "checksum"),
            (#""manifestChecksum""#, #""manifestChecksun""#, "unknown field manifestChecksun"),
        ]
        for (from, to, expected) in edits {
            #expect(original.contains(from), "\(from) not in the manifest")
            try original.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: false, encoding: .utf8)
            let message = failure(index, query: query)
            #expect(message?.contains(expected) == true && message?.contains(IndexLayout.manifest) == true, "\(to): \(message ?? "opened")")
        }
        // An index from before the checksum existed (no field at all) still opens.
        let lines = original.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("manifestChecksum") }
        try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(failure(index, query: query) == nil)
    }
}
