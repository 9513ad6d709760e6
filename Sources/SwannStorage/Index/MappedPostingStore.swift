import SwannCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads posting lists straight out of a read-only memory map of `postings.bin`: the page
/// cache without the copy. On minilm-100k at 64 lists per query a `pread` into a buffer moved
/// 4.4 MB per query through memory twice (kernel copy, then the scan) and the copy was a quarter
/// of the query time; mapped, the scan reads the cached pages once. Still one sequential,
/// page-aligned extent per list.
package final class MappedPostingStore: PostingStore, @unchecked Sendable {
    package let locations: [PostingLocation]
    package let path: String
    private let base: UnsafeRawPointer
    private let length: Int
    /// Kept open to check the file's size: touching a mapped page past the end of a file that
    /// was truncated in place raises SIGBUS, which Swift cannot catch.
    private let descriptor: Int32

    package init(indexPath: String, header: IndexHeader) throws(IndexError) {
        path = IndexLayout.path(IndexLayout.postings, in: indexPath)
        locations = header.directory
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
        if let last = locations.max(by: { $0.offset < $1.offset }), Int(last.offset) + last.byteCount > length {
            munmap(mapped, length)
            throw IndexError(.truncated, path: path, offset: Int64(length), detail: "posting lists extend past the end of the file")
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
        close(descriptor)
    }

    /// Refuses to touch the map once the file is shorter than it: a file cut short in place
    /// would otherwise kill the process with SIGBUS. One `fstat` per query (about a
    /// microsecond); a truncation racing with a read between the check and the access is not
    /// caught, which is why docs/RELIABILITY.md says to replace an index, never truncate it.
    private func checkSize() throws(IndexError) {
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

    package func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        verify: (Int) -> Bool,
        inOrder: Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError) {
        try checkSize()
        for list in lists {
            guard each(list, try mappedView(list, verify: verify(list))) else { return }
        }
    }

    package func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView {
        try checkSize()
        return try mappedView(list, verify: verify)
    }

    /// The view of list `list` in the map (after `checkSize`).
    private func mappedView(_ list: Int, verify: Bool) throws(IndexError) -> PostingView {
        // `view` only reads through the pointer.
        try view(list, at: UnsafeMutableRawPointer(mutating: base + Int(locations[list].offset)), verify: verify, path: path)
    }
}
