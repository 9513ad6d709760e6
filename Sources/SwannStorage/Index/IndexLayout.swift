/// File names inside an index directory and the constants of the format. docs/FORMAT.md
/// documents every byte.
public enum IndexLayout {
    public static let manifest = "manifest.json"
    public static let centroids = "centroids.bin"
    public static let graph = "graph.bin"
    public static let postings = "postings.bin"
    public static let directory = "postings.dir"
    public static let idMap = "ids.bin"
    /// The exact float32 rows, in row order, of an index whose postings hold int8 codes.
    public static let vectors = "vectors.bin"

    /// Posting lists start on multiples of this, so each is one aligned sequential read.
    public static let pageSize = 4096
    /// Bytes per posting-directory entry: offset u64, bytes u32, entries u32, checksum u64, zero u64.
    public static let directoryEntrySize = 32

    /// `value` rounded up to a multiple of `alignment` (a power of two).
    @inlinable
    public static func align(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) & ~(alignment - 1)
    }
}

/// Where one posting list lives in `postings.bin`.
public struct PostingLocation: Sendable, Hashable {
    /// Byte offset, a multiple of the page size.
    public var offset: Int64
    /// Bytes of the list (ids then vectors), before page padding.
    public var byteCount: Int
    /// Entries in the list.
    public var entryCount: Int
    /// `Checksum.of` the list's bytes.
    public var checksum: UInt64

    public init(offset: Int64, byteCount: Int, entryCount: Int, checksum: UInt64) {
        self.offset = offset
        self.byteCount = byteCount
        self.entryCount = entryCount
        self.checksum = checksum
    }
}
