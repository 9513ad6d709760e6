public import SwannStorage

extension Index {
    /// What a full verification found.
    public struct Verification: Sendable, Hashable {
        /// Posting lists read, each checked against its own checksum.
        public var lists = 0
        /// Posting entries read.
        public var entries = 0
        /// Vectors found in at least one list (all of them, or verification fails).
        public var vectors = 0
    }

    /// Reads every byte an answer can depend on and checks it (slow: the whole posting file):
    /// the posting file against the manifest's checksum, every list against its own, and the
    /// structure — every entry a valid row, no row twice in a list, every row in some list, no
    /// user id twice. What `open` checks already (manifest, centroids, graph, directory, ids,
    /// exact rows) is not repeated.
    /// - Throws: `IndexError` naming the file and what is wrong.
    public func verify() throws(IndexError) -> Verification {
        try IndexReader.verifyPostings(path, manifest: manifest)
        let postings = IndexLayout.path(IndexLayout.postings, in: path)
        var result = Verification()
        var covered = [Bool](repeating: false, count: count)
        let buffer = PostingBuffer()
        defer { withExtendedLifetime(buffer) {} }  // each view points into it
        var seen = Set<UInt32>()
        for list in 0..<header.directory.count {
            buffer.reserve(header.directory[list].byteCount)
            let view = try store.read(list, into: buffer, verify: true)
            seen.removeAll(keepingCapacity: true)
            for i in 0..<view.count {
                let row = view.ids[i]
                guard Int(row) < count else {
                    throw IndexError(.inconsistent, path: postings, detail: "list \(list) holds row \(row), but the index has \(count) vectors")
                }
                guard seen.insert(row).inserted else {
                    throw IndexError(.inconsistent, path: postings, detail: "list \(list) holds row \(row) twice")
                }
                covered[Int(row)] = true
            }
            result.lists += 1
            result.entries += view.count
        }
        result.vectors = covered.count { $0 }
        if let lost = covered.firstIndex(of: false) {
            throw IndexError(.inconsistent, path: postings, detail: "row \(lost) is in no posting list (\(count - result.vectors) rows are)")
        }
        if let ids = header.idMap {
            var unique = Set<UInt64>(minimumCapacity: ids.count)
            if let duplicate = ids.first(where: { !unique.insert($0).inserted }) {
                throw IndexError(.inconsistent, path: IndexLayout.path(IndexLayout.idMap, in: path), detail: "id \(duplicate) is stored twice")
            }
        }
        return result
    }
}
