@_spi(Engine) import SwannCore

/// Reads single exact rows from `vectors.bin` (indexes whose postings hold int8 or RaBitQ
/// codes), for re-ranking a query's best candidates. One `pread` per row through the page cache,
/// or with O_DIRECT the aligned span that covers it (the cold path, like the posting
/// reads), or straight out of a memory map (`mapped`: no system call per row, but the rows
/// touched count in the process's resident memory).
package final class ExactRowStore: Sendable {
    /// Bytes per row (float32 × dimension).
    package let rowBytes: Int
    package let count: Int
    private let file: PositionalFile
    /// With O_DIRECT, a query's row reads go out together through one of these.
    private let batches: ReadBatchPool?
    /// The file mapped, when rows are read from memory.
    private let map: MappedFile?

    /// Opens `vectors.bin` of an index whose header `IndexReader.open` has checked.
    /// - Parameter mapped: read rows from a memory map instead of `pread` (not with `directIO`).
    package init(indexPath: String, header: IndexHeader, directIO: Bool, mapped: Bool = false) throws(IndexError) {
        let path = IndexLayout.path(IndexLayout.vectors, in: indexPath)
        file = try PositionalFile(path: path, directIO: directIO)
        rowBytes = header.manifest.dimension * 4
        count = header.manifest.vectorCount
        batches = directIO ? ReadBatchPool() : nil
        map = mapped && !directIO ? try MappedFile(path: path) : nil
        if let map, map.length < IndexLayout.pageSize + count * rowBytes {
            throw IndexError(.truncated, path: path, offset: Int64(map.length), detail: "rows extend past the end of the file")
        }
    }

    package var path: String { file.path }
    package var directIO: Bool { file.directIO }

    /// The bytes a buffer needs for any one row.
    package var bufferBytes: Int { IndexLayout.align(rowBytes, to: IndexLayout.pageSize) + IndexLayout.pageSize }

    /// Reads row `row` into `buffer` and returns where it starts.
    package func read(_ row: Int, into buffer: PostingBuffer) throws(IndexError) -> UnsafeRawPointer {
        if let map {
            try map.checkSize()
            return mappedRow(row, in: map)
        }
        let span = span(of: row)
        buffer.reserve(span.length)
        try file.read(into: buffer.base, bytes: span.length, at: span.start, minimum: span.skip + rowBytes, what: "row \(row)")
        return UnsafeRawPointer(buffer.base + span.skip)
    }

    /// The bytes reading one row takes from the file: the row, or with O_DIRECT the aligned span
    /// around it (rows of 384 float32 start on 512-byte boundaries, so it is the row where the
    /// device takes 512-byte sectors). What a query's `bytesRead` counts.
    package func bytesRead(for row: Int) -> Int { map == nil ? span(of: row).length : rowBytes }

    /// Reads `count` rows (`row(i)` for i in 0..<count) and calls `each(i, row bytes)` for each,
    /// in any order; stops early when `each` returns false. Rows are valid during their call
    /// only. With O_DIRECT (and kernel AIO) the reads are in flight together.
    package func read(
        count: Int,
        row: (Int) -> Int,
        into buffer: PostingBuffer,
        each: (Int, UnsafeRawPointer) -> Bool
    ) throws(IndexError) {
        if let map {
            try map.checkSize()
            for i in 0..<count {
                guard each(i, mappedRow(row(i), in: map)) else { return }
            }
            return
        }
        guard let batches, count > 1 else {
            return try readOneByOne(count: count, row: row, into: buffer, each: each)
        }
        try batches.withBatch { (batch) throws(IndexError) in
            guard let batch else { return try readOneByOne(count: count, row: row, into: buffer, each: each) }
            try read(count: count, row: row, into: buffer, batch: batch, each: each)
        }
    }

    private func readOneByOne(count: Int, row: (Int) -> Int, into buffer: PostingBuffer, each: (Int, UnsafeRawPointer) -> Bool) throws(IndexError) {
        for i in 0..<count {
            guard each(i, try read(row(i), into: buffer)) else { return }
        }
    }

    private func read(
        count: Int,
        row: (Int) -> Int,
        into buffer: PostingBuffer,
        batch: ReadBatch,
        each: (Int, UnsafeRawPointer) -> Bool
    ) throws(IndexError) {
        buffer.reserve(count * bufferBytes)
        batch.reads.removeAll(keepingCapacity: true)
        for i in 0..<count {
            let span = span(of: row(i))
            batch.reads.append(
                ReadBatch.Read(
                    offset: span.start,
                    bytes: span.length,
                    minimum: span.skip + rowBytes,
                    destination: buffer.base + i * bufferBytes
                )
            )
        }
        try batch.perform(on: file, what: { "row \(row($0))" }) { (i: Int) throws(IndexError) -> Bool in
            each(i, UnsafeRawPointer(buffer.base + i * bufferBytes + span(of: row(i)).skip))
        }
    }

    private func mappedRow(_ row: Int, in map: MappedFile) -> UnsafeRawPointer {
        precondition(row >= 0 && row < count, "row \(row) outside 0..<\(count)")
        return map.base + IndexLayout.pageSize + row * rowBytes
    }

    /// Where row `row` is read from: `length` bytes at `start`, the row beginning `skip` bytes
    /// in. With O_DIRECT the span is widened to the file's direct-I/O alignment.
    private func span(of row: Int) -> (start: Int, length: Int, skip: Int) {
        precondition(row >= 0 && row < count, "row \(row) outside 0..<\(count)")
        return file.span(offset: IndexLayout.pageSize + row * rowBytes, bytes: rowBytes)
    }
}
