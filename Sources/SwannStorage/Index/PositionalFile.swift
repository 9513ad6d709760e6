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
