import CSwannLinuxAIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only index file read at offsets with `pread`, through the page cache or with O_DIRECT:
/// what `FilePostingStore` and `ExactRowStore` share. (swift-system's `read(fromAbsoluteOffset:)`
/// is one `pread`; this adds the retry on EINTR and short reads, and errors naming the file.)
package final class PositionalFile: Sendable {
    package let path: String
    package let directIO: Bool
    /// With O_DIRECT, the alignment of every read's offset, size and buffer: what the file system
    /// reports (statx), at least 512 and at most a page; a page where it does not say.
    package let directAlignment: Int
    let descriptor: FileDescriptor

    package static let directFlag = swann_o_direct()

    /// Opens `path` read-only, with O_DIRECT when `directIO`.
    package init(path: String, directIO: Bool) throws(IndexError) {
        self.path = path
        self.directIO = directIO
        var options: FileDescriptor.OpenOptions = [.closeOnExec]
        if directIO { options.insert(FileDescriptor.OpenOptions(rawValue: Self.directFlag)) }
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: options)
        } catch {
            throw IndexError(.missing, path: path, detail: "cannot open\(directIO ? " with O_DIRECT" : ""): \(error)")
        }
        directAlignment = directIO ? Self.alignment(reported: swann_direct_io_alignment(descriptor.rawValue)) : 1
    }

    /// A reported O_DIRECT alignment made safe to use: a power of two in 512...pageSize, or a page.
    package static func alignment(reported: Int) -> Int {
        guard reported > 0, reported & (reported - 1) == 0 else { return IndexLayout.pageSize }
        return min(max(reported, 512), IndexLayout.pageSize)
    }

    /// Where `bytes` at `offset` are read from: `length` bytes at `start`, the data beginning
    /// `skip` bytes in. With O_DIRECT the span is widened to `directAlignment` on both ends;
    /// otherwise it is the data itself.
    package func span(offset: Int, bytes: Int) -> (start: Int, length: Int, skip: Int) {
        guard directIO else { return (offset, bytes, 0) }
        let start = offset & ~(directAlignment - 1)
        return (start, IndexLayout.align(offset + bytes, to: directAlignment) - start, offset - start)
    }

    deinit { try? descriptor.close() }

    /// Reads `bytes` at `offset` into `destination`. The end of the file may cut the read short
    /// once `minimum` bytes are in (an O_DIRECT read rounded up past the last page).
    /// - Parameter what: names the data in errors ("list 7", "row 42"); built only on failure.
    package func read(
        into destination: UnsafeMutableRawPointer,
        bytes: Int,
        at offset: Int,
        minimum: Int? = nil,
        what: @autoclosure () -> String
    ) throws(IndexError) {
        var done = 0
        while done < bytes {
            let n = pread(descriptor.rawValue, destination + done, bytes - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw IndexError(
                    .ioFailure,
                    path: path,
                    offset: Int64(offset + done),
                    detail: "read of \(what()) failed: \(String(cString: strerror(errno)))"
                )
            }
            if n == 0 {
                if done >= (minimum ?? bytes) { return }
                throw IndexError(.truncated, path: path, offset: Int64(offset + done), detail: "\(what()) ends early: the file was cut short")
            }
            done += n
        }
    }
}
