import SwannCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads single exact rows from `vectors.bin` (indexes whose postings hold int8 codes), for
/// re-ranking a query's best candidates. One `pread` per row through the page cache, or with
/// O_DIRECT the aligned page span that covers it (the cold path, like the posting reads).
public final class ExactRowStore: Sendable {
    public let path: String
    public let directIO: Bool
    /// Bytes per row (float32 × dimension).
    public let rowBytes: Int
    public let count: Int
    private let descriptor: FileDescriptor

    /// Opens `vectors.bin` of an index whose header `IndexReader.open` has checked.
    public init(indexPath: String, header: IndexHeader, directIO: Bool) throws(IndexError) {
        path = indexPath + "/" + IndexLayout.vectors
        rowBytes = header.manifest.dimension * 4
        count = header.manifest.vectorCount
        self.directIO = directIO
        var options: FileDescriptor.OpenOptions = [.closeOnExec]
        if directIO { options.insert(FileDescriptor.OpenOptions(rawValue: FilePostingStore.directFlag)) }
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: options)
        } catch {
            throw IndexError(.missing, path: path, detail: "cannot open\(directIO ? " with O_DIRECT" : ""): \(error)")
        }
    }

    deinit { try? descriptor.close() }

    /// The bytes a buffer needs for any one row.
    public var bufferBytes: Int { IndexLayout.align(rowBytes, to: IndexLayout.pageSize) + IndexLayout.pageSize }

    /// Reads row `row` into `buffer` (at least `bufferBytes`) and returns where it starts.
    public func read(_ row: Int, into buffer: PostingBuffer) throws(IndexError) -> UnsafeRawPointer {
        precondition(row >= 0 && row < count, "row \(row) outside 0..<\(count)")
        let offset = IndexLayout.pageSize + row * rowBytes
        let start = directIO ? offset & ~(IndexLayout.pageSize - 1) : offset
        let bytes = directIO ? IndexLayout.align(offset + rowBytes, to: IndexLayout.pageSize) - start : rowBytes
        buffer.reserve(bytes)
        var done = 0
        while done < bytes {
            let n = pread(descriptor.rawValue, buffer.base + done, bytes - done, off_t(start + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw IndexError(.ioFailure, path: path, offset: Int64(start + done), detail: "read of row \(row) failed: \(String(cString: strerror(errno)))")
            }
            guard n > 0 else {
                throw IndexError(.truncated, path: path, offset: Int64(start + done), detail: "row \(row) ends early: the file was cut short")
            }
            done += n
            // O_DIRECT may return less at the end of the file; the row itself is what must be there.
            if directIO, done >= offset - start + rowBytes { break }
        }
        return UnsafeRawPointer(buffer.base + (offset - start))
    }
}
