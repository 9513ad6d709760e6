import SwannCore

/// Reads single exact rows from `vectors.bin` (indexes whose postings hold int8 codes), for
/// re-ranking a query's best candidates. One `pread` per row through the page cache, or with
/// O_DIRECT the aligned page span that covers it (the cold path, like the posting reads).
public final class ExactRowStore: Sendable {
    /// Bytes per row (float32 × dimension).
    public let rowBytes: Int
    public let count: Int
    private let file: PositionalFile

    /// Opens `vectors.bin` of an index whose header `IndexReader.open` has checked.
    public init(indexPath: String, header: IndexHeader, directIO: Bool) throws(IndexError) {
        file = try PositionalFile(path: indexPath + "/" + IndexLayout.vectors, directIO: directIO)
        rowBytes = header.manifest.dimension * 4
        count = header.manifest.vectorCount
    }

    public var path: String { file.path }
    public var directIO: Bool { file.directIO }

    /// The bytes a buffer needs for any one row.
    public var bufferBytes: Int { IndexLayout.align(rowBytes, to: IndexLayout.pageSize) + IndexLayout.pageSize }

    /// Reads row `row` into `buffer` and returns where it starts.
    public func read(_ row: Int, into buffer: PostingBuffer) throws(IndexError) -> UnsafeRawPointer {
        precondition(row >= 0 && row < count, "row \(row) outside 0..<\(count)")
        let offset = IndexLayout.pageSize + row * rowBytes
        let start = directIO ? offset & ~(IndexLayout.pageSize - 1) : offset
        let bytes = directIO ? IndexLayout.align(offset + rowBytes, to: IndexLayout.pageSize) - start : rowBytes
        buffer.reserve(bytes)
        try file.read(into: buffer.base, bytes: bytes, at: start, minimum: offset - start + rowBytes, what: "row \(row)")
        return UnsafeRawPointer(buffer.base + (offset - start))
    }
}
