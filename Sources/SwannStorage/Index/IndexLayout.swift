/// File names inside an index directory and the constants of the format. docs/FORMAT.md
/// documents every byte.
package enum IndexLayout {
    package static let manifest = "manifest.json"
    package static let centroids = "centroids.bin"
    package static let graph = "graph.bin"
    package static let postings = "postings.bin"
    package static let directory = "postings.dir"
    package static let idMap = "ids.bin"
    /// The exact float32 rows, in row order, of an index whose postings hold int8 codes.
    package static let vectors = "vectors.bin"

    /// The path of file `name` inside the index directory `index`.
    package static func path(_ name: String, in index: String) -> String {
        index.hasSuffix("/") ? index + name : index + "/" + name
    }

    /// A centroid's row once that row has been deleted (`centroids.bin`).
    package static let noRow = UInt32.max

    /// Posting lists start on multiples of this, so each is one aligned sequential read.
    package static let pageSize = 4096
    /// Bytes per posting-directory entry: offset u64, bytes u32, entries u32, checksum u64, zero u64.
    package static let directoryEntrySize = 32

    /// `value` rounded up to a multiple of `alignment` (a power of two).
    @inlinable
    package static func align(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) & ~(alignment - 1)
    }
}

/// Where one posting list lives in `postings.bin`.
package struct PostingLocation: Sendable, Hashable {
    /// Byte offset, a multiple of the page size.
    package var offset: Int64
    /// Bytes of the list (ids then vectors), before page padding.
    package var byteCount: Int
    /// Entries in the list.
    package var entryCount: Int
    /// `Checksum.of` the list's bytes.
    package var checksum: UInt64

    package init(offset: Int64, byteCount: Int, entryCount: Int, checksum: UInt64) {
        self.offset = offset
        self.byteCount = byteCount
        self.entryCount = entryCount
        self.checksum = checksum
    }
}
