#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole index file, with the check that keeps a file truncated
/// in place from killing the process: touching a mapped page past the end of a file raises
/// SIGBUS, which Swift cannot catch.
package final class MappedFile: @unchecked Sendable {  // immutable after init; the map is read-only
    package let path: String
    /// The first byte of the map.
    package let base: UnsafeRawPointer
    /// Bytes mapped (the file's size at open).
    package let length: Int
    /// Kept open to check the file's size.
    private let descriptor: Int32

    /// Maps the file at `path`.
    /// - Throws: `IndexError` if it cannot be opened or mapped, or is empty.
    package init(path: String) throws(IndexError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IndexError(.missing, path: path, detail: "cannot open: \(String(cString: strerror(errno)))") }
        var keepOpen = false
        defer { if !keepOpen { close(fd) } }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { throw IndexError(.truncated, path: path, offset: 0, detail: "empty file") }
        guard let mapped = mmap(nil, Int(size), PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw IndexError(.ioFailure, path: path, detail: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        length = Int(size)
        descriptor = fd
        keepOpen = true
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
        close(descriptor)
    }

    /// Refuses to touch the map once the file is shorter than it. One `fstat` per query (about
    /// a microsecond); a truncation racing with a read between the check and the access is not
    /// caught, which is why docs/RELIABILITY.md says to replace an index, never truncate it.
    package func checkSize() throws(IndexError) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw IndexError(.ioFailure, path: path, detail: "fstat failed: \(String(cString: strerror(errno)))")
        }
        guard Int(status.st_size) >= length else {
            throw IndexError(
                .truncated,
                path: path,
                offset: Int64(status.st_size),
                detail:
                    "the file shrank from \(length) to \(status.st_size) bytes while mapped; it was truncated in place (replace an index directory instead)"
            )
        }
    }
}
